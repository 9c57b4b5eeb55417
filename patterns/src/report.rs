//! What one run measured, and the invariants checked at its end.

use serde::{Deserialize, Serialize};
use sim_core::{FaultWindow, SimTime, Simulation, Stats};

use crate::config::Scenario;
use crate::invariants::{self, Violation};
use crate::node::Node;
use crate::pattern::PatternConfig;
pub use crate::samples::{cdf_probabilities, Percentiles};
use crate::workers::QueueStats;
use crate::world::{Counters, RequestRecord, SideEffectTally, World};

/// One follower's side effect over a run: how often it acted, and how often
/// on a customer already told they left (an anomaly).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SideEffectReport {
    /// The follower.
    pub follower: String,
    /// The action, e.g. `charge`.
    pub action: String,
    /// Its counts.
    #[serde(flatten)]
    pub tally: SideEffectTally,
}

/// Little's law terms of one worker pool: `L = lambda * W`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueLaw {
    /// The service.
    pub service: String,
    /// Mean number in the system (busy and waiting).
    pub l: f64,
    /// Arrivals per second.
    pub lambda: f64,
    /// Mean time in the system, seconds.
    pub w: f64,
    /// Units that entered.
    pub arrivals: u64,
}

/// Everything one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// The pattern's name.
    pub pattern: String,
    /// The seed.
    pub seed: u64,
    /// Requests issued.
    pub requests: u64,
    /// Answered "unsubscribed".
    pub answered_ok: u64,
    /// Answered with an error.
    pub answered_error: u64,
    /// The user gave up waiting.
    pub timed_out: u64,
    /// Still waiting at the end.
    pub pending: u64,
    /// Share of requests that did not get "unsubscribed" (error or timeout).
    pub error_share: f64,
    /// Response time the user saw, over answered requests.
    pub response_time: Percentiles,
    /// Consistency lag from the "unsubscribed" answer until every
    /// follower's row was gone (zero if they went first), over customers
    /// told "unsubscribed" whose rows are all gone.
    pub lag_from_answer: Percentiles,
    /// The same lag, measured from the Profile deletion.
    pub lag_from_profile: Percentiles,
    /// The response time's quantiles at [`cdf_probabilities`], seconds
    /// (empty without answers): the distribution, kept for every run at a
    /// size that does not grow with the run.
    pub response_cdf: Vec<f64>,
    /// The lag's (from the answer) quantiles at [`cdf_probabilities`], seconds.
    pub lag_cdf: Vec<f64>,
    /// Customers whose rows disagree at the end (after the drain).
    pub inconsistent_at_end: u32,
    /// Customers told "unsubscribed" whose rows are not all gone at the end.
    pub told_ok_not_converged: u64,
    /// Customers left with a row deleted after their saga had decided to
    /// compensate: the orchestrated pattern's late-delete race, not undone.
    pub late_deletes: u64,
    /// Customers who subscribed again and lost a row of the new
    /// subscription to a delete of their old unsubscribe.
    pub resubscribe_anomalies: u64,
    /// "Unsubscribed" answers given within the arrival window, per second.
    pub throughput_per_s: f64,
    /// Offered load, per second.
    pub offered_per_s: f64,
    /// Network messages sent per request.
    pub messages_per_request: f64,
    /// Database operations per request.
    pub db_ops_per_request: f64,
    /// Events lost in the dual-write gap (event-based only): Profile deleted,
    /// the broker never got the event.
    pub events_lost: u64,
    /// The pattern's failure counters.
    pub counters: Counters,
    /// Every follower's side effect, in follower order (followers without
    /// one are left out).
    pub side_effects: Vec<SideEffectReport>,
    /// The kernel's counters.
    pub kernel: Stats,
    /// Broken invariants. Empty when all hold.
    pub violations: Vec<Violation>,
    /// Customers who never unsubscribed but lost a row.
    pub data_loss: u64,
    /// The trace hash (0 unless tracing was on).
    pub trace_hash: u64,
    /// `(time, inconsistent customers)` on a grid of
    /// [`SERIES_STEPS`](crate::series::SERIES_STEPS) steps over the run: at
    /// each grid time, the most inconsistent at any instant of the step.
    pub series: Vec<(SimTime, u32)>,
    /// Every request (only with [`RunOptions::keep_requests`](crate::RunOptions::keep_requests)).
    pub request_log: Vec<RequestRecord>,
    /// Fault windows, for charts.
    pub fault_windows: Vec<FaultWindow>,
    /// Little's law terms of every worker pool over the run.
    pub queues: Vec<QueueLaw>,
    /// The end of the run.
    pub horizon: SimTime,
}

