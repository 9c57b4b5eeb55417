//! Retiring settled requests (`workload.retire_after`) bounds a run's
//! memory and changes none of its measurements, as long as nothing reaches
//! a request after it is retired; when something does, the run says so.

use patterns::{build, PatternConfig, RunReport, Scenario, Violation};
use sim_core::{FaultSpec, SimDuration, TraceMode};

mod common;
use common::{d, t};

/// One unsubscribe a second for three hours (background sync runs hourly),
/// with a 13-second pause of Billing at 10 minutes: timeouts, retries,
/// compensations, late deletes, redeliveries.
fn scenario(retire_after: Option<SimDuration>) -> Scenario {
    let mut s = Scenario { customers: 20_000, ..Default::default() };
    s.workload.rate_per_s = 1.0;
    s.workload.duration = d("3h");
    s.workload.drain = d("2h");
    s.workload.retire_after = retire_after;
    s.faults = vec![FaultSpec::Pause { node: "billing".into(), at: t("10m"), duration: d("13s") }];
    s
}

/// Runs to the horizon; returns the report, the requests issued and the
/// records still held at the end.
fn go(s: &Scenario, p: &PatternConfig) -> (RunReport, u64, usize) {
    let mut built = build(s, p, 17, TraceMode::Off).unwrap();
    built.sim.run_until(s.horizon());
    let w = built.sim.state();
    let (issued, live) = (w.request_count(), w.live_requests());
    (RunReport::measure(s, p, &built.sim, 17, false), issued, live)
}

#[test]
fn retiring_settled_requests_changes_no_measurement_and_frees_their_records() {
    for p in PatternConfig::book_defaults() {
        let (kept, issued, all) = go(&scenario(None), &p);
        let (retired, _, live) = go(&scenario(Some(d("5m"))), &p);
        assert!(kept.violations.is_empty(), "{}: {:?}", p.name(), kept.violations);
        assert_eq!(all as u64, issued, "{}: without retirement every record stays", p.name());
        // Every field, percentiles and series included.
        assert_eq!(format!("{kept:?}"), format!("{retired:?}"), "{}", p.name());
        // Requests retire as later ones arrive: what is held at the end is
        // the last 5 minutes of arrivals (300) plus those not settled by
        // then: background sync settles a customer only at its next hourly
        // run, so it holds the last hour's too (about 3,900 of 10,800).
        let bound = if p.name() == "background_sync" { issued / 2 } else { issued / 10 };
        assert!(issued > 10_000 && (live as u64) < bound, "{}: {live} of {issued} records held", p.name());
    }
}

#[test]
fn a_change_to_a_retired_request_is_reported() {
    // Orchestrated: during the pause, sagas give up on Billing and
    // compensate (the customer settles with every row back), then the
    // deferred deletes land when the pause ends, 5 s or more later. A
    // one-second window has retired those requests by then.
    let p = &PatternConfig::book_defaults().into_iter().find(|p| p.name() == "orchestrated").unwrap();
    let (exact, _, _) = go(&scenario(None), p);
    assert!(exact.late_deletes > 0, "the scenario has late deletes");
    let (early, _, _) = go(&scenario(Some(d("1s"))), p);
    let touches = early.violations.iter().find_map(|v| match v {
        Violation::RetiredTooEarly { touches } => Some(*touches),
        _ => None,
    });
    assert!(touches.is_some_and(|n| n > 0), "{:?}", early.violations);
    // The late deletes that landed on retired requests are the ones missed.
    assert!(early.late_deletes < exact.late_deletes);
}
