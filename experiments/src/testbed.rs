//! `ecsim testbed`: turns what the real testbed measured into an ecsim
//! config (calibration), and sets ecsim's prediction from that config beside
//! the measurement (comparison).
//!
//! Calibration gives ecsim every number the testbed run had: its customers,
//! rate, duration, workers, timeouts and batch size from `run.json`, and its
//! measured times as empirical distributions (103 percentiles each):
//! - each service's time per unit of work, from a worker taking it to its
//!   end (less the orchestrator's waits on its calls);
//! - the one-way network latency, from every HTTP call's round trip less
//!   the callee's own time, halved;
//! - the broker's publish-to-delivery time as its `publish_time`, with the
//!   links to and from the broker at zero, since that measured time already
//!   holds both hops;
//! - the sync job's scan and write times per row.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use patterns::validation::Estimate;
use serde::Serialize;
use testbed::info::{Pattern, RunInfo};
use testbed::measure::{Records, Step};
use testbed::stats::{quantile, quantile_interval};

use crate::charts;
use crate::output::write_atomic;
use crate::UsageError;

/// Bad input (a folder that is not what it should be): exit code 2.
fn bad(msg: String) -> anyhow::Error {
    UsageError(msg).into()
}

/// A testbed run's records; a folder that is not one is bad input.
fn records(dir: &Path) -> Result<Records> {
    Records::read(dir).map_err(|e| bad(format!("{e:#}")))
}

/// The percentiles an empirical distribution is drawn through.
fn grid() -> Vec<f64> {
    let mut q: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
    q.extend([0.995, 0.999, 1.0]);
    q
}

/// A sample as an ecsim `empirical` distribution (whole nanoseconds).
fn empirical(what: &str, sample: &[f64]) -> Result<String> {
    if sample.is_empty() {
        return Err(bad(format!("no measurements of {what}: the run recorded none")));
    }
    let points: Vec<String> =
        grid().into_iter().map(|q| format!("[{q}, \"{}ns\"]", (quantile(sample, q) * 1e9).round() as u64)).collect();
    Ok(format!("{{ kind = \"empirical\", points = [{}] }}", points.join(", ")))
}

fn ns(secs: f64) -> String {
    format!("\"{}ns\"", (secs * 1e9).round() as u64)
}

fn median(sample: &[f64]) -> f64 {
    quantile(sample, 0.5)
}

/// Each step's `time_correlation`: how the measured times of the steps
/// of one unsubscribe go together (`paired`: two steps' times for the same
/// requests), as the loadings of a one-factor Gaussian copula.
///
/// The copula correlation of two steps is `2 sin(pi rho_s / 6)` of their
/// Spearman correlation. With one shared factor, steps `i` and `j`
/// correlate by `sqrt(c_i c_j)`, so each `c_i` is `r_ij r_ik / r_jk`
/// (averaged over the pairs `j`, `k` of other steps); with two steps only,
/// both get their correlation. Empty with fewer than 30 requests paired,
/// or when nothing correlates (the model has no negative correlation).
fn step_correlations<S>(steps: &[S], paired: impl Fn(&S, &S) -> Vec<(f64, f64)>) -> Vec<f64> {
    let n = steps.len();
    let mut corr = vec![vec![1.0; n]; n];
    for i in 0..n {
        for j in i + 1..n {
            let p = paired(&steps[i], &steps[j]);
            let rank = testbed::stats::spearman(&p);
            if p.len() < 30 || !rank.is_finite() {
                // Too few to estimate, or a step whose every time was the
                // same: nothing to rank.
                return Vec::new();
            }
            let c = testbed::stats::copula_correlation(rank);
            corr[i][j] = c;
            corr[j][i] = c;
        }
    }
    let loadings: Vec<f64> = (0..n)
        .map(|i| {
            if n == 2 {
                return corr[0][1];
            }
            let mut fits = Vec::new();
            for j in (0..n).filter(|&j| j != i) {
                for k in (j + 1..n).filter(|&k| k != i) {
                    // A pair that barely correlates gives no usable ratio,
                    // and a negative correlation no loading (two negatives
                    // would make a positive one).
                    if corr[j][k] > 0.05 && corr[i][j] > 0.0 && corr[i][k] > 0.0 {
                        fits.push(corr[i][j] * corr[i][k] / corr[j][k]);
                    }
                }
            }
            if fits.is_empty() {
                0.0
            } else {
                fits.iter().sum::<f64>() / fits.len() as f64
            }
        })
        .map(|c: f64| c.clamp(0.0, 1.0))
        .collect();
    if loadings.iter().all(|&c| c == 0.0) {
        return Vec::new();
    }
    loadings
}

