//! CSV outputs, written atomically (a temporary file, then a rename), so an
//! interrupted run never leaves a half-written file behind.
//!
//! The columns are documented in `results/README.md`.

use std::path::Path;

use anyhow::{Context as _, Result};
use patterns::metrics::{self, METRICS};
use patterns::{Outcome, RunReport};
use serde::Serialize;
use sim_core::SimTime;

use crate::config::Experiment;
use crate::runner::Job;

/// Every output file passes through here before it is written. Setting
/// `ECSIM_FAIL_AT_WRITE=N` (a test hook) makes the N-th write of the
/// process fail, so a test can interrupt a run at every write step and
/// check that its folder is whole or untouched.
pub(crate) fn before_write(path: &Path) -> Result<()> {
    static FAIL_AT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let fail_at = *FAIL_AT.get_or_init(|| std::env::var("ECSIM_FAIL_AT_WRITE").ok().and_then(|v| v.parse().ok()));
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if fail_at == Some(n) {
        anyhow::bail!("cannot write {}: injected failure at write {n} (ECSIM_FAIL_AT_WRITE)", path.display());
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    before_write(path)?;
    let name = path.file_name().and_then(|n| n.to_str()).context("an output path needs a file name")?;
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}

/// Serialises rows to CSV and writes them atomically.
pub(crate) fn write_csv<T: Serialize>(path: &Path, rows: impl IntoIterator<Item = T>) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    write_atomic(path, &bytes)
}

/// Like [`write_csv`], but a file without rows still gets its header, so
/// that pandas and polars read it with default options. The csv crate
/// writes the header with the first record, so it is taken from a default
/// row written to the side.
pub(crate) fn write_csv_with_header<T: Serialize + Default>(
    path: &Path,
    rows: impl IntoIterator<Item = T>,
) -> Result<()> {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_some() {
        return write_csv(path, rows);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(T::default())?;
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    // Field names hold no line break: the header is the first line.
    let end = bytes.iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| i + 1);
    write_atomic(path, &bytes[..end])
}

fn coord(exp: &Experiment, job: &Job, dim: usize) -> (String, String) {
    match exp.sweep.get(dim) {
        Some(d) => (d.label().to_string(), exp.points[job.point].coords[dim].clone()),
        None => (String::new(), String::new()),
    }
}

/// One row of `summary.csv`: the run's identity, then every metric of the
/// registry ([`patterns::metrics::METRICS`]) in order, then the violations.
struct SummaryRow<'a> {
    experiment: &'a str,
    sweep_x: String,
    x: String,
    sweep_y: String,
    y: String,
    job: &'a Job,
    config_hash: &'a str,
    report: &'a RunReport,
}

impl Serialize for SummaryRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("SummaryRow", 10 + METRICS.len())?;
        st.serialize_field("experiment", self.experiment)?;
        st.serialize_field("sweep_x", &self.sweep_x)?;
        st.serialize_field("x", &self.x)?;
        st.serialize_field("sweep_y", &self.sweep_y)?;
        st.serialize_field("y", &self.y)?;
        st.serialize_field("pattern", &self.report.pattern)?;
        st.serialize_field("replication", &self.job.replication)?;
        st.serialize_field("seed", &self.job.seed)?;
        st.serialize_field("config_hash", self.config_hash)?;
        for m in METRICS {
            st.serialize_field(m.name, &(m.value)(self.report))?;
        }
        st.serialize_field("violations", &violations(self.report))?;
        st.end()
    }
}

