//! `ecsim`: run, sweep and chart experiments on the three eventual-consistency patterns.

mod charts;
mod config;
mod contract;
mod explore;
mod guard;
mod journal;
mod manifest;
mod output;
mod publish;
mod runner;
mod shard;
mod summary;
mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

use crate::config::{ConfigFileError, Experiment};

/// Prints a line to standard output. A reader that went away
/// (`ecsim list | head -1`) ends the command quietly, not with a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        crate::stdout_line(format_args!($($arg)*))?
    };
}

fn stdout_line(args: std::fmt::Arguments<'_>) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A command line that cannot be obeyed: exit code 2, like a bad config.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

const EXAMPLES: &str = "Examples:
  ecsim                                         run the built-in baseline experiment
  ecsim run experiments/configs/partition.toml  run a bundled experiment
  ecsim run my.toml --seed 7 --replications 10 --out /tmp/my
  ecsim list                                    list the bundled experiments
  ecsim validate my.toml                        check a config without running it
  ecsim chart results/baseline                  redraw the charts from the CSV files
  ecsim sweep my.toml --shard 3/8 --out shards  one shard of a sweep (Slurm, GNU parallel, Kubernetes)
  ecsim merge shards                            check every shard is there, write the merged results
  ecsim validation                              the simulator against queueing theory
  ecsim explore --seeds 200                     hunt for fault mixes that break a promise
  ecsim explore --followers 8 --out /tmp/x8     the same hunt in a system of 8 followers
  ecsim trace experiments/configs/partition-trace.toml --customer 6052   one customer's timeline (Perfetto)";

/// Deterministic simulator of the eventual-consistency patterns of
/// "Software Architecture: The Hard Parts".
#[derive(Parser, Debug)]
#[command(name = "ecsim", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args, Debug, Clone, Default)]
struct RunArgs {
    /// Output folder (default: `results/<experiment name>`).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// Override the master seed.
    #[arg(long, global = true)]
    seed: Option<u64>,
    /// Override the number of replications.
    #[arg(long, global = true)]
    replications: Option<u32>,
    /// Worker threads (default: every core). The results do not depend on it.
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// No progress bar and no summary table.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Run even what the resource guards estimate is too big for this machine.
    #[arg(long, global = true)]
    force: bool,
    /// Continue an interrupted `run` or `sweep` of the same config: keep the
    /// runs its journal recorded, run only the rest. The results are
    /// byte-identical to an uninterrupted run.
    #[arg(long, global = true)]
    resume: bool,
}

impl RunArgs {
    /// The worker threads: the given count, at most four per core.
    fn threads(&self) -> Result<Option<usize>> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match self.threads {
            Some(0) => Err(UsageError("--threads: must be at least 1".into()).into()),
            Some(t) if t > 4 * cores => Err(UsageError(format!(
                "--threads {t}: at most {} on this machine (4 per core); more threads only thrash",
                4 * cores
            ))
            .into()),
            t => Ok(t),
        }
    }

    /// The threads that will run side by side.
    fn parallel(&self) -> Result<usize> {
        Ok(self.threads()?.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())))
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one experiment (the built-in baseline if no CONFIG is given).
    Run {
        /// The experiment config (TOML).
        config: Option<PathBuf>,
    },
    /// List the bundled experiments.
    List,
    /// Check a config without running it.
    Validate {
        /// The experiment config (TOML).
        config: PathBuf,
    },
    /// Run the validation cases (queues, Little's law, sync lag, retries,
    /// late charges) and write simulated and analytic values side by side.
    Validation,
    /// Swarm-test every pattern's promises under random fault mixes, and
    /// shrink what breaks them to small reproducers.
    Explore {
        /// How many seeds (fault mixes) to try.
        #[arg(long, default_value_t = 200)]
        seeds: u64,
        /// Only patterns whose name contains this (e.g. `event_based`).
        #[arg(long)]
        pattern: Option<String>,
        /// Stop starting new seeds after this much wall-clock time, e.g. `5m`.
        #[arg(long)]
        budget: Option<sim_core::SimDuration>,
        /// Explore a system of N identical followers (svc1 ... svcN, 1 to
        /// 64) instead of the book's Contract and Billing.
        #[arg(long)]
        followers: Option<u32>,
    },
    /// Write one run's timeline in the Chrome trace format (Perfetto,
    /// chrome://tracing): replication 0 at the first sweep point.
    Trace {
        /// The experiment config (TOML).
        config: PathBuf,
        /// Only this customer's work (faults are always shown).
        #[arg(long)]
        customer: Option<u32>,
        /// From this instant of virtual time, e.g. `25m`.
        #[arg(long)]
        from: Option<sim_core::SimTime>,
        /// Up to this instant of virtual time, e.g. `40m`.
        #[arg(long)]
        to: Option<sim_core::SimTime>,
        /// Only patterns whose name contains this.
        #[arg(long)]
        pattern: Option<String>,
    },
    /// Run one shard of an experiment's jobs (for Slurm, GNU parallel or
    /// Kubernetes); `ecsim merge` puts the shards together.
    Sweep {
        /// The experiment config (TOML).
        config: PathBuf,
        /// Which shard, as I/N (I from 0). Without it, the shard comes from
        /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX.
        #[arg(long)]
        shard: Option<shard::ShardSpec>,
        /// The shard count, with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).
        #[arg(long)]
        count: Option<u32>,
    },
    /// Check that every shard in DIR is there and from the same config, then
    /// write the outputs a single-machine run would (into DIR, or --out).
    Merge {
        /// The folder the shards wrote to.
        dir: PathBuf,
    },
    /// Redraw the charts of a results folder from its CSV files.
    Chart {
        /// A folder written by `ecsim run`.
        results_dir: PathBuf,
    },
}

