//! Validation against theory: cases where queueing theory or probability
//! gives the answer, run through the same simulator the experiments use.
//!
//! Every case reports the simulated estimate with its standard error and
//! degrees of freedom, a 99% confidence interval, the analytic value, and
//! the value under a *wrong model* the case exists to rule out (the same
//! system with 5% slower servers, a 5% longer sync interval, 5% more loss,
//! a 5% shorter billing period). A test can then widen the interval for the
//! number of intervals it checks (Bonferroni) and still demand that it be
//! narrow enough to tell the two models apart.
//!
//! The queue cases use independent replications: each replication is its
//! own run with its own seed, its first 10% of requests dropped as warm-up
//! from an empty system, and the replication means are independent, so a
//! Student-t interval over them is honest however correlated consecutive
//! response times are within one run. (Batch means with 40 batches of one
//! long run, used before, under-covered at high load.)

use serde::Serialize;
use sim_core::{Dist, LinkConfig, RngFactory, SimDuration, SimTime, TraceMode};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::background_sync::SyncConfig;
use crate::config::Scenario;
use crate::followers::FollowerConfig;
use crate::orchestrated::{OrchestratedConfig, Order};
use crate::pattern::PatternConfig;
use crate::report::RunReport;
use crate::scenario::{build, run, RunOptions};
use crate::topology::Role;
use crate::world::Outcome;

/// The resolution every case must have: it must tell the simulator apart
/// from one whose driving parameter is off by this much.
pub const RESOLUTION: f64 = 0.05;

/// Independent replications per replicated case.
pub const REPLICATIONS: u32 = 10;

/// An estimate: its mean, standard error and degrees of freedom.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// The estimate.
    pub mean: f64,
    /// Its standard error.
    pub std_err: f64,
    /// Degrees of freedom of a Student-t interval; `None` for a
    /// large-sample normal interval.
    pub dof: Option<u32>,
}

impl Estimate {
    /// The mean of independent replication means, with a Student-t interval.
    pub fn of_replications(xs: &[f64]) -> Self {
        let (mean, var) = mean_var(xs);
        Estimate { mean, std_err: (var / xs.len() as f64).sqrt(), dof: Some(xs.len() as u32 - 1) }
    }

    /// The mean of many independent samples, with a normal interval.
    pub fn of_iid(xs: &[f64]) -> Self {
        let (mean, var) = mean_var(xs);
        Estimate { mean, std_err: (var / xs.len() as f64).sqrt(), dof: None }
    }

    /// The half-width of the two-sided interval at `level` (e.g. 0.99).
    ///
    /// ```
    /// use patterns::validation::Estimate;
    /// let e = Estimate { mean: 1.0, std_err: 0.1, dof: None };
    /// assert!((e.half_width(0.99) - 0.2576).abs() < 1e-4);
    /// let t = Estimate { dof: Some(9), ..e };
    /// assert!((t.half_width(0.99) - 0.3250).abs() < 1e-4);
    /// ```
    pub fn half_width(&self, level: f64) -> f64 {
        let q = 1.0 - (1.0 - level) / 2.0;
        let k = match self.dof {
            Some(d) => StudentsT::new(0.0, 1.0, f64::from(d)).expect("dof >= 1").inverse_cdf(q),
            None => Normal::new(0.0, 1.0).expect("standard normal").inverse_cdf(q),
        };
        k * self.std_err
    }
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    assert!(xs.len() >= 2, "an estimate needs at least two samples");
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (m, xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0))
}

/// One validation case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidationRow {
    /// What is simulated, e.g. `M/M/1 rho=0.8`.
    pub case: String,
    /// The quantity compared, e.g. `mean response time (s)`.
    pub quantity: String,
    /// The simulated estimate.
    pub simulated: f64,
    /// Its standard error.
    pub std_err: f64,
    /// Degrees of freedom of its interval (empty: normal).
    pub dof: Option<u32>,
    /// Lower end of its 99% confidence interval.
    pub ci99_low: f64,
    /// Upper end.
    pub ci99_high: f64,
    /// The analytic value.
    pub analytic: f64,
    /// The analytic value under the wrong model the case must rule out
    /// (its driving parameter off by [`RESOLUTION`]).
    pub wrong_model: f64,
    /// Sample size (requests, calls or customers, over all replications).
    pub n: u64,
    /// Whether the analytic value lies in the 99% interval.
    pub pass: bool,
}

