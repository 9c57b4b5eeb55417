//! Helpers the scenario test files share: durations and instants written as
//! in a config, and the book's worked example.

// Each test file includes this module and uses a subset of it.
#![allow(dead_code)]

use patterns::background_sync::{Detect, SyncConfig};
use patterns::cdc::{CdcConfig, TailMode};
use patterns::event_based::EventConfig;
use patterns::orchestrated::{OrchestratedConfig, Order, Placement};
use patterns::{PatternConfig, Scenario};
use sim_core::{Dist, SimDuration, SimTime};

/// A duration written as in a config, e.g. `"1h"`.
pub(crate) fn d(s: &str) -> SimDuration {
    s.parse().unwrap()
}

/// An instant written as in a config, e.g. `"11h23m"`.
pub(crate) fn t(s: &str) -> SimTime {
    s.parse().unwrap()
}

/// The book's worked example: every service call takes 1 s and nothing else
/// adds delay (no network latency, no orchestrator or broker handling); one
/// customer unsubscribes at 11:23:00, and the run goes on 12 hours after
/// the arrival window.
pub(crate) fn book_example() -> Scenario {
    let mut s = Scenario { customers: 10, ..Default::default() };
    for svc in [&mut s.services.profile, &mut s.services.contract, &mut s.services.billing] {
        svc.request_time = Dist::constant(d("1s"));
        svc.scan_time_per_row = SimDuration::ZERO;
        svc.write_time_per_row = SimDuration::ZERO;
    }
    s.services.orchestrator.request_time = Dist::constant(SimDuration::ZERO);
    s.services.broker.publish_time = Dist::constant(SimDuration::ZERO);
    s.network.default.latency = Dist::constant(SimDuration::ZERO);
    s.workload.at = vec![t("11h23m").into()];
    s.workload.duration = d("12h");
    s.workload.drain = d("12h");
    s
}

/// Every pattern in each of its main variants.
pub(crate) fn all_variants() -> Vec<PatternConfig> {
    vec![
        PatternConfig::BackgroundSync(SyncConfig::default()),
        PatternConfig::BackgroundSync(SyncConfig { detect: Detect::ChangeTable, ..Default::default() }),
        PatternConfig::Orchestrated(OrchestratedConfig::default()),
        PatternConfig::Orchestrated(OrchestratedConfig { order: Order::Serial, ..Default::default() }),
        PatternConfig::Orchestrated(OrchestratedConfig { placement: Placement::Profile, ..Default::default() }),
        PatternConfig::EventBased(EventConfig::default()),
        PatternConfig::EventBased(EventConfig { outbox: true, ..Default::default() }),
        PatternConfig::Cdc(CdcConfig::default()),
        PatternConfig::Cdc(CdcConfig { mode: TailMode::Stream, ..Default::default() }),
    ]
}