/// The ecsim config that predicts the run in `measured` (a testbed run's
/// folder), as TOML text: its parameters and faults from that run, its
/// times from `times_from` if given (a healthy run of the same pattern, so
/// that a fault scenario is predicted from the healthy system rather than
/// fitted to the faulty one), otherwise from the run itself.
pub(crate) fn calibrate(measured: &Path, times_from: Option<&Path>, replications: u32) -> Result<String> {
    let own = records(measured)?;
    let healthy = times_from.map(records).transpose()?;
    if let Some(h) = &healthy {
        if h.info.pattern != own.info.pattern {
            return Err(bad(format!(
                "{}: a {} run cannot lend its times to a {} run",
                times_from.map(|p| p.display().to_string()).unwrap_or_default(),
                h.info.pattern.kind(),
                own.info.pattern.kind()
            )));
        }
    }
    let r = healthy.as_ref().unwrap_or(&own);
    let i = &own.info;
    let kind = i.pattern.kind();
    let mut t = String::new();
    let w = &mut t;
    writeln!(w, "# Calibrated by `ecsim testbed calibrate` from the testbed run in {}.", measured.display())?;
    match times_from {
        Some(h) => {
            writeln!(w, "# Every time below is an empirical distribution of what the run in {} measured.", h.display())?
        }
        None => writeln!(w, "# Every time below is an empirical distribution of what that run measured.")?,
    }
    writeln!(w, "name = \"testbed-{kind}\"")?;
    writeln!(
        w,
        "description = \"ecsim's prediction of the testbed's {kind} run: {} unsubscribes/s for {} s over {} customers\"",
        i.rate_per_s, i.duration_s, i.customers
    )?;
    writeln!(w, "seed = 42\nreplications = {replications}\ncustomers = {}\n", i.customers)?;
    let drain = match i.pattern {
        Pattern::BackgroundSync => 2.0 * i.sync_interval_s + 30.0,
        _ => 30.0,
    };
    writeln!(w, "[workload]\nrate_per_s = {}", i.rate_per_s)?;
    writeln!(
        w,
        "duration = {}\ndrain = {}\nclient_timeout = {}\n",
        ns(i.duration_s),
        ns(drain),
        ns(i.client_timeout_s)
    )?;
    // A saga's calls are modelled whole (below); the network's hops are
    // then the user's to the orchestrator only.
    let hops = match i.pattern {
        Pattern::Orchestrated => r.hop_latency_from(Some("client")),
        _ => r.hop_latency(),
    };
    writeln!(w, "[network.default]\nlatency = {}\n", empirical("network hops (HTTP calls)", &hops)?)?;
    // The user's own hops, each direction measured apart (see
    // `Records::user_hops`): the way there is the slower one.
    let entry = match i.pattern {
        Pattern::Orchestrated => ("orchestrator", "saga"),
        _ => ("profile", "unsubscribe"),
    };
    let (to, back) = r.user_hops(entry.0, entry.1);
    for (from, dest, sample) in [("client", entry.0, &to), (entry.0, "client", &back)] {
        writeln!(w, "[[network.links]]\nfrom = \"{from}\"\nto = \"{dest}\"")?;
        writeln!(w, "latency = {}\n", empirical(&format!("the user's hop from {from} to {dest}"), sample)?)?;
    }
    let svc = |w: &mut String, name: &str, workers: usize, request: String, scan: f64, write: f64| -> Result<()> {
        writeln!(w, "[services.{name}]\nworkers = {workers}\nrequest_time = {request}")?;
        writeln!(w, "scan_time_per_row = {}\nwrite_time_per_row = {}", ns(scan), ns(write))?;
        Ok(())
    };
    // The steps of one unsubscribe go together in the testbed (one
    // PostgreSQL server, one host, the same moment): their measured rank
    // correlations become the model's shared factor.
    let called: Vec<&str> = std::iter::once("profile").chain(i.followers.iter().map(String::as_str)).collect();
    let (steps, loadings): (Vec<&str>, Vec<f64>) = match i.pattern {
        Pattern::BackgroundSync => (Vec::new(), Vec::new()),
        // A saga's steps are whole calls (see below).
        Pattern::Orchestrated => {
            (called.clone(), step_correlations(&called, |a, b| r.paired_round_trips("orchestrator", a, b)))
        }
        // The broker's persist is a step too: on one host its transit goes
        // with the services' times (Spearman about 0.55 at 50 requests/s),
        // and left independent it would make the model's lag, a sum of the
        // two, too long at the median.
        Pattern::EventBased => {
            let steps: Vec<(&str, Step<'_>)> =
                std::iter::once(("profile", Step::Work { service: "profile", op: "unsubscribe" }))
                    .chain(std::iter::once(("broker", Step::Transit)))
                    .chain(i.followers.iter().map(|f| (f.as_str(), Step::Work { service: f, op: "deliver" })))
                    .collect();
            let loadings = step_correlations(&steps, |a, b| r.paired_steps(a.1, b.1));
            let steps = steps.into_iter().map(|s| s.0).collect();
            (steps, loadings)
        }
    };
    let correlated = |w: &mut String, service: &str| -> Result<()> {
        if let Some(k) = steps.iter().position(|s| *s == service).filter(|&k| k < loadings.len()) {
            writeln!(w, "# One shared factor per unsubscribe, fitted to the Spearman correlations of")?;
            writeln!(w, "# this step's measured times with the request's other steps.")?;
            writeln!(w, "time_correlation = {:.3}", loadings[k])?;
        }
        Ok(())
    };
    let customers = f64::from(i.customers);
    match i.pattern {
        Pattern::BackgroundSync => {
            let scan = |table: &str| {
                let per_row: Vec<f64> =
                    r.sync.iter().filter(|p| p.table == table).map(|p| p.scan_ns as f64 / 1e9 / customers).collect();
                median(&testbed::stats::sorted(per_row))
            };
            let write = |table: &str| {
                let (t, n) = r
                    .sync
                    .iter()
                    .filter(|p| p.table == table)
                    .fold((0.0, 0u64), |(t, n), p| (t + p.delete_ns as f64 / 1e9, n + p.rows_deleted));
                if n == 0 {
                    0.0
                } else {
                    t / n as f64
                }
            };
            let profile = r.service_times("profile", "unsubscribe");
            svc(w, "profile", i.workers, empirical("Profile's unsubscribe", &profile)?, scan("profile"), 0.0)?;
            writeln!(w)?;
            // The followers serve only the job's scans and batch deletes,
            // whose whole measured time goes into the per-row costs.
            for f in &i.followers {
                svc(w, f, i.workers, "{ kind = \"constant\", value = \"0s\" }".into(), scan(f), write(f))?;
                writeln!(w)?;
            }
            writeln!(w, "[[patterns]]\nkind = \"background_sync\"\ndetect = \"diff\"")?;
            writeln!(w, "interval = {}\nbatch_size = {}", ns(i.sync_interval_s), i.batch_size)?;
        }
        Pattern::Orchestrated => {
            // Each call whole, hops included, as the called service's time
            // over links of no latency: on the testbed the hops of one
            // request are fast or slow together with its services' times
            // (Spearman 0.4 to 0.6 at 10 requests/s), and this way the
            // shared factor covers them too.
            for s in &called {
                let rtt = r.round_trips("orchestrator", s);
                svc(w, s, i.workers, empirical(&format!("the orchestrator's call to {s}"), &rtt)?, 0.0, 0.0)?;
                correlated(w, s)?;
                writeln!(w)?;
            }
            for s in &called {
                for (from, to) in [("orchestrator", *s), (*s, "orchestrator")] {
                    writeln!(w, "[[network.links]]\nfrom = \"{from}\"\nto = \"{to}\"")?;
                    writeln!(w, "latency = {{ kind = \"constant\", value = \"0s\" }}\n")?;
                }
            }
            let own = r.service_times("orchestrator", "saga");
            svc(w, "orchestrator", i.workers, empirical("the orchestrator's own time", &own)?, 0.0, 0.0)?;
            writeln!(w)?;
            writeln!(w, "[[patterns]]\nkind = \"orchestrated\"\nplacement = \"dedicated\"\norder = \"parallel\"")?;
            writeln!(
                w,
                "call_timeout = {}\nmax_retries = {}\nbackoff = {}",
                ns(i.call_timeout_s),
                i.max_retries,
                ns(i.backoff_s)
            )?;
        }
        Pattern::EventBased => {
            let profile = r.service_times("profile", "unsubscribe");
            svc(w, "profile", i.workers, empirical("Profile's delete", &profile)?, 0.0, 0.0)?;
            correlated(w, "profile")?;
            writeln!(w)?;
            for f in &i.followers {
                let d = r.service_times(f, "deliver");
                svc(w, f, i.workers, empirical(&format!("{f}'s handling of an event"), &d)?, 0.0, 0.0)?;
                correlated(w, f)?;
                writeln!(w)?;
            }
            // The measured publish-to-delivery time holds both hops and the
            // broker's persist; it all goes into `publish_time`, with as
            // many broker workers as the subscribers' prefetch so that the
            // model adds no queueing the measurement already holds.
            writeln!(w, "[services.broker]\nworkers = {}", 2 * u32::from(i.prefetch))?;
            writeln!(w, "publish_time = {}", empirical("publish to delivery", &r.broker_transit())?)?;
            correlated(w, "broker")?;
            writeln!(w, "prefetch = {}\nmax_deliveries = {}\n", i.prefetch, i.max_deliveries)?;
            for f in std::iter::once("profile").chain(i.followers.iter().map(String::as_str)) {
                for (from, to) in [(f, "broker"), ("broker", f)] {
                    writeln!(w, "[[network.links]]\nfrom = \"{from}\"\nto = \"{to}\"")?;
                    writeln!(w, "latency = {{ kind = \"constant\", value = \"0s\" }}\n")?;
                }
            }
            let gap = median(&r.waited("profile", "unsubscribe"));
            writeln!(w, "[[patterns]]\nkind = \"event_based\"\noutbox = {}", i.outbox)?;
            writeln!(w, "publish_gap = {}\npublish_timeout = {}", ns(gap), ns(i.publish_timeout_s))?;
        }
    }
    if let Some(o) = &i.outage {
        // Down from the stop command to the start command's return: the
        // broker refuses connections somewhere inside `stop_app` and is
        // surely back when `start_app` returns.
        writeln!(w, "\n[[faults]]\nkind = \"crash\"\nnode = \"broker\"")?;
        writeln!(w, "at = {}\nrestart_after = {}", ns(o.stop_begin_s), ns(o.start_end_s - o.stop_begin_s))?;
    }
    // Whatever we wrote must load as a config, or calibration is wrong.
    crate::config::load_str(&t, "calibrated config").map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(t)
}

/// One compared quantity.
#[derive(Debug, Serialize)]
struct Row {
    pattern: String,
    metric: String,
    measured: f64,
    measured_lo: f64,
    measured_hi: f64,
    /// The median of the replications' values.
    predicted: f64,
    /// The replications' range: a run of the same size falls outside it
    /// with probability 2 / (R + 1) when the model is right (R replications).
    predicted_lo: f64,
    predicted_hi: f64,
    /// predicted / measured - 1.
    error: f64,
    /// Requests (response) or converged customers (lag) measured.
    samples: usize,
    /// Whether the measurement lies in the replications' range.
    in_range: bool,
    /// The prediction across replications (for the check's own level).
    #[serde(skip)]
    estimate: Estimate,
}

/// Fails unless every nonzero p50 (response and lag, each pattern) agrees
/// with its prediction within their sampling error and `tolerance`: the
/// distribution-free interval of the measured median (order statistics)
/// and the Student-t interval of the predicted one (across replications),
/// widened by the fraction `tolerance` on each side, must overlap. The
/// level is Bonferroni-corrected so that all the checks together have a 5%
/// chance of a false alarm when the model is within `tolerance`.
///
/// Why a tolerance: the replications' interval holds the simulation's
/// noise only, and with the calibration's own small biases (1% to 3.4% at
/// the p50 on this machine class, of either sign between machines) a
/// short run's 548 requests already tell them apart from the model: an
/// exact test failed 1 of 4 60-second runs here (4 of 5 before the
/// user's hops were measured each way).
fn check_p50s(rows: &[Row], samples: &[(String, Vec<f64>, Vec<f64>)], tolerance: f64) -> Result<()> {
    let checked: Vec<&Row> = rows.iter().filter(|r| r.metric.ends_with("p50") && r.measured > 0.0).collect();
    let level = 1.0 - 0.05 / checked.len().max(1) as f64;
    // The normal quantile of the two-sided level: a unit standard error's half-width.
    let z = Estimate { mean: 0.0, std_err: 1.0, dof: None }.half_width(level);
    let mut bad = Vec::new();
    for r in checked {
        let Some((_, response, lag)) = samples.iter().find(|s| s.0 == r.pattern) else { continue };
        let sample = if r.metric.starts_with("lag") { lag } else { response };
        let (lo, hi) = quantile_interval(sample, 0.5, z);
        let half = r.estimate.half_width(level);
        let (plo, phi) = ((r.estimate.mean - half) * (1.0 - tolerance), (r.estimate.mean + half) * (1.0 + tolerance));
        if phi < lo || plo > hi {
            bad.push(format!(
                "{} {}: measured {:.6} s ({:.1}% interval {lo:.6}..{hi:.6}, n = {}), predicted {:.6} s ({plo:.6}..{phi:.6} with {:.1}% either way)",
                r.pattern,
                r.metric,
                r.measured,
                level * 100.0,
                sample.len(),
                r.estimate.mean,
                tolerance * 100.0
            ));
        }
    }
    if !bad.is_empty() {
        bail!(
            "prediction and measurement disagree beyond their sampling error and the {:.1}% tolerance:\n  {}",
            tolerance * 100.0,
            bad.join("\n  ")
        );
    }
    Ok(())
}

/// `summary.csv` columns compared, with the measured sample each comes from.
const METRICS: [(&str, f64); 6] = [
    ("response_p50_s", 0.5),
    ("response_p95_s", 0.95),
    ("response_p99_s", 0.99),
    ("lag_p50_s", 0.5),
    ("lag_p95_s", 0.95),
    ("lag_p99_s", 0.99),
];

/// The comparison folder's pattern folders: each holds `measured/` (a
/// testbed run) and `predicted/` (ecsim's run of the calibrated config).
fn pattern_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
    for e in entries {
        let p = e?.path();
        if p.join("measured").join("run.json").is_file() {
            out.push(p);
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(bad(format!("{}: no PATTERN/measured/run.json in it", dir.display())));
    }
    Ok(out)
}

fn predicted(summary: &Path, column: &str) -> Result<Vec<f64>> {
    let mut rd = csv::Reader::from_path(summary)
        .map_err(|e| bad(format!("{}: {e} (run ecsim on the calibrated config first)", summary.display())))?;
    let headers = rd.headers()?.clone();
    let k = headers
        .iter()
        .position(|h| h == column)
        .ok_or_else(|| bad(format!("{}: no column {column}", summary.display())))?;
    let mut out = Vec::new();
    for row in rd.records() {
        out.push(row?.get(k).unwrap_or("NaN").parse::<f64>().unwrap_or(f64::NAN));
    }
    Ok(out)
}

/// Compares every pattern in `dir`; writes `comparison.csv` and the chart.
/// With `check` (a tolerance), fails unless each p50 agrees within what the
/// two sample sizes allow and that fraction (see `check_p50s`).
pub(crate) fn compare(dir: &Path, check: Option<f64>) -> Result<String> {
    let mut rows = Vec::new();
    let mut messages = Vec::new();
    let mut samples = Vec::new();
    for p in pattern_dirs(dir)? {
        let rec = records(&p.join("measured"))?;
        let info: &RunInfo = &rec.info;
        let kind = info.pattern.kind().to_string();
        let summary = p.join("predicted").join("summary.csv");
        let response = rec.response();
        let (lag, _) = rec.lag();
        samples.push((kind.clone(), response.clone(), lag.clone()));
        for (column, q) in METRICS {
            let sample = if column.starts_with("lag") { &lag } else { &response };
            let (lo, hi) = quantile_interval(sample, q, 1.96);
            let reps = predicted(&summary, column)?;
            let est = Estimate::of_replications(&reps);
            let reps = testbed::stats::sorted(reps);
            // The median replication: a high percentile of a heavy-tailed
            // time is itself heavy-tailed across runs, and a mean of it
            // follows its rare outliers.
            let predicted = quantile(&reps, 0.5);
            let measured = quantile(sample, q);
            rows.push(Row {
                pattern: kind.clone(),
                metric: column.trim_end_matches("_s").into(),
                measured,
                measured_lo: lo,
                measured_hi: hi,
                predicted,
                predicted_lo: reps.first().copied().unwrap_or(f64::NAN),
                predicted_hi: reps.last().copied().unwrap_or(f64::NAN),
                error: if measured > 0.0 { predicted / measured - 1.0 } else { f64::NAN },
                samples: sample.len(),
                in_range: (reps.first().copied().unwrap_or(f64::NAN)..=reps.last().copied().unwrap_or(f64::NAN))
                    .contains(&measured),
                estimate: est,
            });
        }
        let pm = Estimate::of_replications(&predicted(&summary, "messages_per_request")?).mean;
        messages.push((kind, rec.messages_per_request(), pm));
    }
    let mut text = String::new();
    writeln!(text, "{:<16} {:<14} {:>12} {:>12} {:>8}", "pattern", "metric", "measured", "predicted", "error")?;
    for r in &rows {
        writeln!(
            text,
            "{:<16} {:<14} {:>12} {:>12} {:>7.1}%",
            r.pattern,
            r.metric,
            charts::natural(r.measured),
            charts::natural(r.predicted),
            r.error * 100.0
        )?;
    }
    for (k, m, p) in &messages {
        writeln!(text, "{k:<16} {:<14} {m:>12.3} {p:>12.3} {:>7.1}%", "messages/req", (p / m - 1.0) * 100.0)?;
    }
    let mut csv_out = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        csv_out.serialize(r)?;
    }
    write_atomic(&dir.join("comparison.csv"), &csv_out.into_inner()?)?;
    let mut series = Vec::new();
    for kind in Pattern::ALL.map(Pattern::kind) {
        for what in ["response", "lag"] {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.pattern == kind && r.metric.starts_with(what) && r.measured > 0.0 && r.predicted > 0.0)
                .map(|r| (r.measured, r.predicted))
                .collect();
            if !pts.is_empty() {
                series.push((format!("{kind}: {what} p50, p95, p99"), pts));
            }
        }
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    charts::measured_vs_predicted(
        dir,
        "comparison",
        &format!("testbed {name}: ecsim's prediction against the measurement"),
        series,
    )?;
    if let Some(tolerance) = check {
        check_p50s(&rows, &samples, tolerance)?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testbed::record::{write_csv, Call, Deletion, Delivery, Request, SyncPass, Work};

    /// A tiny orchestrated run: two requests, their calls and work.
    fn fake_run(dir: &Path) {
        fake_run_with(dir, 2, |svc, _| match svc {
            "profile" => 1_000_000,
            "contract" => 2_000_000,
            _ => 3_000_000,
        });
    }

    /// A fake run's folder with its `run.json`: a `pattern` run of 5/s for
    /// 10 s over 100 customers, with the book's two followers.
    fn fake_info(dir: &Path, pattern: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let info = serde_json::json!({
            "pattern": pattern, "customers": 100, "rate_per_s": 5.0, "duration_s": 10.0, "seed": 1,
            "client_timeout_s": 30.0, "workers": 3, "followers": ["contract", "billing"], "sync_interval_s": 10.0,
            "batch_size": 500, "call_timeout_s": 2.0, "max_retries": 2, "backoff_s": 0.2, "outbox": false,
            "prefetch": 32, "max_deliveries": 5, "publish_timeout_s": 2.0, "messages": 16
        });
        std::fs::write(dir.join("run.json"), info.to_string()).unwrap();
    }

    /// An orchestrated run of `customers` requests in which `svc` took
    /// `ns(svc, customer)` to delete each customer's row.
    fn fake_run_with(dir: &Path, customers: i32, ns: impl Fn(&str, i32) -> u64) {
        fake_info(dir, "orchestrated");
        let reqs: Vec<Request> = (0..customers)
            .map(|c| Request { customer: c, sent_ns: 0, answered_ns: 3_000_000, outcome: "ok".into() })
            .collect();
        write_csv(&dir.join("requests.csv"), &reqs).unwrap();
        let mut work = Vec::new();
        let mut calls = Vec::new();
        for c in 0..customers {
            for svc in ["profile", "contract", "billing"] {
                let end = ns(svc, c);
                work.push(Work {
                    service: svc.into(),
                    op: "delete".into(),
                    customer: c,
                    arrived_ns: 0,
                    start_ns: 0,
                    end_ns: end,
                    waited_ns: 0,
                });
                calls.push(Call {
                    caller: "orchestrator".into(),
                    callee: svc.into(),
                    customer: c,
                    sent_ns: 0,
                    replied_ns: end + 400_000,
                    server_ns: end,
                    ok: true,
                });
            }
            // The user's call: 6 ms there and back, 5 ms of it the saga.
            calls.push(Call {
                caller: "client".into(),
                callee: "orchestrator".into(),
                customer: c,
                sent_ns: 0,
                replied_ns: 6_000_000,
                server_ns: 5_000_000,
                ok: true,
            });
            work.push(Work {
                service: "orchestrator".into(),
                op: "saga".into(),
                customer: c,
                arrived_ns: 0,
                start_ns: 0,
                end_ns: 5_000_000,
                waited_ns: 4_900_000,
            });
        }
        write_csv(&dir.join("work.csv"), &work).unwrap();
        write_csv(&dir.join("calls.csv"), &calls).unwrap();
        write_csv::<Deletion>(&dir.join("deletions.csv"), &[]).unwrap();
        write_csv::<Delivery>(&dir.join("deliveries.csv"), &[]).unwrap();
        write_csv::<SyncPass>(&dir.join("sync.csv"), &[]).unwrap();
    }

    /// One pattern's response p50 row, predicted at `predicted` s from 20
    /// replications of spread 1%, over a measured sample of 548 times
    /// spread evenly from 0.9 to 1.1 s (median 1 s).
    fn p50_check(predicted: f64, tolerance: f64) -> Result<()> {
        let sample: Vec<f64> = (0..548).map(|k| 0.9 + 0.2 * f64::from(k) / 547.0).collect();
        let reps: Vec<f64> = (0..20).map(|k| predicted * (0.99 + 0.02 * f64::from(k) / 19.0)).collect();
        let row = Row {
            pattern: "event_based".into(),
            metric: "response_p50".into(),
            measured: quantile(&sample, 0.5),
            measured_lo: 0.0,
            measured_hi: 0.0,
            predicted,
            predicted_lo: 0.0,
            predicted_hi: 0.0,
            error: 0.0,
            samples: sample.len(),
            in_range: true,
            estimate: Estimate::of_replications(&reps),
        };
        check_p50s(&[row], &[("event_based".into(), sample, Vec::new())], tolerance)
    }

    #[test]
    fn the_p50_check_allows_its_tolerance_beyond_both_sampling_errors() {
        // The measured median's 95% interval (one check, so 95%) spans
        // 1 +- 1.96 sqrt(548 / 4) / 548 * 0.2 s, about +-0.84%; the 20
        // replications' mean +-0.3%.
        p50_check(1.0, 0.0).unwrap();
        p50_check(1.011, 0.0).unwrap();
        let e = p50_check(1.03, 0.0).unwrap_err().to_string();
        assert!(e.contains("event_based response_p50") && e.contains("with 0.0% either way"), "{e}");
        // 3% off passes within 5%, 7% off does not, either way.
        p50_check(1.03, 0.05).unwrap();
        p50_check(0.97, 0.05).unwrap();
        let e = p50_check(1.07, 0.05).unwrap_err().to_string();
        assert!(e.contains("predicted 1.07") && e.contains("with 5.0% either way"), "{e}");
        assert!(p50_check(0.93, 0.05).is_err());
    }

    #[test]
    fn calibration_carries_the_runs_parameters_and_measured_times_into_a_valid_config() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("measured");
        fake_run(&run);
        let text = calibrate(&run, None, 3).unwrap();
        let exp = crate::config::load_str(&text, "calibrated").unwrap();
        let s = &exp.points[0].scenario;
        assert_eq!(s.customers, 100);
        assert_eq!(s.workload.rate_per_s, 5.0);
        assert_eq!(s.services.contract.workers, 3);
        // A saga's calls are modelled whole: Contract took 2 ms every time
        // and Billing 3 ms, each call 0.4 ms more there and back; the links
        // between the orchestrator and the services add nothing.
        let mut rng = sim_core::RngFactory::new(1).stream("t");
        let us = sim_core::SimDuration::from_micros;
        assert_eq!(s.services.contract.request_time.sample(&mut rng), us(2_400));
        assert_eq!(s.services.billing.request_time.sample(&mut rng), us(3_400));
        let zero = sim_core::Dist::constant(sim_core::SimDuration::ZERO);
        for svc in ["profile", "contract", "billing"] {
            let link = |from: &str, to: &str| {
                s.network.links.iter().find(|l| l.from == from && l.to == to).map(|l| l.link.latency.clone())
            };
            assert_eq!(link("orchestrator", svc), Some(zero.clone()), "{svc}");
            assert_eq!(link(svc, "orchestrator"), Some(zero.clone()), "{svc}");
        }
        // The user's round trip was the saga's time plus 1 ms: 0.5 ms each way.
        assert_eq!(s.network.default.latency.sample(&mut rng), us(500));
        assert_eq!(exp.replications, 3);
    }

    #[test]
    fn calibration_fits_one_shared_factor_to_the_steps_rank_correlations() {
        let ms = |x: i32| u64::try_from(x).unwrap() * 1_000_000;
        let dir = tempfile::tempdir().unwrap();
        // The loadings of Profile, Contract and Billing when Profile and
        // Contract take 1 + c ms for customer c and Billing `billing(c)`.
        let loadings = |customers: i32, billing: fn(i32) -> i32| {
            let run = dir.path().join(format!("run-{customers}-{}", billing(7)));
            fake_run_with(&run, customers, |svc, c| ms(if svc == "billing" { billing(c) } else { 1 + c }));
            let exp = crate::config::load_str(&calibrate(&run, None, 3).unwrap(), "calibrated").unwrap();
            let s = &exp.points[0].scenario.services;
            (s.profile.time_correlation, s.contract.time_correlation, s.billing.time_correlation)
        };
        // Every step in the same order: lockstep.
        assert_eq!(loadings(40, |c| 100 + c), (1.0, 1.0, 1.0));
        // Billing in the reverse order: a negative correlation, which the
        // model has not, so no shared factor at all.
        assert_eq!(loadings(40, |c| 100 - c), (0.0, 0.0, 0.0));
        // Billing in Profile's order with every 4th pair of neighbours
        // swapped: Spearman 1 - 6 * 10 * 2 / (40 * 1599) = 0.99812 with
        // both others, copula correlation r = 2 sin(pi rho_s / 6) = 0.99830.
        // One factor: Profile and Contract r * 1 / r = 1, Billing r * r / 1
        // = 0.99660, written as 0.997.
        assert_eq!(
            loadings(40, |c| if c % 4 == 0 {
                c + 1
            } else if c % 4 == 1 {
                c - 1
            } else {
                c
            }),
            (1.0, 1.0, 0.997)
        );
        // Fewer than 30 requests: too few to estimate; independent.
        assert_eq!(loadings(29, |c| 100 + c), (0.0, 0.0, 0.0));
    }

    /// An event-based run of `customers` requests: Profile's delete and
    /// each subscriber's handling take 1 + c ms for customer c, and the
    /// broker's transit (publish to delivery) `transit(c)` ms.
    fn fake_event_run(dir: &Path, customers: i32, transit: fn(i32) -> i32) {
        let ms = |x: i32| u64::try_from(x).unwrap() * 1_000_000;
        fake_info(dir, "event_based");
        let reqs: Vec<Request> = (0..customers)
            .map(|c| Request { customer: c, sent_ns: 0, answered_ns: ms(2 + c), outcome: "ok".into() })
            .collect();
        let mut work = Vec::new();
        let mut deliveries = Vec::new();
        // The user's calls: 0.2 ms each way around Profile's time.
        let calls: Vec<Call> = (0..customers)
            .map(|c| Call {
                caller: "client".into(),
                callee: "profile".into(),
                customer: c,
                sent_ns: 0,
                replied_ns: ms(1 + c) + 400_000,
                server_ns: ms(1 + c),
                ok: true,
            })
            .collect();
        let unit = |service: &str, op: &str, c: i32, start: u64, took: u64| Work {
            service: service.into(),
            op: op.into(),
            customer: c,
            arrived_ns: start,
            start_ns: start,
            end_ns: start + took,
            waited_ns: 0,
        };
        for c in 0..customers {
            work.push(unit("profile", "unsubscribe", c, 0, ms(1 + c)));
            let published = ms(1 + c);
            let delivered = published + ms(transit(c));
            for f in ["contract", "billing"] {
                deliveries.push(Delivery {
                    subscriber: f.into(),
                    customer: c,
                    published_ns: published,
                    delivered_ns: delivered,
                    redelivered: false,
                    outcome: "applied".into(),
                });
                work.push(unit(f, "deliver", c, delivered, ms(1 + c)));
            }
        }
        write_csv(&dir.join("requests.csv"), &reqs).unwrap();
        write_csv(&dir.join("work.csv"), &work).unwrap();
        write_csv(&dir.join("deliveries.csv"), &deliveries).unwrap();
        write_csv(&dir.join("calls.csv"), &calls).unwrap();
        write_csv::<Deletion>(&dir.join("deletions.csv"), &[]).unwrap();
        write_csv::<SyncPass>(&dir.join("sync.csv"), &[]).unwrap();
    }

    #[test]
    fn event_based_calibration_has_the_brokers_transit_as_a_step_and_the_users_hops_each_way() {
        let dir = tempfile::tempdir().unwrap();
        let loadings = |name: &str, transit: fn(i32) -> i32| {
            let run = dir.path().join(name);
            fake_event_run(&run, 40, transit);
            let exp = crate::config::load_str(&calibrate(&run, None, 3).unwrap(), "calibrated").unwrap();
            let s = &exp.points[0].scenario.services;
            [s.profile.time_correlation, s.broker.time_correlation, s.contract.time_correlation]
        };
        // The transit in the services' order: every step in lockstep.
        assert_eq!(loadings("same", |c| 1 + c), [1.0, 1.0, 1.0]);
        // The user's hops, each way as measured: the request arrives at
        // Profile as it is sent, and the answer comes 1 ms after Profile's
        // work ends (half the round trip less Profile's time would be 0.5).
        let exp = crate::config::load_str(&calibrate(&dir.path().join("same"), None, 3).unwrap(), "c").unwrap();
        let hop = |from: &str, to: &str| {
            let l = exp.points[0].scenario.network.links.iter().find(|l| l.from == from && l.to == to).unwrap();
            l.link.latency.mean_secs().unwrap()
        };
        assert_eq!(hop("client", "profile"), 0.0);
        assert!((hop("profile", "client") - 1e-3).abs() < 1e-12, "{}", hop("profile", "client"));
        // The transit in the reverse order: a negative correlation with
        // every other step, which the one-factor model has not. The broker
        // gets no loading; the services still move together.
        assert_eq!(loadings("reverse", |c| 41 - c), [1.0, 0.0, 1.0]);
    }

    #[test]
    fn a_folder_that_is_no_run_is_bad_input_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = calibrate(&dir.path().join("nothing"), None, 3).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
        assert!(format!("{e:#}").contains("nothing"), "{e:#}");
        let e = compare(dir.path(), None).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
    }
}