fn load(config: Option<&Path>, args: &RunArgs) -> Result<Experiment, ConfigFileError> {
    let ov = config::Overrides { seed: args.seed, replications: args.replications };
    match config {
        // A bare name that is no file is a bundled experiment: `ecsim run baseline`.
        Some(p) if !p.exists() && p.extension().is_none() && p.components().count() == 1 => {
            let name = p.to_string_lossy();
            match config::bundled(&name) {
                Some(text) => config::load_with(text, &format!("<bundled {name}>"), ov),
                None => Err(ConfigFileError {
                    file: name.to_string(),
                    key: "(file)".into(),
                    problem: format!(
                        "no such file, and no bundled experiment of that name (bundled: {})",
                        config::BUNDLED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                }),
            }
        }
        Some(p) => config::load_file_with(p, ov),
        None => config::load_with(config::BASELINE, "<built-in baseline>", ov),
    }
}

fn run(config: Option<&Path>, args: &RunArgs) -> Result<()> {
    let exp = load(config, args)?;
    guard::check(&exp, args.parallel()?, args.force)?;
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name));
    let runs = exp.points.iter().map(|p| p.patterns.len()).sum::<usize>() * exp.replications as usize;
    if !args.quiet {
        eprintln!("{}: {} ({runs} runs)", exp.name, exp.description.trim());
    }
    // Claimed before simulating: a folder that cannot be written fails now, not after the runs.
    let staging = publish::Staging::begin(&out)?;
    let all: Vec<usize> = (0..runner::jobs(&exp).len()).collect();
    let header = journal::Header::new(&exp, 0, 1, all.clone());
    let (journal, done) = journal::Journal::open(&staging.journal()?, &header, args.resume)?;
    if args.resume {
        eprintln!("resuming: {} of {runs} runs kept from {}", done.len(), journal.path().display());
    }
    let record = |k, job, r: &patterns::RunReport| journal.record(k, job, r);
    let results = runner::run_jobs(&exp, &all, done, &record, args.threads()?, args.quiet)?;
    let written = output::write_all(staging.dir(), &exp, &results)?;
    let charts = charts::render_all(staging.dir())?;
    manifest::write(staging.dir(), &exp, &written)?;
    staging.commit()?;
    journal.remove()?;
    let broken: Vec<String> = results
        .iter()
        .filter(|(_, r)| !r.violations.is_empty())
        .map(|(j, r)| format!("{} (seed {}): {}", r.pattern, j.seed, output::violations(r)))
        .collect();
    if !args.quiet {
        say!("{}", summary::table(&exp, &results));
        say!(
            "results: {} (summary.csv, aggregate.csv, timeseries.csv, cdf.csv, {} charts)",
            out.display(),
            charts.len()
        );
    }
    if !broken.is_empty() {
        anyhow::bail!("invariants broken:\n  {}", broken.join("\n  "));
    }
    Ok(())
}

fn sweep(config: &Path, spec: Option<shard::ShardSpec>, count: Option<u32>, args: &RunArgs) -> Result<()> {
    let exp = load(Some(config), args)?;
    guard::check(&exp, args.parallel()?, args.force)?;
    let spec = match spec {
        Some(s) => s,
        None => shard::from_env(count)?,
    };
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name).join("shards"));
    let file = shard::run_shard(&exp, spec, &out, args.threads()?, args.quiet, args.resume)?;
    if !args.quiet {
        say!("shard {}/{}: {}", spec.index, spec.count, file.display());
    }
    Ok(())
}

fn write_trace(config: &Path, filter: &trace::TraceFilter, args: &RunArgs) -> Result<()> {
    let exp = load(Some(config), args)?;
    let file = match filter.customer {
        Some(c) => format!("trace-customer-{c}.json"),
        None => "trace.json".to_string(),
    };
    // --out names a folder, as in every other subcommand.
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name)).join(file);
    let value = trace::chrome_trace(&exp, filter)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    output::write_atomic(&out, serde_json::to_string(&value)?.as_bytes())?;
    if !args.quiet {
        let n = value["traceEvents"].as_array().map_or(0, Vec::len);
        say!("{}: {n} trace events; open it in https://ui.perfetto.dev or chrome://tracing", out.display());
    }
    Ok(())
}

