//! Background traffic: new subscriptions grow the tables a diff scans, and
//! profile updates reach the followers as events under the event-driven
//! patterns only.

use patterns::background_sync::SyncConfig;
use patterns::cdc::CdcConfig;
use patterns::config::BackgroundTraffic;
use patterns::event_based::EventConfig;
use patterns::orchestrated::OrchestratedConfig;
use patterns::{run, PatternConfig, RunOptions, RunReport, Scenario};

mod common;
use common::d;

fn small() -> Scenario {
    let mut s = Scenario { customers: 3_000, ..Default::default() };
    s.workload.rate_per_s = 2.0;
    s.workload.duration = d("10m");
    s.workload.drain = d("70m");
    s
}

fn go(s: &Scenario, p: PatternConfig) -> RunReport {
    let r = run(s, &p, 8, RunOptions::default()).unwrap();
    assert!(r.violations.is_empty(), "{}: {:?}", r.pattern, r.violations);
    r
}

fn patterns() -> Vec<PatternConfig> {
    vec![
        PatternConfig::BackgroundSync(SyncConfig::default()),
        PatternConfig::Orchestrated(OrchestratedConfig::default()),
        PatternConfig::EventBased(EventConfig::default()),
        PatternConfig::Cdc(CdcConfig::default()),
    ]
}

#[test]
fn updates_reach_the_followers_only_as_events() {
    let quiet = small();
    let mut busy = small();
    busy.workload.background = Some(BackgroundTraffic { updates_per_s: 10.0, signups_per_s: 0.0 });
    for p in patterns() {
        let (a, b) = (go(&quiet, p.clone()), go(&busy, p.clone()));
        // The unsubscribes are the same requests; everything still converges.
        assert_eq!(a.requests, b.requests, "{}", p.name());
        assert_eq!(b.inconsistent_at_end, 0, "{}", p.name());
        let c = &b.counters;
        // About 6,000 updates over 10 minutes (Poisson, sd ~77); those to
        // customers who already left find no row and commit nothing.
        assert!((c.update_requests as f64 - 6_000.0).abs() < 4.5 * 6_000f64.sqrt(), "{}: {c:?}", p.name());
        assert!(c.updates > c.update_requests * 3 / 4 && c.updates <= c.update_requests, "{}: {c:?}", p.name());
        let event_driven = matches!(p, PatternConfig::EventBased(_) | PatternConfig::Cdc(_));
        if event_driven {
            // Every committed update reaches both followers.
            assert_eq!(c.update_events_applied, 2 * c.updates, "{}", p.name());
            assert!(b.messages_per_request > a.messages_per_request + 10.0, "{}", p.name());
        } else {
            assert_eq!(c.update_events_applied, 0, "{}", p.name());
        }
    }
}

#[test]
fn new_subscriptions_grow_the_tables_the_diff_scans() {
    let quiet = small();
    let mut busy = small();
    busy.workload.background = Some(BackgroundTraffic { updates_per_s: 0.0, signups_per_s: 5.0 });
    let sync = PatternConfig::BackgroundSync(SyncConfig::default());
    let (a, b) = (go(&quiet, sync.clone()), go(&busy, sync));
    let signups = b.counters.signups;
    assert!((signups as f64 - 3_000.0).abs() < 4.5 * 3_000f64.sqrt(), "{signups}");
    // One hourly run scans Profile in full and the followers' present rows:
    // every new customer is one more row in each of the three scans.
    assert_eq!(b.counters.rows_scanned, a.counters.rows_scanned + 3 * signups);
    assert_eq!(b.inconsistent_at_end, 0);
    assert_eq!(b.data_loss, 0);
}
