//! Validation against theory: cases where queueing theory or probability
//! gives the answer, run through the same simulator the experiments use.
//!
//! Every case reports the simulated estimate with a confidence interval
//! derived from its own sample (batch means where the samples are
//! correlated, as consecutive response times in a queue are), the analytic
//! value, and whether the analytic value lies inside the interval. Nothing
//! is tuned: the interval level is fixed at 99%.

use serde::Serialize;
use sim_core::{Dist, LinkConfig, SimDuration};

use crate::background_sync::SyncConfig;
use crate::config::Scenario;
use crate::node::NodeName;
use crate::orchestrated::OrchestratedConfig;
use crate::pattern::PatternConfig;
use crate::scenario::{run, RunOptions};
use crate::world::Outcome;

/// One validation case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidationRow {
    /// What is simulated, e.g. `M/M/1 rho=0.8`.
    pub case: String,
    /// The quantity compared, e.g. `mean response time (s)`.
    pub quantity: String,
    /// The simulated estimate.
    pub simulated: f64,
    /// Lower end of its 99% confidence interval.
    pub ci99_low: f64,
    /// Upper end.
    pub ci99_high: f64,
    /// The analytic value.
    pub analytic: f64,
    /// Sample size (requests, calls or customers).
    pub n: u64,
    /// Whether the analytic value lies in the interval.
    pub pass: bool,
}

impl ValidationRow {
    fn new(case: String, quantity: &str, (simulated, half): (f64, f64), analytic: f64, n: u64) -> Self {
        let (lo, hi) = (simulated - half, simulated + half);
        ValidationRow {
            case,
            quantity: quantity.to_string(),
            simulated,
            ci99_low: lo,
            ci99_high: hi,
            analytic,
            n,
            pass: analytic >= lo && analytic <= hi,
        }
    }
}

/// The 0.995 quantile of Student's t with 39 degrees of freedom (40 batches).
const T995_39: f64 = 2.708;
/// The 0.995 quantile of the standard normal.
const Z995: f64 = 2.576;
const BATCHES: usize = 40;

/// Mean and 99% half-width by the method of batch means: drop the first 5%
/// (the warm-up from an empty system), cut the rest into 40 batches, and
/// treat the batch means as independent.
pub fn batch_means(xs: &[f64]) -> (f64, f64) {
    let xs = &xs[xs.len() / 20..];
    let size = xs.len() / BATCHES;
    assert!(size > 0, "too few samples for batch means");
    let means: Vec<f64> = xs.chunks_exact(size).take(BATCHES).map(|c| c.iter().sum::<f64>() / size as f64).collect();
    let m = means.iter().sum::<f64>() / BATCHES as f64;
    let var = means.iter().map(|b| (b - m) * (b - m)).sum::<f64>() / (BATCHES as f64 - 1.0);
    (m, T995_39 * (var / BATCHES as f64).sqrt())
}

/// Mean and 99% half-width of independent samples.
pub fn iid_mean(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, Z995 * (var / n).sqrt())
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with
/// offered load `a = lambda / mu` (in erlangs).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    // Erlang B by its stable recursion, then C from B.
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let rho = a / f64::from(c);
    b / (1.0 - rho + rho * b)
}

/// A single-service scenario: Poisson arrivals at `lambda` straight into the
/// Profile service (no network delay, no sync run, nothing else), so the
/// user's response time is the queue's time in system.
fn queue_scenario(lambda: f64, service: Dist, workers: u32, requests: u32) -> (Scenario, PatternConfig) {
    let mut s = Scenario { customers: requests, ..Default::default() };
    s.workload.rate_per_s = lambda;
    // Arrivals stop when every customer has unsubscribed.
    s.workload.duration = SimDuration::from_secs_f64(2.0 * f64::from(requests) / lambda);
    s.workload.drain = SimDuration::from_mins(10);
    s.workload.client_timeout = SimDuration::from_hours(1000);
    s.network.default = LinkConfig::with_latency(Dist::constant(SimDuration::ZERO));
    s.services.profile.workers = workers;
    s.services.profile.request_time = service;
    s.billing.period = SimDuration::from_hours(24 * 10_000);
    let never = SyncConfig { interval: SimDuration::from_hours(1_000_000), ..Default::default() };
    (s, PatternConfig::BackgroundSync(never))
}

