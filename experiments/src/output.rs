//! CSV outputs, written atomically (a temporary file, then a rename), so an
//! interrupted run never leaves a half-written file behind.
//!
//! Every CSV keeps the data contract ([`crate::contract`]): a header even
//! without rows, numbers that read as numbers (a missing one is `NaN`, so a
//! column's type never depends on whether it has gaps), the sweep point as a
//! number with its unit and label in every row, and tidy long format for
//! what the charts draw.

use std::borrow::Cow;
use std::collections::BinaryHeap;
use std::path::Path;

use anyhow::{Context as _, Result};
use patterns::metrics::{self, METRICS};
use patterns::{cdf_probabilities, RunReport};
use serde::Serialize;
use sim_core::SimTime;

use crate::config::Experiment;
use crate::contract::{self, COORDS};
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

/// One cell of a CSV row.
#[derive(Clone, Debug)]
pub(crate) enum Cell<'a> {
    /// Text (may be empty).
    Text(Cow<'a, str>),
    /// A real number; `NaN` where there is none, so the column stays numeric.
    Real(f64),
    /// A whole number.
    Count(u64),
}

impl Serialize for Cell<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Text(t) => s.serialize_str(t),
            Cell::Real(x) => s.serialize_f64(*x),
            Cell::Count(n) => s.serialize_u64(*n),
        }
    }
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(t: &'a str) -> Self {
        Cell::Text(Cow::Borrowed(t))
    }
}

impl From<String> for Cell<'_> {
    fn from(t: String) -> Self {
        Cell::Text(Cow::Owned(t))
    }
}

impl From<f64> for Cell<'_> {
    fn from(x: f64) -> Self {
        Cell::Real(x)
    }
}

impl From<u64> for Cell<'_> {
    fn from(n: u64) -> Self {
        Cell::Count(n)
    }
}

impl From<u32> for Cell<'_> {
    fn from(n: u32) -> Self {
        Cell::Count(u64::from(n))
    }
}

/// A seconds value, `NaN` for none.
fn secs(t: Option<SimTime>) -> Cell<'static> {
    Cell::Real(t.map_or(f64::NAN, SimTime::as_secs_f64))
}

/// A CSV file being built: the header is written first, so a file without
/// rows still has it.
pub(crate) struct Sheet {
    w: csv::Writer<Vec<u8>>,
    width: usize,
    rows: u64,
}

impl Sheet {
    /// Starts a file with these columns.
    pub(crate) fn new<S: AsRef<str>>(columns: impl IntoIterator<Item = S>) -> Result<Self> {
        let columns: Vec<String> = columns.into_iter().map(|c| c.as_ref().to_string()).collect();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&columns)?;
        Ok(Sheet { w, width: columns.len(), rows: 0 })
    }

    /// Adds a row, one cell per column.
    pub(crate) fn row(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        anyhow::ensure!(cells.len() == self.width, "a row of {} cells under {} columns", cells.len(), self.width);
        self.w.serialize(cells)?;
        self.rows += 1;
        Ok(())
    }

    /// Writes the file atomically and returns its row count.
    pub(crate) fn write(self, path: &Path) -> Result<u64> {
        let bytes = self.w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
        write_atomic(path, &bytes)?;
        Ok(self.rows)
    }
}

/// A sweep point's [`COORDS`] cells: empty text and `NaN` for a dimension
/// the experiment does not have, `NaN` for a value that is no number. The
/// label reads `<dimension> = <value as written>`.
pub(crate) fn coords<'a>(exp: &'a Experiment, point: usize) -> Vec<Cell<'a>> {
    let p = &exp.points[point];
    let mut cells = Vec::with_capacity(COORDS.len());
    for dim in 0..2 {
        match exp.sweep.get(dim) {
            Some(d) => cells.extend([
                Cell::from(d.label()),
                Cell::Real(p.numeric[dim].unwrap_or(f64::NAN)),
                Cell::from(d.unit()),
                // Never a bare number: a label column must read as text in
                // every file, or summaries would not concatenate.
                Cell::from(format!("{} = {}", d.label(), p.coords[dim])),
            ]),
            None => cells.extend([Cell::from(""), Cell::Real(f64::NAN), Cell::from(""), Cell::from("")]),
        }
    }
    cells
}

/// A run's broken invariants, in one cell.
pub(crate) fn violations(r: &RunReport) -> String {
    r.violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// What [`write_all`] wrote that the manifest records beyond the files.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Written {
    /// Rows in `requests.csv`.
    pub request_rows: u64,
    /// The requests they were sampled from: replication 0 of every point
    /// and pattern.
    pub request_population: u64,
}