/// A run's broken invariants, in one cell.
pub(crate) fn violations(r: &RunReport) -> String {
    r.violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Writes every CSV and the resolved config into `dir`.
pub(crate) fn write_all(dir: &Path, exp: &Experiment, results: &[(Job, RunReport)]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic(&dir.join("config.resolved.toml"), exp.resolved_toml.as_bytes())?;
    write_csv(&dir.join("summary.csv"), results.iter().map(|(job, r)| summary_row(exp, job, r)))?;
    write_csv(&dir.join("aggregate.csv"), aggregate(exp, results))?;
    write_csv(&dir.join("timeseries.csv"), timeseries(exp, results))?;
    write_csv(&dir.join("cdf.csv"), cdfs(exp, results))?;
    write_csv_with_header(&dir.join("faults.csv"), faults(exp, results))?;
    // Only configs that give their own followers side effects get the
    // per-follower file: the book's one side effect (Billing's charge) is
    // already in the summary's charge columns, and its result folders stay
    // as they were.
    if exp.points.iter().any(|p| p.scenario.followers.iter().any(|f| f.side_effect.is_some())) {
        write_csv(&dir.join("side_effects.csv"), side_effect_rows(exp, results))?;
    }
    let rows: u64 = results.iter().map(|(_, r)| r.request_log.len() as u64).sum();
    let requests = dir.join("requests.csv");
    if rows <= exp.requests_csv_limit {
        write_requests(&requests, exp, results)?;
    } else if requests.exists() {
        // A stale file from an earlier, smaller run would mislead.
        std::fs::remove_file(&requests).ok();
    }
    Ok(())
}

fn summary_row<'a>(exp: &'a Experiment, job: &'a Job, r: &'a RunReport) -> SummaryRow<'a> {
    let (sweep_x, x) = coord(exp, job, 0);
    let (sweep_y, y) = coord(exp, job, 1);
    SummaryRow {
        experiment: &exp.name,
        sweep_x,
        x,
        sweep_y,
        y,
        job,
        config_hash: &exp.points[job.point].hash,
        report: r,
    }
}

/// One row of `aggregate.csv`.
#[derive(Serialize, serde::Deserialize, Clone, Debug)]
pub(crate) struct AggregateRow {
    /// Label of the first sweep dimension.
    pub sweep_x: String,
    /// Its value at this point.
    pub x: String,
    /// Label of the second sweep dimension.
    pub sweep_y: String,
    /// Its value at this point.
    pub y: String,
    /// The first dimension's value as a number (seconds for durations), if it is one.
    pub x_num: Option<f64>,
    /// The pattern.
    pub pattern: String,
    /// The metric.
    pub metric: String,
    /// Replications.
    pub n: u32,
    /// Mean over replications.
    pub mean: f64,
    /// Lower end of the 95% confidence interval (Student t).
    pub ci95_low: f64,
    /// Upper end.
    pub ci95_high: f64,
}

/// The 0.975 quantile of Student's t with `dof` degrees of freedom.
pub(crate) fn t975(dof: u32) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match dof {
        0 => f64::NAN,
        d if (d as usize) <= T.len() => T[d as usize - 1],
        d if d <= 60 => 2.000 + (2.042 - 2.000) * (60 - d) as f64 / 30.0,
        _ => 1.96,
    }
}

/// Mean and 95% confidence interval of a sample.
pub(crate) fn mean_ci(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, mean, mean);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    let half = t975(xs.len() as u32 - 1) * (var / n).sqrt();
    (mean, mean - half, mean + half)
}

fn aggregate(exp: &Experiment, results: &[(Job, RunReport)]) -> Vec<AggregateRow> {
    let mut rows = Vec::new();
    // Results are in job order: point, pattern, replication.
    for group in results.chunk_by(|a, b| a.0.point == b.0.point && a.0.pattern == b.0.pattern) {
        let job = &group[0].0;
        let (sweep_x, x) = coord(exp, job, 0);
        let (sweep_y, y) = coord(exp, job, 1);
        let x_num = exp.points[job.point].numeric.first().copied().flatten();
        for metric in metrics::charted() {
            let xs: Vec<f64> = group.iter().map(|(_, r)| (metric.value)(r).as_f64()).collect();
            let (mean, lo, hi) = mean_ci(&xs);
            rows.push(AggregateRow {
                sweep_x: sweep_x.clone(),
                x: x.clone(),
                sweep_y: sweep_y.clone(),
                y: y.clone(),
                x_num,
                pattern: group[0].1.pattern.clone(),
                metric: metric.name.to_string(),
                n: xs.len() as u32,
                mean,
                ci95_low: lo,
                ci95_high: hi,
            });
        }
    }
    rows
}

