//! Correlated request times (`services.*.time_correlation`): the steps of
//! one unsubscribe share a factor, and the slowest of parallel ones comes
//! out as the bivariate normal says.
//!
//! Every delay but the followers' request times is zero and the load is
//! light, so a request's lag from the Profile's delete is exactly the
//! slower follower's time. With both times log-normal with median `m` and
//! normal-score correlation `rho`, the chance that both are below `m` is
//! the bivariate normal's quadrant probability `1/4 + asin(rho) / (2 pi)`
//! (Sheppard): 1/4 independent, 1/3 at 0.5, 1/2 in lockstep.

use patterns::event_based::EventConfig;
use patterns::orchestrated::OrchestratedConfig;
use patterns::{run, PatternConfig, RunOptions, Scenario};
use sim_core::{Dist, SimDuration, SimTime};

mod common;
use common::d;

const MEDIAN_MS: u64 = 20;

fn scenario(rho: f64) -> Scenario {
    let mut s = Scenario { customers: 5_000, ..Default::default() };
    s.workload.rate_per_s = 2.0;
    s.workload.duration = d("30m");
    s.workload.drain = d("10m");
    s.services.profile.request_time = Dist::constant(SimDuration::ZERO);
    s.services.orchestrator.request_time = Dist::constant(SimDuration::ZERO);
    s.services.broker.publish_time = Dist::constant(SimDuration::ZERO);
    s.network.default.latency = Dist::constant(SimDuration::ZERO);
    for f in [&mut s.services.contract, &mut s.services.billing] {
        f.request_time = Dist::Lognormal { median: SimDuration::from_millis(MEDIAN_MS), sigma: 0.5 };
        f.time_correlation = rho;
    }
    s
}

/// Per answered request: when the Profile's row went, and the two
/// followers'.
fn deletions(p: PatternConfig, rho: f64) -> Vec<(SimTime, SimTime, SimTime)> {
    let r = run(&scenario(rho), &p, 7, RunOptions { keep_requests: true, ..Default::default() }).unwrap();
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    r.request_log
        .iter()
        .filter_map(|q| Some((q.deleted.first().copied()??, q.deleted.get(1).copied()??, q.deleted.get(2).copied()??)))
        .collect()
}

fn patterns() -> [PatternConfig; 2] {
    [
        PatternConfig::EventBased(EventConfig { publish_gap: SimDuration::ZERO, ..Default::default() }),
        PatternConfig::Orchestrated(OrchestratedConfig::default()),
    ]
}

/// The fraction of `xs` that holds, checked against `p` within 4.5
/// binomial standard errors of its sample size (missed by chance with
/// probability 6.8e-6).
fn check_fraction(what: &str, hits: usize, n: usize, p: f64) {
    assert!(n > 2_000, "{what}: only {n} requests");
    let f = hits as f64 / n as f64;
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!((f - p).abs() < 4.5 * se, "{what}: {f:.4} of {n}, expected {p:.4} (se {se:.4})");
}

#[test]
fn in_lockstep_both_followers_delete_at_the_same_instant() {
    for p in patterns() {
        let rows = deletions(p, 1.0);
        assert!(rows.len() > 2_000);
        assert!(rows.iter().all(|&(_, c, b)| c == b), "a follower's time differs from the other's");
    }
}

#[test]
fn in_lockstep_every_step_of_one_unsubscribe_takes_the_same_time() {
    // The Profile's delete too: a dedicated saga's steps run one after the
    // other (Profile, then both followers), so the followers' deletes land
    // exactly one Profile time after the Profile's, for every request,
    // while different requests take different times.
    let mut s = scenario(1.0);
    s.services.profile.request_time = s.services.contract.request_time.clone();
    s.services.profile.time_correlation = 1.0;
    let r = run(&s, &patterns()[1], 7, RunOptions { keep_requests: true, ..Default::default() }).unwrap();
    let steps: Vec<_> = r
        .request_log
        .iter()
        .map(|q| {
            let (p, c) = (q.deleted[0].unwrap(), q.deleted[1].unwrap());
            (p.saturating_since(q.arrival), c.saturating_since(p))
        })
        .collect();
    assert!(steps.len() > 2_000);
    assert!(steps.iter().all(|(a, b)| a == b), "a step took its own time");
    assert!(steps.iter().any(|s| s.0 != steps[0].0), "every request took the same time");
}