fn response_times(s: &Scenario, p: &PatternConfig, seed: u64) -> Vec<f64> {
    let r = run(s, p, seed, RunOptions { keep_requests: true, ..Default::default() }).expect("valid scenario");
    r.request_log
        .iter()
        .filter(|q| q.outcome == Outcome::Ok)
        .map(|q| (q.answered.expect("answered") - q.arrival).as_secs_f64())
        .collect()
}

/// The queueing cases: M/M/1, M/M/c (c = 4) and M/D/1 at loads 0.5, 0.8, 0.95.
pub fn queues(seed: u64) -> Vec<ValidationRow> {
    let mu = 100.0; // 10 ms mean service time
    let mean = SimDuration::from_millis(10);
    let mut rows = Vec::new();
    for rho in [0.5, 0.8, 0.95] {
        // Heavier load relaxes more slowly: give it more requests.
        let n: u32 = if rho > 0.9 { 1_000_000 } else { 300_000 };
        let lambda = rho * mu;
        let (s, p) = queue_scenario(lambda, Dist::exponential(mean), 1, n);
        let rt = response_times(&s, &p, seed);
        rows.push(ValidationRow::new(
            format!("M/M/1 rho={rho}"),
            "mean response time (s)",
            batch_means(&rt),
            1.0 / (mu - lambda),
            rt.len() as u64,
        ));

        let c = 4;
        let lambda_c = rho * mu * f64::from(c);
        let (s, p) = queue_scenario(lambda_c, Dist::exponential(mean), c, n);
        let rt = response_times(&s, &p, seed);
        let w = erlang_c(c, lambda_c / mu) / (f64::from(c) * mu - lambda_c) + 1.0 / mu;
        rows.push(ValidationRow::new(
            format!("M/M/4 rho={rho}"),
            "mean response time (s)",
            batch_means(&rt),
            w,
            rt.len() as u64,
        ));

        let (s, p) = queue_scenario(lambda, Dist::constant(mean), 1, n);
        let rt = response_times(&s, &p, seed);
        // Pollaczek-Khinchine with deterministic service.
        let w = 1.0 / mu + rho / (2.0 * mu * (1.0 - rho));
        rows.push(ValidationRow::new(
            format!("M/D/1 rho={rho}"),
            "mean response time (s)",
            batch_means(&rt),
            w,
            rt.len() as u64,
        ));
    }
    rows
}

/// Little's law on the M/M/1 queue at rho = 0.8: the time-average number in
/// the system against arrival rate times mean time in system.
pub fn little(seed: u64) -> ValidationRow {
    let (s, p) = queue_scenario(80.0, Dist::exponential(SimDuration::from_millis(10)), 1, 200_000);
    let r = run(&s, &p, seed, RunOptions::default()).expect("valid scenario");
    let q = r.queues.iter().find(|q| q.service == NodeName::Profile.name()).expect("profile is tracked");
    // The identity is exact in integer nanoseconds; the interval is float rounding.
    let half = 1e-9 * q.l.max(1.0);
    ValidationRow::new(
        "Little's law at Profile, M/M/1 rho=0.8".into(),
        "L (mean number in system)",
        (q.l, half),
        q.lambda * q.w,
        q.arrivals,
    )
}

/// Background sync every T with Poisson arrivals and free processing: the
/// lag from the answer to consistency is Uniform(0, T), mean T/2.
pub fn sync_lag(seed: u64) -> ValidationRow {
    let t = SimDuration::from_mins(10);
    let mut s = Scenario { customers: 50_000, ..Default::default() };
    s.workload.rate_per_s = 5.0;
    s.workload.duration = SimDuration::from_hours(2);
    s.workload.drain = t + SimDuration::from_mins(1);
    s.network.default = LinkConfig::with_latency(Dist::constant(SimDuration::ZERO));
    for svc in [&mut s.services.profile, &mut s.services.contract, &mut s.services.billing] {
        svc.request_time = Dist::constant(SimDuration::ZERO);
        svc.scan_time_per_row = SimDuration::ZERO;
        svc.write_time_per_row = SimDuration::ZERO;
    }
    let p = PatternConfig::BackgroundSync(SyncConfig { interval: t, ..Default::default() });
    let r = run(&s, &p, seed, RunOptions { keep_requests: true, ..Default::default() }).expect("valid scenario");
    let lags: Vec<f64> = r
        .request_log
        .iter()
        .filter_map(|q| Some(q.deleted[1]?.max(q.deleted[2]?).saturating_since(q.answered?).as_secs_f64()))
        .collect();
    ValidationRow::new(
        "background sync every 10 min, free processing".into(),
        "mean lag after the answer (s)",
        iid_mean(&lags),
        t.as_secs_f64() / 2.0,
        lags.len() as u64,
    )
}