impl ValidationRow {
    fn new(case: String, quantity: &str, est: Estimate, analytic: f64, wrong_model: f64, n: u64) -> Self {
        let half = est.half_width(0.99);
        let (lo, hi) = (est.mean - half, est.mean + half);
        ValidationRow {
            case,
            quantity: quantity.to_string(),
            simulated: est.mean,
            std_err: est.std_err,
            dof: est.dof,
            ci99_low: lo,
            ci99_high: hi,
            analytic,
            wrong_model,
            n,
            pass: analytic >= lo && analytic <= hi,
        }
    }

    /// The estimate behind the row.
    pub fn estimate(&self) -> Estimate {
        Estimate { mean: self.simulated, std_err: self.std_err, dof: self.dof }
    }
}

/// The seed of replication `r` of a case run with `seed`.
fn replication_seed(seed: u64, r: u32) -> u64 {
    RngFactory::new(seed).child_seed("validation/replication", u64::from(r))
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

/// The queue disciplines validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// One server, exponential service.
    MM1,
    /// Four servers, exponential service (Erlang C).
    MM4,
    /// One server, constant service (Pollaczek-Khinchine).
    MD1,
}

impl Queue {
    /// Every discipline.
    pub const ALL: [Queue; 3] = [Queue::MM1, Queue::MM4, Queue::MD1];

    fn servers(self) -> u32 {
        match self {
            Queue::MM4 => 4,
            Queue::MM1 | Queue::MD1 => 1,
        }
    }

    /// The mean time in system with arrival rate `lambda` and service rate `mu` per server.
    pub fn mean_response(self, lambda: f64, mu: f64) -> f64 {
        match self {
            Queue::MM1 => 1.0 / (mu - lambda),
            Queue::MM4 => {
                let c = self.servers();
                erlang_c(c, lambda / mu) / (f64::from(c) * mu - lambda) + 1.0 / mu
            }
            Queue::MD1 => {
                let rho = lambda / mu;
                1.0 / mu + rho / (2.0 * mu * (1.0 - rho))
            }
        }
    }
}

/// Mean service time of every queue case (10 ms, so mu = 100/s).
const SERVICE: SimDuration = SimDuration::from_millis(10);

/// One queue case at load `rho`: [`REPLICATIONS`] independent runs, each
/// dropping its first 10% of requests as warm-up.
pub fn queue(q: Queue, rho: f64, seed: u64) -> ValidationRow {
    let mu = 1.0 / SERVICE.as_secs_f64();
    let c = q.servers();
    let lambda = rho * mu * f64::from(c);
    // Heavier load relaxes more slowly and varies more: more requests.
    let per_run: u32 = if rho > 0.9 { 100_000 } else { 30_000 };
    let service = match q {
        Queue::MD1 => Dist::constant(SERVICE),
        Queue::MM1 | Queue::MM4 => Dist::exponential(SERVICE),
    };
    let (s, p) = queue_scenario(lambda, service, c, per_run);
    let mut means = Vec::new();
    let mut n = 0;
    for r in 0..REPLICATIONS {
        let rt = response_times(&s, &p, replication_seed(seed, r));
        let kept = &rt[rt.len() / 10..];
        n += kept.len() as u64;
        means.push(kept.iter().sum::<f64>() / kept.len() as f64);
    }
    let name = match q {
        Queue::MM1 => "M/M/1",
        Queue::MM4 => "M/M/4",
        Queue::MD1 => "M/D/1",
    };
    ValidationRow::new(
        format!("{name} rho={rho}"),
        "mean response time (s)",
        Estimate::of_replications(&means),
        q.mean_response(lambda, mu),
        q.mean_response(lambda, mu / (1.0 + RESOLUTION)),
        n,
    )
}

/// The queueing cases: M/M/1, M/M/c (c = 4) and M/D/1 at loads 0.5, 0.8, 0.95.
pub fn queues(seed: u64) -> Vec<ValidationRow> {
    let mut rows = Vec::new();
    for rho in [0.5, 0.8, 0.95] {
        for q in Queue::ALL {
            rows.push(queue(q, rho, seed));
        }
    }
    rows
}