/// One row of `timeseries.csv`.
#[derive(Serialize, serde::Deserialize, Clone, Debug)]
pub(crate) struct SeriesRow {
    /// First sweep value.
    pub x: String,
    /// Second sweep value.
    pub y: String,
    /// The pattern.
    pub pattern: String,
    /// Virtual time, seconds.
    pub time_s: f64,
    /// Customers whose rows disagree at that instant.
    pub inconsistent: u32,
}

const SERIES_POINTS: u64 = 600;

fn timeseries(exp: &Experiment, results: &[(Job, RunReport)]) -> Vec<SeriesRow> {
    let mut rows = Vec::new();
    for (job, r) in results.iter().filter(|(j, _)| j.replication == 0) {
        let step = (r.horizon.as_nanos() / SERIES_POINTS).max(1);
        let mut i = 0;
        for k in 0..=SERIES_POINTS {
            let t = SimTime::from_nanos(k * step);
            while i + 1 < r.series.len() && r.series[i + 1].0 <= t {
                i += 1;
            }
            rows.push(SeriesRow {
                x: coord(exp, job, 0).1,
                y: coord(exp, job, 1).1,
                pattern: r.pattern.clone(),
                time_s: t.as_secs_f64(),
                inconsistent: r.series[i].1,
            });
        }
    }
    rows
}

/// One row of `cdf.csv`.
#[derive(Serialize, serde::Deserialize, Clone, Debug)]
pub(crate) struct CdfRow {
    /// First sweep value.
    pub x: String,
    /// Second sweep value.
    pub y: String,
    /// The pattern.
    pub pattern: String,
    /// `lag` (from the answer) or `response`.
    pub metric: String,
    /// Cumulative probability.
    pub q: f64,
    /// The value at that probability, seconds.
    pub value_s: f64,
}

/// Per-request consistency lags (from the answer) and response times, seconds.
pub(crate) fn samples(r: &RunReport) -> (Vec<f64>, Vec<f64>) {
    let mut lag = Vec::new();
    let mut resp = Vec::new();
    for q in &r.request_log {
        if let (Some(t), Outcome::Ok | Outcome::Error) = (q.answered, q.outcome) {
            resp.push((t - q.arrival).as_secs_f64());
        }
        if let Some(l) = q.lags() {
            lag.push(l.from_answer.as_secs_f64());
        }
    }
    (lag, resp)
}

fn cdfs(exp: &Experiment, results: &[(Job, RunReport)]) -> Vec<CdfRow> {
    let mut rows = Vec::new();
    for (job, r) in results.iter().filter(|(j, _)| j.replication == 0) {
        let (mut lag, mut resp) = samples(r);
        for (metric, xs) in [("lag", &mut lag), ("response", &mut resp)] {
            if xs.is_empty() {
                continue;
            }
            xs.sort_by(f64::total_cmp);
            let n = xs.len();
            // 200 evenly spaced probabilities plus a finer grid in the tail.
            let qs = (1..=200).map(|i| i as f64 / 200.0).chain((1..=9).map(|i| 0.99 + i as f64 / 1000.0));
            let mut qs: Vec<f64> = qs.collect();
            qs.sort_by(f64::total_cmp);
            for q in qs {
                let idx = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
                rows.push(CdfRow {
                    x: coord(exp, job, 0).1,
                    y: coord(exp, job, 1).1,
                    pattern: r.pattern.clone(),
                    metric: metric.to_string(),
                    q,
                    value_s: xs[idx],
                });
            }
        }
    }
    rows
}

/// One row of `side_effects.csv`: one follower's side effect in one run.
#[derive(Serialize)]
struct SideEffectRow<'a> {
    sweep_x: String,
    x: String,
    sweep_y: String,
    y: String,
    pattern: &'a str,
    replication: u32,
    seed: u64,
    follower: &'a str,
    action: &'a str,
    actions: u64,
    after_unsubscribe: u64,
    cost_cents: u64,
    doubles: u64,
}