#[test]
fn the_slower_follower_is_below_the_median_as_often_as_the_bivariate_normal_says() {
    let m = SimDuration::from_millis(MEDIAN_MS);
    for p in patterns() {
        for rho in [0.0, 0.5, 1.0] {
            let rows = deletions(p.clone(), rho);
            // The slower follower's time counts from the Profile's delete
            // for events, and from the calls' start for a parallel saga,
            // which is the same instant here (every other delay is zero).
            let both = rows.iter().filter(|&&(s, c, b)| c.max(b).saturating_since(s) < m).count();
            let quadrant = 0.25 + rho.asin() / (2.0 * std::f64::consts::PI);
            check_fraction(&format!("{p:?} at rho {rho}: both below the median"), both, rows.len(), quadrant);
            // Each follower keeps its own distribution: half below the median.
            let contract = rows.iter().filter(|&&(s, c, _)| c.saturating_since(s) < m).count();
            check_fraction(&format!("{p:?} at rho {rho}: contract below the median"), contract, rows.len(), 0.5);
        }
    }
}

#[test]
fn an_orchestrator_refuses_a_time_correlation() {
    let mut s = scenario(0.0);
    s.services.orchestrator.time_correlation = 0.3;
    let e = run(&s, &patterns()[1], 1, RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("services.orchestrator.time_correlation"), "{e}");
    s.services.orchestrator.time_correlation = 0.0;
    s.services.billing.time_correlation = 1.5;
    let e = run(&s, &patterns()[1], 1, RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("services.billing.time_correlation"), "{e}");
}

/// Per answered request of the event-based pattern with the broker's
/// persist as slow as a follower's handling (the same distribution) and
/// correlated by `rho`: the time from the Profile's delete to Contract's,
/// which is the persist plus Contract's handling (every other delay is
/// zero), and whether Billing deleted at the same instant.
fn persist_and_handle(rho: f64) -> Vec<(SimDuration, bool)> {
    let mut s = scenario(rho);
    s.services.broker.publish_time = s.services.contract.request_time.clone();
    s.services.broker.time_correlation = rho;
    let r = run(&s, &patterns()[0], 7, RunOptions { keep_requests: true, ..Default::default() }).unwrap();
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    r.request_log
        .iter()
        .filter_map(|q| {
            let (p, c, b) = (q.deleted.first().copied()??, q.deleted.get(1).copied()??, q.deleted.get(2).copied()??);
            Some((c.saturating_since(p), c == b))
        })
        .collect()
}

#[test]
fn the_brokers_persist_shares_the_unsubscribes_factor() {
    let m = SimDuration::from_millis(MEDIAN_MS);
    // In lockstep the persist and the handling are the same draw: their sum
    // is below twice the median exactly when each is below the median, half
    // the time, and it is an even number of nanoseconds.
    let rows = persist_and_handle(1.0);
    assert!(rows.iter().all(|&(t, same)| same && t.as_nanos() % 2 == 0), "the persist took its own time");
    let below = rows.iter().filter(|&&(t, _)| t < m * 2).count();
    check_fraction("in lockstep: persist and handling below twice the median", below, rows.len(), 0.5);
    // Independent, the sum of two right-skewed times is below twice their
    // median less often: for two log-normals of sigma 0.5, the chance is
    // the integral of phi(z) Phi(ln(2 - e^(z/2)) / 0.5) over z < 2 ln 2,
    // 0.43661 (midpoint rule, 200,000 steps).
    let rows = persist_and_handle(0.0);
    let below = rows.iter().filter(|&&(t, _)| t < m * 2).count();
    check_fraction("independent: persist and handling below twice the median", below, rows.len(), 0.43661);
}

#[test]
fn a_broker_refuses_a_time_correlation_outside_0_to_1() {
    let mut s = scenario(0.0);
    s.services.broker.time_correlation = -0.1;
    let e = run(&s, &patterns()[0], 1, RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("services.broker.time_correlation"), "{e}");
}