/// Little's law, checked independently of the bookkeeping that times every
/// unit: on the M/M/1 queue at rho = 0.8, the number in the system is read
/// at random instants (exponential gaps from a stream of its own, so by
/// PASTA their mean estimates the time-average L) and compared with the
/// arrival rate times the mean response time the users saw. Each of
/// [`REPLICATIONS`] runs gives one difference; their t interval, centred on
/// the sampled L, must cover lambda x W.
pub fn little(seed: u64) -> ValidationRow {
    let (s, p) = queue_scenario(80.0, Dist::exponential(SERVICE), 1, 80_000);
    let (mut sampled, mut law, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
    let mut n = 0;
    for r in 0..REPLICATIONS {
        let seed = replication_seed(seed, r);
        let mut built = build(&s, &p, seed, TraceMode::Off).expect("valid scenario");
        let mut rng = RngFactory::new(seed).stream("validation/pasta");
        let (mut t, mut sum, mut k) = (SimTime::ZERO, 0.0, 0u64);
        let end = SimTime::ZERO + s.workload.duration;
        loop {
            t += SimDuration::from_secs_f64(sim_core::draw::exp1(&mut rng) / 20.0);
            if t >= end {
                break;
            }
            built.sim.run_until(t);
            let pool =
                built.sim.component(s.topology().id(Role::Source)).service().workers().expect("profile has workers");
            sum += f64::from(pool.busy()) + pool.waiting() as f64;
            k += 1;
        }
        built.sim.run_until(s.horizon());
        let report = RunReport::measure(&s, &p, &built.sim, seed, false);
        // Over the arrival window, where the samples were taken.
        let lambda = report.requests as f64 / s.workload.duration.as_secs_f64();
        let l = sum / k as f64;
        let lw = lambda * report.response_time.mean;
        sampled.push(l);
        law.push(lw);
        diffs.push(l - lw);
        n += k;
    }
    let d = Estimate::of_replications(&diffs);
    let l = sampled.iter().sum::<f64>() / sampled.len() as f64;
    let lw = law.iter().sum::<f64>() / law.len() as f64;
    // Over the window the queue fills and empties again (arrivals stop once
    // every customer has left), so L is no stationary M/M/1 value: the law
    // itself is the model, and the wrong model is the law off by 5%.
    ValidationRow::new(
        "Little's law at Profile, M/M/1 rho=0.8 (L sampled at random instants)".into(),
        "L (mean number in system)",
        Estimate { mean: l, ..d },
        lw,
        lw * (1.0 + RESOLUTION),
        n,
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
    let lags: Vec<f64> = r.request_log.iter().filter_map(|q| q.lags()).map(|l| l.from_answer.as_secs_f64()).collect();
    let half_t = t.as_secs_f64() / 2.0;
    ValidationRow::new(
        "background sync every 10 min, free processing".into(),
        "mean lag after the answer (s)",
        Estimate::of_iid(&lags),
        half_t,
        half_t * (1.0 + RESOLUTION),
        lags.len() as u64,
    )
}

/// Orchestrated calls over a link that loses each request with probability
/// p: attempts per call follow a geometric law with mean 1/(1-p).
pub fn retries(seed: u64) -> ValidationRow {
    let p_loss = 0.2;
    let mut s = Scenario { customers: 60_000, ..Default::default() };
    s.workload.rate_per_s = 10.0;
    s.workload.duration = SimDuration::from_mins(90);
    s.workload.drain = SimDuration::from_mins(10);
    s.workload.client_timeout = SimDuration::from_hours(1);
    s.network.links.push(crate::config::LinkOverride {
        from: "orchestrator".into(),
        to: "contract".into(),
        link: LinkConfig { loss: p_loss, ..s.network.default.clone() },
    });
    // Enough retries that the truncated law is the geometric one (p^21 ~ 2e-15).
    let cfg = OrchestratedConfig { max_retries: 20, backoff: SimDuration::from_millis(10), ..Default::default() };
    let r = run(&s, &PatternConfig::Orchestrated(cfg), seed, RunOptions::default()).expect("valid scenario");
    // One Contract call per saga; every retry in this run is a Contract retry.
    let calls = r.requests as f64;
    let mean = 1.0 + r.counters.retries as f64 / calls;
    // Geometric: variance p / (1-p)^2 per call, independent across calls.
    let std_err = (p_loss / ((1.0 - p_loss) * (1.0 - p_loss)) / calls).sqrt();
    ValidationRow::new(
        format!("orchestrated, loss {p_loss} on orchestrator->contract"),
        "attempts per call",
        Estimate { mean, std_err, dof: None },
        1.0 / (1.0 - p_loss),
        1.0 / (1.0 - p_loss * (1.0 + RESOLUTION)),
        r.requests,
    )
}

/// Hourly background sync and a 2-hour billing period: a leaver's billing
/// offset is uniform in the period and its row stays for a lag L of at most
/// one sync interval T, so it is charged after being told "no longer
/// billed" with probability L/P, and the share of leavers charged late is
/// E\[L\]/P = (T/2)/P. The analytic value comes from the configuration alone.
pub fn billing_anomaly(seed: u64) -> ValidationRow {
    let mut s = Scenario { customers: 100_000, ..Default::default() };
    s.workload.rate_per_s = 20.0;
    s.workload.duration = SimDuration::from_hours(1);
    s.workload.drain = SimDuration::from_mins(70);
    s.billing.period = SimDuration::from_hours(2);
    let sync = SyncConfig::default();
    let interval = sync.interval.as_secs_f64();
    let p = PatternConfig::BackgroundSync(sync);
    let r = run(&s, &p, seed, RunOptions::default()).expect("valid scenario");
    let n = r.answered_ok as f64;
    let share = r.counters.charges_after_unsubscribe as f64 / n;
    let period = s.billing.period.as_secs_f64();
    let expected = interval / 2.0 / period;
    ValidationRow::new(
        "background sync hourly, 2-hour billing period".into(),
        "share of leavers charged late",
        Estimate { mean: share, std_err: (expected * (1.0 - expected) / n).sqrt(), dof: None },
        expected,
        expected * (1.0 + RESOLUTION),
        r.answered_ok,
    )
}

/// Followers in the fan-out cases.
pub const FAN_OUT: u32 = 8;

/// Mean follower service time in the fan-out cases (mu = 10/s).
const FAN_OUT_SERVICE: SimDuration = SimDuration::from_millis(100);

/// The source's constant service time in the fan-out cases.
const FAN_OUT_SOURCE: SimDuration = SimDuration::from_millis(10);

/// A fan-out scenario: the orchestrator calls [`FAN_OUT`] followers with
/// exponential service times of mean 1/mu, at a load low enough that no
/// call waits for a worker, with no network delay and no timeouts, so a
/// saga's response time is the source's time plus its calls' times.
fn fan_out_scenario(requests: u32, error_rate: f64) -> Scenario {
    let mut s = Scenario { customers: requests, ..Default::default() };
    s.workload.rate_per_s = 2.0;
    s.workload.duration = SimDuration::from_secs_f64(1.5 * f64::from(requests) / s.workload.rate_per_s);
    s.workload.drain = SimDuration::from_mins(10);
    s.workload.client_timeout = SimDuration::from_hours(1000);
    s.network.default = LinkConfig::with_latency(Dist::constant(SimDuration::ZERO));
    s.services.profile.request_time = Dist::constant(FAN_OUT_SOURCE);
    s.services.orchestrator.request_time = Dist::constant(SimDuration::ZERO);
    s.services.orchestrator.workers = 1_000;
    let mut f = FollowerConfig {
        name: Some("svc".into()),
        table: Some("rows".into()),
        count: Some(FAN_OUT),
        ..Default::default()
    };
    f.service.workers = 1_000;
    f.service.request_time = Dist::exponential(FAN_OUT_SERVICE);
    f.service.error_rate = error_rate;
    s.followers = vec![f];
    s
}

/// The N-th harmonic number.
pub fn harmonic(n: u32) -> f64 {
    (1..=n).map(|k| 1.0 / f64::from(k)).sum()
}

/// Orchestrated fan-out to N followers at low load, with follower service
/// times Exp(mu): in parallel, the response is the source's time plus
/// E\[max of N Exp(mu)\] = H_N / mu; serially, plus N / mu.
pub fn fan_out(order: Order, seed: u64) -> ValidationRow {
    let s = fan_out_scenario(5_000, 0.0);
    let cfg = OrchestratedConfig { order, call_timeout: SimDuration::from_hours(1), ..Default::default() };
    let p = PatternConfig::Orchestrated(cfg);
    let rt = response_times(&s, &p, seed);
    let mean = |mu: f64| {
        let calls = match order {
            Order::Parallel => harmonic(FAN_OUT) / mu,
            Order::Serial => f64::from(FAN_OUT) / mu,
        };
        FAN_OUT_SOURCE.as_secs_f64() + calls
    };
    let mu = 1.0 / FAN_OUT_SERVICE.as_secs_f64();
    let (name, law) = match order {
        Order::Parallel => ("parallel", "H_N/mu"),
        Order::Serial => ("serial", "N/mu"),
    };
    ValidationRow::new(
        format!("orchestrated {name} fan-out to {FAN_OUT} followers, Exp(mu) service, source + {law}"),
        "mean response time (s)",
        Estimate::of_iid(&rt),
        mean(mu),
        mean(mu / (1.0 + RESOLUTION)),
        rt.len() as u64,
    )
}

/// `x^n` by `n` multiplications in order: the same bits in every build.
/// `f64::powi`'s precision is unspecified: LLVM folds it at compile time
/// in some builds and calls a runtime routine in others, and the two gave
/// this table's compensation row different last digits with and without
/// link-time optimisation.
fn pow(x: f64, n: u32) -> f64 {
    (0..n).fold(1.0, |acc, _| acc * x)
}

/// Orchestrated parallel fan-out to N followers, each call failing with
/// probability p and retried r times: a saga compensates when some
/// follower's call fails every attempt, with probability 1 - (1 - p^(r+1))^N.
pub fn fan_out_compensation(seed: u64) -> ValidationRow {
    let (p_fail, retries) = (0.2, 1);
    let s = fan_out_scenario(20_000, p_fail);
    let cfg = OrchestratedConfig {
        max_retries: retries,
        backoff: SimDuration::from_millis(10),
        call_timeout: SimDuration::from_hours(1),
        ..Default::default()
    };
    let r = run(&s, &PatternConfig::Orchestrated(cfg), seed, RunOptions::default()).expect("valid scenario");
    let law = |p: f64| 1.0 - pow(1.0 - pow(p, retries + 1), FAN_OUT);
    let n = r.requests as f64;
    let share = r.counters.compensations as f64 / n;
    let expected = law(p_fail);
    ValidationRow::new(
        format!("orchestrated fan-out to {FAN_OUT} followers, call error rate {p_fail}, {retries} retry"),
        "share of sagas compensated",
        Estimate { mean: share, std_err: (expected * (1.0 - expected) / n).sqrt(), dof: None },
        expected,
        law(p_fail * (1.0 + RESOLUTION)),
        r.requests,
    )
}

/// Every case.
pub fn all(seed: u64) -> Vec<ValidationRow> {
    let mut rows = queues(seed);
    rows.push(little(seed));
    rows.push(sync_lag(seed));
    rows.push(retries(seed));
    rows.push(billing_anomaly(seed));
    rows.push(fan_out(Order::Parallel, seed));
    rows.push(fan_out(Order::Serial, seed));
    rows.push(fan_out_compensation(seed));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replication_interval_covers_as_often_as_it_claims() {
        // 4,000 independent sets of 10 normal draws: the 99% Student-t
        // interval must miss the true mean about 40 times (binomial sd 6.3).
        let mut rng = RngFactory::new(3).stream("test/coverage");
        let trials = 4_000;
        let misses = (0..trials)
            .filter(|_| {
                let xs: Vec<f64> = (0..10).map(|_| 5.0 + 2.0 * sim_core::draw::std_normal(&mut rng)).collect();
                let e = Estimate::of_replications(&xs);
                (e.mean - 5.0).abs() > e.half_width(0.99)
            })
            .count() as f64;
        let (expect, sd) = (0.01 * f64::from(trials), (f64::from(trials) * 0.01 * 0.99).sqrt());
        assert!((misses - expect).abs() < 4.5 * sd, "{misses} misses in {trials}, expected {expect} +- {sd}");
    }

    #[test]
    fn erlang_c_matches_known_values() {
        // One server: the probability of waiting is rho.
        assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-12);
        // c = 2, a = 1: C = 1/3 (textbook value).
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    }
}