fn side_effect_rows<'a>(
    exp: &'a Experiment,
    results: &'a [(Job, RunReport)],
) -> impl Iterator<Item = SideEffectRow<'a>> {
    results.iter().flat_map(move |(job, r)| {
        r.side_effects.iter().map(move |e| {
            let ((sweep_x, x), (sweep_y, y)) = (coord(exp, job, 0), coord(exp, job, 1));
            SideEffectRow {
                sweep_x,
                x,
                sweep_y,
                y,
                pattern: &r.pattern,
                replication: job.replication,
                seed: job.seed,
                follower: &e.follower,
                action: &e.action,
                actions: e.tally.actions,
                after_unsubscribe: e.tally.after_unsubscribe,
                cost_cents: e.tally.cost_cents,
                doubles: e.tally.doubles,
            }
        })
    })
}

/// One row of `faults.csv`: one fault window of one replication at one
/// sweep point (the same for every pattern there: common random numbers).
#[derive(Serialize, serde::Deserialize, Clone, Debug, Default)]
pub(crate) struct FaultRow {
    /// First sweep value.
    pub x: String,
    /// Second sweep value.
    pub y: String,
    /// The replication.
    pub replication: u32,
    /// The fault kind.
    pub kind: String,
    /// Where.
    pub target: String,
    /// Start, seconds.
    pub from_s: f64,
    /// End, seconds (empty if it never ends).
    pub to_s: Option<f64>,
}

fn faults(exp: &Experiment, results: &[(Job, RunReport)]) -> Vec<FaultRow> {
    // The fault draws are the same for every pattern at a point and
    // replication: take the first pattern's run of each.
    results
        .iter()
        .filter(|(job, _)| job.pattern == 0)
        .flat_map(|(job, r)| {
            let (x, y) = (coord(exp, job, 0).1, coord(exp, job, 1).1);
            r.fault_windows.iter().map(move |w| FaultRow {
                x: x.clone(),
                y: y.clone(),
                replication: job.replication,
                kind: w.kind.to_string(),
                target: w.target.clone(),
                from_s: w.from.as_secs_f64(),
                to_s: w.to.map(SimTime::as_secs_f64),
            })
        })
        .collect()
}

/// Writes `requests.csv`: one row per request of replication 0, with one
/// `<table>_deleted_s` column per table of any sweep point (the source's
/// first), empty where the row exists or the point has no such table.
fn write_requests(path: &Path, exp: &Experiment, results: &[(Job, RunReport)]) -> Result<()> {
    let mut tables: Vec<String> = Vec::new();
    let mut columns_of = Vec::new();
    for point in &exp.points {
        let t = point.scenario.topology();
        let cols: Vec<usize> = t
            .tables()
            .map(|id| {
                let name = t.table_name(id);
                tables.iter().position(|n| n == name).unwrap_or_else(|| {
                    tables.push(name.to_string());
                    tables.len() - 1
                })
            })
            .collect();
        columns_of.push(cols);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> =
        ["x", "y", "pattern", "request", "customer", "arrival_s", "answered_s", "outcome"].map(String::from).into();
    header.extend(tables.iter().map(|t| format!("{t}_deleted_s")));
    header.push("restored".into());
    w.write_record(&header)?;
    let secs = |t: Option<SimTime>| t.map(|t| t.as_secs_f64().to_string()).unwrap_or_default();
    for (job, r) in results.iter().filter(|(j, _)| j.replication == 0) {
        let cols = &columns_of[job.point];
        for (i, q) in r.request_log.iter().enumerate() {
            let outcome = serde_json::to_value(q.outcome)?.as_str().unwrap_or_default().to_string();
            let mut rec = vec![
                coord(exp, job, 0).1,
                coord(exp, job, 1).1,
                r.pattern.clone(),
                i.to_string(),
                q.customer.to_string(),
                q.arrival.as_secs_f64().to_string(),
                secs(q.answered),
                outcome,
            ];
            let mut deleted = vec![String::new(); tables.len()];
            for (t, d) in q.deleted.iter().enumerate() {
                deleted[cols[t]] = secs(*d);
            }
            rec.extend(deleted);
            rec.push(q.restored.to_string());
            w.write_record(&rec)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_uses_student_t() {
        let (m, lo, hi) = mean_ci(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        // sd = 1, n = 3: half width = 4.303 / sqrt(3).
        assert!((hi - m - 4.303 / 3f64.sqrt()).abs() < 1e-12);
        assert!((m - lo - 4.303 / 3f64.sqrt()).abs() < 1e-12);
    }
}
