//! Runs every (sweep point, pattern, replication) as its own single-threaded
//! simulation, side by side on a rayon pool.
//!
//! Results come back in job order whatever the thread count, and every job's
//! seed depends only on the master seed and the replication, so the output
//! is byte-identical across thread counts. All patterns of one replication
//! share a seed: their comparison is paired (common random numbers).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};

use patterns::scenario::run_until_stopped;
use patterns::{RequestSample, RunOptions, RunReport};
use rayon::prelude::*;
use sim_core::RngFactory;

use crate::config::Experiment;

/// One simulation to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Job {
    /// Index into `Experiment::points`.
    pub point: usize,
    /// Index into the point's patterns.
    pub pattern: usize,
    /// Replication number, from 0.
    pub replication: u32,
    /// The seed of this replication.
    pub seed: u64,
}

/// Finished jobs and their reports, by index into [`jobs`].
pub(crate) type Done = BTreeMap<usize, (Job, RunReport)>;

/// The seed of replication `r` of an experiment with master seed `master`.
///
/// Its top bit is cleared, so that every seed in an output fits a signed
/// 64-bit integer: pandas and polars read the `seed` column as `int64` in
/// every file, and summaries of different experiments concatenate.
pub(crate) fn replication_seed(master: u64, r: u32) -> u64 {
    RngFactory::new(master).child_seed("replication", u64::from(r)) & i64::MAX as u64
}

/// Every job of an experiment, in output order.
pub(crate) fn jobs(exp: &Experiment) -> Vec<Job> {
    let mut out = Vec::new();
    for (point, p) in exp.points.iter().enumerate() {
        for pattern in 0..p.patterns.len() {
            for replication in 0..exp.replications {
                out.push(Job { point, pattern, replication, seed: replication_seed(exp.seed, replication) });
            }
        }
    }
    out
}

/// Set by Ctrl-C: every running simulation stops at its next slice.
static STOP: AtomicBool = AtomicBool::new(false);

/// The run was interrupted (Ctrl-C); nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub(crate) struct Interrupted;

fn interrupted() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Makes Ctrl-C stop the simulations within a slice of a run (a second
/// Ctrl-C ends the process at once).
pub(crate) fn stop_on_ctrl_c() {
    // Failing to install the handler only loses the graceful stop.
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
}

/// Runs the jobs at `indices` (into [`jobs`]) on `threads` threads (`None`:
/// every core) and returns them in the order given. Jobs already in `done`
/// (read back from a journal by `--resume`) are not run again; every job that
/// finishes is handed to `on_done` at once (which journals it), so an
/// interruption loses only the jobs still running.
pub(crate) fn run_jobs(
    exp: &Experiment,
    indices: &[usize],
    mut done: Done,
    on_done: &(dyn Fn(usize, Job, &RunReport) -> Result<()> + Sync),
    threads: Option<usize>,
    quiet: bool,
) -> Result<Vec<(Job, RunReport)>> {
    let all = jobs(exp);
    let todo: Vec<usize> = indices.iter().copied().filter(|k| !done.contains_key(k)).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(indices.len() as u64), ProgressDrawTarget::stderr())
    };
    bar.set_position((indices.len() - todo.len()) as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} runs, {elapsed} elapsed, ~{eta} left")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(exp.name.clone());
    let results: Vec<Result<(usize, Job, RunReport)>> = pool.install(|| {
        todo.par_iter()
            .map(|&k| {
                let job = all[k];
                let point = &exp.points[job.point];
                let pattern = &point.patterns[job.pattern];
                // Replication 0's requests feed requests.csv; a run that
                // retires records keeps only those the sample could take.
                let (seed, point_index) = (exp.seed, job.point);
                let sample = RequestSample {
                    limit: usize::try_from(exp.requests_csv_limit).unwrap_or(usize::MAX),
                    key: Arc::new(move |i| crate::sample::request_key(seed, point_index, u64::from(i))),
                };
                let opts =
                    RunOptions { keep_requests: job.replication == 0, sample: Some(sample), ..Default::default() };
                let report = run_until_stopped(&point.scenario, pattern, job.seed, opts, &interrupted)
                    .with_context(|| format!("{}: {} at sweep point {:?}", exp.source, pattern.name(), point.coords))?;
                let Some(report) = report else { return Err(Interrupted.into()) };
                on_done(k, job, &report)?;
                bar.inc(1);
                Ok((k, job, report))
            })
            .collect()
    });
    bar.finish_and_clear();
    for r in results {
        let (index, job, report) = r?;
        done.insert(index, (job, report));
    }
    indices.iter().map(|k| done.remove(k).with_context(|| format!("job {k} did not run"))).collect()
}