fn validation(args: &RunArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join("validation"));
    let seed = args.seed.unwrap_or(7);
    if !args.quiet {
        eprintln!("validation: simulated against analytic values, 99% confidence intervals (seed {seed})");
    }
    let rows = patterns::validation::all(seed);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    output::write_csv(&out.join("validation.csv"), &rows)?;
    if !args.quiet {
        for r in &rows {
            say!(
                "{:<48} {:<32} {:>12.6} [{:.6}, {:.6}]  analytic {:>12.6}  {}",
                r.case,
                r.quantity,
                r.simulated,
                r.ci99_low,
                r.ci99_high,
                r.analytic,
                if r.pass { "ok" } else { "OUTSIDE" }
            );
        }
        say!("results: {}", out.join("validation.csv").display());
    }
    let failed = rows.iter().filter(|r| !r.pass).count();
    if failed > 0 {
        anyhow::bail!("{failed} validation case(s) outside their confidence interval");
    }
    Ok(())
}

fn validate(config: &Path, args: &RunArgs) -> Result<()> {
    let e = load(Some(config), args)?;
    guard::check(&e, args.parallel()?, args.force)?;
    let n: usize = e.points.iter().map(|p| p.patterns.len()).sum::<usize>() * e.replications as usize;
    say!("{}: ok ({} sweep point(s), {n} runs)", config.display(), e.points.len());
    Ok(())
}

fn list() -> Result<()> {
    // Embedded in the binary, so the list is the same wherever it is installed.
    for (name, text) in config::BUNDLED {
        let exp = config::load_str(text, &format!("<bundled {name}>"))?;
        say!("{:<16} {}  (ecsim run {name})", exp.name, exp.description.trim());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    runner::stop_on_ctrl_c();
    let result = match &cli.command {
        None => run(None, &cli.run),
        Some(Command::Run { config }) => run(config.as_deref(), &cli.run),
        Some(Command::List) => list(),
        Some(Command::Validate { config }) => validate(config, &cli.run),
        Some(Command::Validation) => validation(&cli.run),
        Some(Command::Sweep { config, shard, count }) => sweep(config, *shard, *count, &cli.run),
        Some(Command::Merge { dir }) => {
            let out = cli.run.out.clone().unwrap_or_else(|| dir.clone());
            shard::merge(dir).and_then(|(exp, results)| {
                // Whole or untouched, like a run; the shards stay where they were.
                let staging = publish::Staging::begin(&out)?;
                staging.carry_over(publish::is_shard_file)?;
                let written = output::write_all(staging.dir(), &exp, &results)?;
                charts::render_all(staging.dir())?;
                manifest::write(staging.dir(), &exp, &written)?;
                staging.commit()?;
                if !cli.run.quiet {
                    say!("{}", summary::table(&exp, &results));
                    say!("merged {} runs into {}", results.len(), out.display());
                }
                Ok(())
            })
        }
        Some(Command::Trace { config, customer, from, to, pattern }) => {
            let filter = trace::TraceFilter { customer: *customer, from: *from, to: *to, pattern: pattern.clone() };
            write_trace(config, &filter, &cli.run)
        }
        Some(Command::Explore { seeds, pattern, budget, followers }) => {
            let args = explore::ExploreArgs {
                seeds: *seeds,
                pattern: pattern.clone(),
                budget: budget.map(|b| std::time::Duration::from_nanos(b.as_nanos())),
                out: cli.run.out.clone().unwrap_or_else(|| Path::new("results").join("explore")),
                threads: cli.run.threads,
                quiet: cli.run.quiet,
                followers: *followers,
            };
            cli.run.threads().and_then(|_| explore::explore(&args)).and_then(|(table, broken)| {
                if !cli.run.quiet {
                    say!("{}", table.trim_end());
                }
                // Like a test runner: a broken promise fails the command, so it can gate CI.
                if broken > 0 {
                    anyhow::bail!("{broken} broken promise(s); reproducers in {}", args.out.display());
                }
                Ok(())
            })
        }
        Some(Command::Chart { results_dir }) => charts::render_all(results_dir).and_then(|made| {
            say!("{}: {} charts redrawn", results_dir.display(), made.len());
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away: nothing is wrong with the run.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) if e.downcast_ref::<runner::Interrupted>().is_some() => {
            eprintln!(
                "interrupted: earlier results are as they were; the runs that finished are kept \
                 in a journal: add --resume to the same command to continue"
            );
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<ConfigFileError>().is_some()
                || e.downcast_ref::<UsageError>().is_some()
                || e.downcast_ref::<publish::RefusedOutput>().is_some()
                || e.downcast_ref::<journal::ResumeError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