impl RunReport {
    /// Measures a finished run and checks the end-of-run invariants.
    pub fn measure(
        scenario: &Scenario,
        pattern: &PatternConfig,
        sim: &Simulation<Node, World>,
        seed: u64,
        keep_requests: bool,
    ) -> Self {
        let w = sim.state();
        let tally = w.tally();
        let n = tally.requests;
        let stats = sim.stats().clone();
        let events_lost = pattern.pattern().events_lost(sim);

        let end = sim.now();
        let pools: Vec<(&str, &QueueStats)> = sim
            .components()
            .filter_map(|(id, n)| Some((sim.network().name(id), n.service().workers()?.stats())))
            .collect();
        let violations = invariants::check(w, &stats, pools.iter().copied(), end);
        let data_loss = violations
            .iter()
            .find_map(|v| match v {
                Violation::DataLoss { customers, .. } => Some(*customers),
                _ => None,
            })
            .unwrap_or(0);
        let mut queues = Vec::new();
        for (name, q) in pools {
            let (l, lambda, wait) = q.little(end);
            queues.push(QueueLaw { service: name.to_string(), l, lambda, w: wait, arrivals: q.arrivals });
        }
        let duration = scenario.workload.duration.as_secs_f64();
        let side_effects = scenario
            .followers()
            .into_iter()
            .enumerate()
            .filter_map(|(i, f)| {
                Some(SideEffectReport {
                    follower: f.name,
                    action: f.side_effect?.name,
                    tally: w.side_effects[crate::TableId::follower(i).index()].clone(),
                })
            })
            .collect();
        let (response_time, response_cdf) = tally.response.summarize();
        let (lag_from_answer, lag_cdf) = tally.lag_from_answer.summarize();
        let (err, timeout) = (tally.error, tally.timed_out);
        RunReport {
            pattern: pattern.name(),
            seed,
            requests: n,
            answered_ok: tally.ok,
            answered_error: err,
            timed_out: timeout,
            pending: tally.pending,
            error_share: if n == 0 { 0.0 } else { (err + timeout) as f64 / n as f64 },
            response_time,
            lag_from_answer,
            response_cdf,
            lag_cdf,
            lag_from_profile: tally.lag_from_profile.summarize().0,
            inconsistent_at_end: w.inconsistent(),
            told_ok_not_converged: tally.not_converged,
            late_deletes: tally.late_deletes,
            resubscribe_anomalies: tally.resubscribe_anomalies,
            throughput_per_s: if duration > 0.0 { tally.ok_in_window as f64 / duration } else { 0.0 },
            offered_per_s: scenario.workload.rate_per_s,
            messages_per_request: if n == 0 { 0.0 } else { stats.messages_sent as f64 / n as f64 },
            db_ops_per_request: if n == 0 { 0.0 } else { w.counters.db_ops as f64 / n as f64 },
            events_lost,
            counters: w.counters.clone(),
            side_effects,
            kernel: stats,
            violations,
            data_loss,
            trace_hash: sim.trace().hash(),
            series: w.series(),
            request_log: if keep_requests { w.request_log() } else { Vec::new() },
            fault_windows: sim.fault_windows().to_vec(),
            queues,
            horizon: scenario.horizon(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut xs: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let p = Percentiles::of(&mut xs);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert!((p.mean - 50.5).abs() < 1e-12);
        assert_eq!(Percentiles::of(&mut []).count, 0);
    }

    #[test]
    fn cdf_grid_is_ascending_unique_and_ends_at_one() {
        let q = cdf_probabilities();
        assert_eq!(q.len(), 200 + 8, "0.995 is on both grids and kept once");
        assert!(q.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((q[0], *q.last().unwrap()), (0.005, 1.0));
        let xs: Vec<f64> = (1..=1000).map(f64::from).collect();
        let v = crate::samples::quantiles_of_sorted(&xs);
        assert_eq!(v.len(), q.len());
        // Nearest rank: the q-quantile of 1..=1000 is 1000 q.
        for (q, v) in q.iter().zip(&v) {
            assert_eq!(*v, (q * 1000.0).round());
        }
        assert!(crate::samples::quantiles_of_sorted(&[]).is_empty());
    }
}
