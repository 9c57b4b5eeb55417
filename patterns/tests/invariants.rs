//! Every end-of-run invariant can fire: each test corrupts a finished run
//! in one way and checks that exactly the matching violation, and the
//! promise it maps to, are reported.

use patterns::invariants::{self, Violation};
use patterns::promises::{broken, Promise};
use patterns::{build, PatternConfig, RunReport, Scenario, TableId};
use sim_core::{SimDuration, TraceMode};

fn finished() -> (Scenario, PatternConfig, patterns::Built) {
    let mut s = Scenario { customers: 5_000, ..Default::default() };
    s.workload.rate_per_s = 2.0;
    s.workload.duration = SimDuration::from_mins(5);
    s.workload.drain = SimDuration::from_mins(70);
    let p = PatternConfig::EventBased(Default::default());
    let mut built = build(&s, &p, 11, TraceMode::Off).expect("valid scenario");
    built.sim.run_until(s.horizon());
    (s, p, built)
}

#[test]
fn a_clean_run_breaks_no_invariant() {
    let (s, p, built) = finished();
    let r = RunReport::measure(&s, &p, &built.sim, 11, false);
    assert_eq!(r.violations, vec![]);
    assert_eq!(broken(&r), vec![]);
}

#[test]
fn a_row_lost_by_a_customer_who_never_left_is_data_loss() {
    let (s, p, mut built) = finished();
    let now = built.sim.now();
    let w = built.sim.state_mut();
    let bystander = (0..w.customers()).find(|&c| w.request_of(c).is_none()).expect("most customers stay");
    assert!(w.delete(TableId::follower(1), bystander, now));
    let r = RunReport::measure(&s, &p, &built.sim, 11, false);
    assert_eq!(r.violations, vec![Violation::DataLoss { customers: 1, examples: vec![bystander] }]);
    assert_eq!(r.data_loss, 1);
    let promises: Vec<Promise> = broken(&r).into_iter().map(|(p, _)| p).collect();
    // One customer now disagrees too, which nobody counted for repair.
    assert_eq!(promises, vec![Promise::NoDataLoss, Promise::Convergence]);
}

#[test]
fn a_message_the_kernel_lost_track_of_breaks_accounting() {
    let (_, _, built) = finished();
    let mut stats = built.sim.stats().clone();
    stats.messages_sent += 1;
    let v = invariants::check(built.sim.state(), &stats, [], built.sim.now());
    assert_eq!(v.len(), 1);
    assert!(matches!(v[0], Violation::MessagesUnaccounted { .. }), "{v:?}");
    assert_eq!(v[0].promise(), Promise::Accounting);
    assert!(v[0].to_string().starts_with("messages unaccounted: sent "), "{}", v[0]);
}