/// Writes every CSV and the resolved config into `dir`.
pub(crate) fn write_all(dir: &Path, exp: &Experiment, results: &[(Job, RunReport)]) -> Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic(&dir.join("config.resolved.toml"), exp.resolved_file().as_bytes())?;
    summary(exp, results)?.write(&dir.join("summary.csv"))?;
    aggregate(exp, results)?.write(&dir.join("aggregate.csv"))?;
    timeseries(exp, results)?.write(&dir.join("timeseries.csv"))?;
    cdfs(exp, results)?.write(&dir.join("cdf.csv"))?;
    faults(exp, results)?.write(&dir.join("faults.csv"))?;
    // Only configs that give their own followers side effects get the
    // per-follower file: the book's one side effect (Billing's charge) is
    // already in the summary's charge columns.
    if exp.points.iter().any(|p| p.scenario.followers.iter().any(|f| f.side_effect.is_some())) {
        side_effects(exp, results)?.write(&dir.join("side_effects.csv"))?;
    }
    let (sheet, population) = requests(exp, results)?;
    let request_rows = sheet.write(&dir.join("requests.csv"))?;
    Ok(Written { request_rows, request_population: population })
}

fn summary(exp: &Experiment, results: &[(Job, RunReport)]) -> Result<Sheet> {
    let mut sheet = Sheet::new(contract::header("summary.csv", &[]))?;
    for (job, r) in results {
        let mut row = vec![Cell::from(exp.name.as_str())];
        row.extend(coords(exp, job.point));
        row.extend([
            Cell::from(r.pattern.as_str()),
            job.replication.into(),
            job.seed.into(),
            Cell::from(exp.points[job.point].hash.as_str()),
        ]);
        row.extend(METRICS.iter().map(|m| match (m.value)(r) {
            metrics::Value::Count(n) => Cell::Count(n),
            metrics::Value::Real(x) => Cell::Real(x),
        }));
        row.push(violations(r).into());
        sheet.row(&row)?;
    }
    Ok(sheet)
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

/// The runs of one sweep point and pattern, one per replication (results
/// are in job order: point, pattern, replication).
fn groups(results: &[(Job, RunReport)]) -> impl Iterator<Item = &[(Job, RunReport)]> {
    results.chunk_by(|a, b| a.0.point == b.0.point && a.0.pattern == b.0.pattern)
}

/// `aggregate.csv`, tidy: one row per point, pattern and charted metric.
fn aggregate(exp: &Experiment, results: &[(Job, RunReport)]) -> Result<Sheet> {
    let mut sheet = Sheet::new(contract::header("aggregate.csv", &[]))?;
    for group in groups(results) {
        for metric in metrics::charted() {
            let xs: Vec<f64> = group.iter().map(|(_, r)| (metric.value)(r).as_f64()).collect();
            let (mean, lo, hi) = mean_ci(&xs);
            let mut row = coords(exp, group[0].0.point);
            row.extend([
                Cell::from(group[0].1.pattern.as_str()),
                Cell::from(metric.name),
                Cell::from(crate::contract::unit(metric.unit)),
                Cell::Count(xs.len() as u64),
                mean.into(),
                lo.into(),
                hi.into(),
            ]);
            sheet.row(&row)?;
        }
    }
    Ok(sheet)
}

/// `timeseries.csv`: every replication's resampled series, tidy.
fn timeseries(exp: &Experiment, results: &[(Job, RunReport)]) -> Result<Sheet> {
    let mut sheet = Sheet::new(contract::header("timeseries.csv", &[]))?;
    for (job, r) in results {
        let c = coords(exp, job.point);
        for &(t, n) in &r.series {
            let mut row = c.clone();
            row.extend([Cell::from(r.pattern.as_str()), job.replication.into(), t.as_secs_f64().into(), n.into()]);
            sheet.row(&row)?;
        }
    }
    Ok(sheet)
}

/// `cdf.csv`: every replication's lag and response-time quantiles, tidy.
fn cdfs(exp: &Experiment, results: &[(Job, RunReport)]) -> Result<Sheet> {
    let mut sheet = Sheet::new(contract::header("cdf.csv", &[]))?;
    let qs = cdf_probabilities();
    for (job, r) in results {
        let c = coords(exp, job.point);
        for (metric, values) in [("lag", &r.lag_cdf), ("response", &r.response_cdf)] {
            for (q, v) in qs.iter().zip(values) {
                let mut row = c.clone();
                row.extend([
                    Cell::from(r.pattern.as_str()),
                    job.replication.into(),
                    metric.into(),
                    (*q).into(),
                    (*v).into(),
                ]);
                sheet.row(&row)?;
            }
        }
    }
    Ok(sheet)
}

/// `side_effects.csv`: one row per follower's side effect in each run.
fn side_effects(exp: &Experiment, results: &[(Job, RunReport)]) -> Result<Sheet> {
    let mut sheet = Sheet::new(contract::header("side_effects.csv", &[]))?;
    for (job, r) in results {
        for e in &r.side_effects {
            let mut row = coords(exp, job.point);
            row.extend([
                Cell::from(r.pattern.as_str()),
                job.replication.into(),
                job.seed.into(),
                Cell::from(e.follower.as_str()),
                Cell::from(e.action.as_str()),
                e.tally.actions.into(),
                e.tally.after_unsubscribe.into(),
                e.tally.cost_cents.into(),
                e.tally.doubles.into(),
            ]);
            sheet.row(&row)?;
        }
    }
    Ok(sheet)
}

/// `faults.csv`: one row per fault window of each replication at each
/// sweep point (the same for every pattern there: common random numbers).
/// A window that never closes ends at `inf`.
fn faults(exp: &Experiment, results: &[(Job, RunReport)]) -> Result<Sheet> {
    let mut sheet = Sheet::new(contract::header("faults.csv", &[]))?;
    // The fault draws are the same for every pattern at a point and
    // replication: take the first pattern's run of each.
    for (job, r) in results.iter().filter(|(job, _)| job.pattern == 0) {
        for w in &r.fault_windows {
            let mut row = coords(exp, job.point);
            row.extend([
                job.replication.into(),
                w.kind.to_string().into(),
                Cell::from(w.target.as_str()),
                w.from.as_secs_f64().into(),
                w.to.map_or(f64::INFINITY, SimTime::as_secs_f64).into(),
            ]);
            sheet.row(&row)?;
        }
    }
    Ok(sheet)
}

/// `requests.csv`: a uniform sample of at most `requests_csv_limit` of the
/// requests of replication 0 (every point and pattern), with one
/// `<table>_deleted_s` column per table of any sweep point (the source's
/// first; `NaN` where the row exists or the point has no such table).
///
/// The sample is deterministic and paired: every request gets a key drawn
/// from the master seed, its point and its index, the same in every
/// pattern (request `i` is the same arrival in each: common random
/// numbers), and the requests with the smallest keys are kept. Returns the
/// sheet and the number of requests sampled from.
fn requests(exp: &Experiment, results: &[(Job, RunReport)]) -> Result<(Sheet, u64)> {
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
    let names: Vec<&str> = tables.iter().map(String::as_str).collect();
    let mut sheet = Sheet::new(contract::header("requests.csv", &names))?;
    let logs: Vec<&(Job, RunReport)> = results.iter().filter(|(j, _)| j.replication == 0).collect();
    // Every request issued; a run that retired records logs only the sample
    // of them it could contribute (`request_key`).
    let population: u64 = logs.iter().map(|(_, r)| r.requests).sum();
    let key = |point: usize, i: u64| crate::sample::request_key(exp.seed, point, i);
    // The largest key kept: walk the distinct keys upwards, each counted once
    // per pattern that has its request, while the rows fit the limit.
    let mut threshold = None;
    if population <= exp.requests_csv_limit {
        threshold = Some(u64::MAX);
    } else {
        // Each key counts at least once, so the walk accepts no more than
        // the limit's number of keys: only the smallest are held.
        let limit = usize::try_from(exp.requests_csv_limit).unwrap_or(usize::MAX);
        let mut smallest: BinaryHeap<(u64, u64)> = BinaryHeap::new();
        for point in 0..exp.points.len() {
            let lens: Vec<u64> = logs.iter().filter(|(j, _)| j.point == point).map(|(_, r)| r.requests).collect();
            for i in 0..lens.iter().copied().max().unwrap_or(0) {
                let entry = (key(point, i), lens.iter().filter(|&&n| n > i).count() as u64);
                patterns::requests::keep_smallest(&mut smallest, limit, entry);
            }
        }
        let mut distinct = smallest.into_vec();
        distinct.sort_unstable();
        let mut rows = 0;
        for (k, n) in distinct {
            if rows + n > exp.requests_csv_limit {
                break;
            }
            rows += n;
            threshold = Some(k);
        }
    }
    let Some(threshold) = threshold else { return Ok((sheet, population)) };
    let mut kept = 0;
    for (job, r) in logs {
        let cols = &columns_of[job.point];
        for q in &r.request_log {
            let i = u64::from(q.id);
            // Ties at the threshold (equal 64-bit keys) are kept only up to the limit.
            if key(job.point, i) > threshold || kept == exp.requests_csv_limit {
                continue;
            }
            kept += 1;
            let mut row = coords(exp, job.point);
            row.extend([
                Cell::from(r.pattern.as_str()),
                job.replication.into(),
                i.into(),
                q.customer.into(),
                q.arrival.as_secs_f64().into(),
                secs(q.answered),
                serde_json::to_value(q.outcome)?.as_str().unwrap_or_default().to_string().into(),
            ]);
            let mut deleted = vec![Cell::Real(f64::NAN); tables.len()];
            for (t, d) in q.deleted.iter().enumerate() {
                deleted[cols[t]] = secs(*d);
            }
            row.extend(deleted);
            row.push(Cell::from(if q.restored { "true" } else { "false" }));
            sheet.row(&row)?;
        }
    }
    Ok((sheet, population))
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
