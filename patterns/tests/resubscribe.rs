//! The re-subscribe race: a customer leaves, comes back, and a delete of
//! the old unsubscribe lands on the new subscription.

use patterns::background_sync::{Detect, SyncConfig};
use patterns::config::Resubscribe;
use patterns::event_based::EventConfig;
use patterns::orchestrated::OrchestratedConfig;
use patterns::{run, PatternConfig, RunOptions, RunReport, Scenario};
use sim_core::{Dist, FaultSpec};

mod common;
use common::{d, t};

/// 3,000 customers leave over 10 minutes; a third of those told
/// "unsubscribed" come back about 5 minutes later.
fn small() -> Scenario {
    let mut s = Scenario { customers: 3_000, ..Default::default() };
    s.workload.rate_per_s = 3.0;
    s.workload.duration = d("10m");
    s.workload.drain = d("70m");
    s.workload.resubscribe = Some(Resubscribe { probability: 1.0 / 3.0, after: Dist::exponential(d("5m")) });
    s
}

fn go(s: &Scenario, p: PatternConfig) -> RunReport {
    let r = run(s, &p, 5, RunOptions { keep_requests: true, ..Default::default() }).unwrap();
    assert!(r.violations.is_empty(), "{}: {:?}", r.pattern, r.violations);
    r
}

/// Who comes back, and when, is the same under every pattern (common
/// random numbers), as long as each tells them "unsubscribed".
#[test]
fn the_same_customers_come_back_under_every_pattern() {
    let s = small();
    let back = |r: &RunReport| -> Vec<(u32, Option<sim_core::SimDuration>)> {
        r.request_log.iter().map(|q| (q.customer, q.resubscribed.map(|t| t - q.answered.unwrap()))).collect()
    };
    let a = go(&s, PatternConfig::EventBased(EventConfig::default()));
    let b = go(&s, PatternConfig::BackgroundSync(SyncConfig::default()));
    assert_eq!(a.answered_ok, a.requests);
    // The same customers, each back the same time after their own answer.
    assert_eq!(back(&a), back(&b));
    // A third of about 1,800, binomial sd ~20.
    let n = a.counters.resubscriptions as f64;
    let expect = a.answered_ok as f64 / 3.0;
    assert!((n - expect).abs() < 4.5 * (expect * 2.0 / 3.0).sqrt(), "{n} came back, expected {expect}");
}

/// The diff sees Profile's new row and leaves the customer alone; the
/// change table remembers the old delete and removes the new rows.
#[test]
fn background_sync_from_a_change_table_deletes_new_subscriptions() {
    let s = small();
    let diff = go(&s, PatternConfig::BackgroundSync(SyncConfig::default()));
    let table = go(&s, PatternConfig::BackgroundSync(SyncConfig { detect: Detect::ChangeTable, ..Default::default() }));
    assert_eq!(diff.resubscribe_anomalies, 0);
    assert_eq!(diff.inconsistent_at_end, 0);
    // Nearly every customer back before the hourly run loses its new rows.
    assert!(table.resubscribe_anomalies as f64 > 0.5 * table.counters.resubscriptions as f64, "{table:?}");
    assert_eq!(u64::from(table.inconsistent_at_end), table.resubscribe_anomalies);
}

/// With events held back by a broker outage, the customers who come back
/// meanwhile lose their new rows when the events arrive; the saga, which
/// finishes before it answers, races only with its own late deletes.
#[test]
fn delayed_events_delete_new_subscriptions() {
    let mut s = small();
    s.faults = vec![FaultSpec::Crash { node: "broker".into(), at: t("2m"), restart_after: Some(d("8m")) }];
    let events = go(&s, PatternConfig::EventBased(EventConfig { outbox: true, ..Default::default() }));
    assert!(events.resubscribe_anomalies > 0);
    assert_eq!(u64::from(events.inconsistent_at_end), events.resubscribe_anomalies);
    let saga = go(&s, PatternConfig::Orchestrated(OrchestratedConfig::default()));
    assert_eq!(saga.resubscribe_anomalies, 0);
    assert_eq!(saga.inconsistent_at_end, 0);
    // Without the outage nobody is hit.
    s.faults.clear();
    assert_eq!(go(&s, PatternConfig::EventBased(EventConfig::default())).resubscribe_anomalies, 0);
}