/// Orchestrated calls over a link that loses each request with probability
/// p: attempts per call follow a geometric law with mean 1/(1-p).
pub fn retries(seed: u64) -> ValidationRow {
    let p_loss = 0.2;
    let mut s = Scenario { customers: 20_000, ..Default::default() };
    s.workload.rate_per_s = 5.0;
    s.workload.duration = SimDuration::from_hours(1);
    s.workload.drain = SimDuration::from_mins(10);
    s.workload.client_timeout = SimDuration::from_hours(1);
    s.network.links.push(crate::config::LinkOverride {
        from: NodeName::Orchestrator.name().into(),
        to: NodeName::Contract.name().into(),
        link: LinkConfig { loss: p_loss, ..s.network.default.clone() },
    });
    // Enough retries that the truncated law is the geometric one (p^21 ~ 2e-15).
    let cfg = OrchestratedConfig { max_retries: 20, backoff: SimDuration::from_millis(10), ..Default::default() };
    let r = run(&s, &PatternConfig::Orchestrated(cfg), seed, RunOptions::default()).expect("valid scenario");
    // One Contract call per saga; every retry in this run is a Contract retry.
    let calls = r.requests as f64;
    let mean = 1.0 + r.counters.retries as f64 / calls;
    // Geometric: variance p / (1-p)^2 per call.
    let half = Z995 * (p_loss / (1.0 - p_loss).powi(2) / calls).sqrt();
    ValidationRow::new(
        format!("orchestrated, loss {p_loss} on orchestrator->contract"),
        "attempts per call",
        (mean, half),
        1.0 / (1.0 - p_loss),
        r.requests,
    )
}

/// Uniform billing offsets and a lag L much shorter than the period P: the
/// share of leavers charged after being told "no longer billed" is `E[L]/P`.
pub fn billing_anomaly(seed: u64) -> ValidationRow {
    let mut s = Scenario { customers: 100_000, ..Default::default() };
    s.workload.rate_per_s = 20.0;
    s.workload.duration = SimDuration::from_hours(1);
    s.workload.drain = SimDuration::from_mins(70);
    s.billing.period = SimDuration::from_hours(24);
    let p = PatternConfig::BackgroundSync(SyncConfig::default());
    let r = run(&s, &p, seed, RunOptions::default()).expect("valid scenario");
    let n = r.answered_ok as f64;
    let share = r.counters.charges_after_unsubscribe as f64 / n;
    let expected = r.lag_from_answer.mean / s.billing.period.as_secs_f64();
    let half = Z995 * (expected * (1.0 - expected) / n).sqrt();
    ValidationRow::new(
        "background sync hourly, 1-day billing period".into(),
        "share of leavers charged late",
        (share, half),
        expected,
        r.answered_ok,
    )
}

/// Every case.
pub fn all(seed: u64) -> Vec<ValidationRow> {
    let mut rows = queues(seed);
    rows.push(little(seed));
    rows.push(sync_lag(seed));
    rows.push(retries(seed));
    rows.push(billing_anomaly(seed));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_known_values() {
        // One server: the probability of waiting is rho.
        assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-12);
        // c = 2, a = 1: C = 1/3 (textbook value).
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn batch_means_of_iid_data_covers_the_mean() {
        let xs: Vec<f64> = (0..40_000).map(|i| ((i * 7919) % 1000) as f64).collect();
        let (m, h) = batch_means(&xs);
        assert!((m - 499.5).abs() < h.max(5.0), "{m} +- {h}");
    }
}
