//! `ecsim`: run, sweep and chart experiments on the three eventual-consistency patterns.

mod charts;
mod config;
mod explore;
mod output;
mod runner;
mod shard;
mod summary;
mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

use crate::config::{ConfigFileError, Experiment};

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
  ecsim trace experiments/configs/partition.toml --customer 123   one customer's timeline (Perfetto)";

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
        Some(p) => config::load_file_with(p, ov),
        None => config::load_with(config::BASELINE, "<built-in baseline>", ov),
    }
}

fn run(config: Option<&Path>, args: &RunArgs) -> Result<()> {
    let exp = load(config, args)?;
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name));
    let runs = exp.points.iter().map(|p| p.patterns.len()).sum::<usize>() * exp.replications as usize;
    if !args.quiet {
        eprintln!("{}: {} ({runs} runs)", exp.name, exp.description.trim());
    }
    let results = runner::run_all(&exp, args.threads, args.quiet)?;
    output::write_all(&out, &exp, &results)?;
    let charts = charts::render_all(&out)?;
    let broken: Vec<String> = results
        .iter()
        .filter(|(_, r)| !r.violations.is_empty())
        .map(|(j, r)| format!("{} (seed {}): {}", r.pattern, j.seed, output::violations(r)))
        .collect();
    if !args.quiet {
        println!("{}", summary::table(&exp, &results));
        println!(
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
    let spec = match spec {
        Some(s) => s,
        None => shard::from_env(count)?,
    };
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name).join("shards"));
    let file = shard::run_shard(&exp, spec, &out, args.threads, args.quiet)?;
    if !args.quiet {
        println!("shard {}/{}: {}", spec.index, spec.count, file.display());
    }
    Ok(())
}

fn write_trace(config: &Path, filter: &trace::TraceFilter, args: &RunArgs) -> Result<()> {
    let exp = load(Some(config), args)?;
    let file = match filter.customer {
        Some(c) => format!("trace-customer-{c}.json"),
        None => "trace.json".to_string(),
    };
    let out = args.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name).join(file));
    let value = trace::chrome_trace(&exp, filter)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    output::write_atomic(&out, serde_json::to_string(&value)?.as_bytes())?;
    if !args.quiet {
        let n = value["traceEvents"].as_array().map_or(0, Vec::len);
        println!("{}: {n} trace events; open it in https://ui.perfetto.dev or chrome://tracing", out.display());
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
            println!(
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
        println!("results: {}", out.join("validation.csv").display());
    }
    let failed = rows.iter().filter(|r| !r.pass).count();
    if failed > 0 {
        anyhow::bail!("{failed} validation case(s) outside their confidence interval");
    }
    Ok(())
}

fn list() -> Result<()> {
    let dir = config::bundled_dir();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    entries.sort();
    for p in entries {
        let exp = config::load_file(&p)?;
        let rel = p.strip_prefix(std::env::current_dir().unwrap_or_default()).unwrap_or(&p).display().to_string();
        println!("{:<16} {}  ({rel})", exp.name, exp.description.trim());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        None => run(None, &cli.run),
        Some(Command::Run { config }) => run(config.as_deref(), &cli.run),
        Some(Command::List) => list(),
        Some(Command::Validate { config }) => config::load_file(config).map_err(Into::into).map(|e| {
            let n: usize = e.points.iter().map(|p| p.patterns.len()).sum::<usize>() * e.replications as usize;
            println!("{}: ok ({} sweep point(s), {n} runs)", config.display(), e.points.len());
        }),
        Some(Command::Validation) => validation(&cli.run),
        Some(Command::Sweep { config, shard, count }) => sweep(config, *shard, *count, &cli.run),
        Some(Command::Merge { dir }) => {
            let out = cli.run.out.clone().unwrap_or_else(|| dir.clone());
            shard::merge(dir, &out).map(|(exp, results)| {
                if !cli.run.quiet {
                    println!("{}", summary::table(&exp, &results));
                    println!("merged {} runs into {}", results.len(), out.display());
                }
            })
        }
        Some(Command::Trace { config, customer, from, to, pattern }) => {
            let filter = trace::TraceFilter { customer: *customer, from: *from, to: *to, pattern: pattern.clone() };
            write_trace(config, &filter, &cli.run)
        }
        Some(Command::Explore { seeds, pattern, budget }) => {
            let args = explore::ExploreArgs {
                seeds: *seeds,
                pattern: pattern.clone(),
                budget: budget.map(|b| std::time::Duration::from_nanos(b.as_nanos())),
                out: cli.run.out.clone().unwrap_or_else(|| Path::new("results").join("explore")),
                threads: cli.run.threads,
                quiet: cli.run.quiet,
            };
            explore::explore(&args).map(|table| {
                if !cli.run.quiet {
                    print!("{table}");
                }
            })
        }
        Some(Command::Chart { results_dir }) => charts::render_all(results_dir).map(|made| {
            println!("{}: {} charts redrawn", results_dir.display(), made.len());
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<ConfigFileError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
