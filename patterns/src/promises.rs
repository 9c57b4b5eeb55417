//! The promises every pattern makes, checked after the faults heal and the
//! run drains. `ecsim explore` hunts for fault mixes that break them.

pub use crate::invariants::Promise;
use crate::report::RunReport;

/// The promises a finished run broke, each with what was seen.
pub fn broken(r: &RunReport) -> Vec<(Promise, String)> {
    let mut out = Vec::new();
    if r.data_loss > 0 {
        out.push((Promise::NoDataLoss, format!("{} customers who never unsubscribed lost a row", r.data_loss)));
    }
    let repaired = r.counters.manual_repairs;
    if u64::from(r.inconsistent_at_end) > repaired {
        out.push((
            Promise::Convergence,
            format!(
                "{} customers inconsistent after the drain, {} counted for manual repair ({} events lost before the broker)",
                r.inconsistent_at_end, repaired, r.events_lost
            ),
        ));
    }
    let unaccounted: Vec<String> =
        r.violations.iter().filter(|v| v.promise() == Promise::Accounting).map(ToString::to_string).collect();
    if !unaccounted.is_empty() || r.pending > 0 {
        out.push((Promise::Accounting, format!("{} requests pending after the drain; {unaccounted:?}", r.pending)));
    }
    if r.counters.double_charges > 0 {
        out.push((
            Promise::NoDoubleHandling,
            format!("{} customers charged twice in one period", r.counters.double_charges),
        ));
    }
    out
}
