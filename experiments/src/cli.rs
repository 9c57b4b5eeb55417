//! The command line: every subcommand with only the options it uses, and
//! examples in its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::overrides::{Overrides, Setting};
use crate::UsageError;

const EXAMPLES: &str = "Examples:
  ecsim                                    run the built-in baseline experiment (results/baseline)
  ecsim list                               list the bundled experiments
  ecsim run partition                      run a bundled experiment by name
  ecsim run my.toml                        run your own config (runs/<name>-<config hash>/)
  ecsim run load --set workload.rate_per_s=50 --replications 2
  ecsim validate my.toml                   check a config without running it
  ecsim chart results/baseline             redraw the charts of a result folder
  ecsim sweep load --shard 3/8             one shard of a sweep (Slurm, GNU parallel, Kubernetes)
  ecsim merge runs/load-<hash>/shards      put the shards together
  ecsim validation                         the simulator against queueing theory
  ecsim explore --seeds 200                hunt for fault mixes that break a promise
  ecsim trace partition-trace --customer 6052   one customer's timeline (Perfetto)
  ecsim completions bash > ~/.local/share/bash-completion/completions/ecsim

A bundled experiment run as bundled writes results/<name>; anything else
(your config, or --seed, --replications or --set on a bundled one) writes
runs/<name>-<config hash>/, never over the committed results. Exit codes:
0 done, 1 a run failed or broke an invariant, 2 bad config or command
line, 130 interrupted.";

/// Deterministic simulator of the eventual-consistency patterns of
/// "Software Architecture: The Hard Parts".
#[derive(Parser, Debug)]
#[command(name = "ecsim", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand: `ecsim run` of the built-in baseline.
    #[command(flatten)]
    pub run: RunOpts,
}

/// What a config-driven command may change in the config.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ConfigOpts {
    /// Override the master seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the number of replications.
    #[arg(long)]
    pub replications: Option<u32>,
    /// Override any config key, e.g. `workload.rate_per_s=50`,
    /// `network.default.latency.median=2ms`, `patterns[0].interval=5m`
    /// (repeatable; checked like the config file).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<Setting>,
}

impl ConfigOpts {
    /// The overrides for the config loader.
    pub(crate) fn overrides(&self) -> Overrides {
        Overrides { seed: self.seed, replications: self.replications, set: self.set.clone() }
    }
}

/// How a command that runs simulations runs them.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ExecOpts {
    /// Worker threads (default: every core). The results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run even what the resource guards estimate is too big for this machine.
    #[arg(long)]
    pub force: bool,
}

impl ExecOpts {
    /// The worker threads: the given count, at most four per core.
    pub(crate) fn threads(&self) -> anyhow::Result<Option<usize>> {
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
    pub(crate) fn parallel(&self) -> anyhow::Result<usize> {
        Ok(self.threads()?.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())))
    }
}

/// The options of `run` and `sweep`.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct RunOpts {
    #[command(flatten)]
    pub config: ConfigOpts,
    #[command(flatten)]
    pub exec: ExecOpts,
    /// Output folder (default: results/NAME for a bundled experiment as
    /// bundled, otherwise runs/NAME-HASH, HASH the config hash).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted run of the same config: keep the runs its
    /// journal recorded, run only the rest. The results are byte-identical
    /// to an uninterrupted run.
    #[arg(long)]
    pub resume: bool,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run one experiment (the built-in baseline if no CONFIG is given).
    #[command(after_help = "Examples:
  ecsim run                                the built-in baseline
  ecsim run partition                      a bundled experiment, by name (ecsim list)
  ecsim run experiments/configs/load.toml  a config file
  ecsim run my.toml --seed 7 --replications 10 --out /tmp/my
  ecsim run baseline --set workload.rate_per_s=50 --set services.billing.workers=4
  ecsim run big.toml --resume              continue after Ctrl-C")]
    Run {
        /// The experiment: a bundled name or a TOML file.
        config: Option<PathBuf>,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// List the bundled experiments.
    #[command(after_help = "Example:
  ecsim list")]
    List,
    /// Check a config without running it.
    #[command(after_help = "Examples:
  ecsim validate my.toml
  ecsim validate baseline --set workload.rate_per_s=50")]
    Validate {
        /// The experiment: a bundled name or a TOML file.
        config: PathBuf,
        #[command(flatten)]
        config_opts: ConfigOpts,
        /// Worker threads the run would use (the resource guards depend on it).
        #[arg(long)]
        threads: Option<usize>,
        /// Accept what the resource guards estimate is too big for this machine.
        #[arg(long)]
        force: bool,
    },
    /// Run the validation cases (queues, Little's law, sync lag, retries,
    /// late charges, fan-out) and write simulated and analytic values side by side.
    #[command(after_help = "Examples:
  ecsim validation                  seed 7, into results/validation
  ecsim validation --seed 8         another seed, into runs/validation-seed-8")]
    Validation {
        /// The seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// No table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Swarm-test every pattern's promises under random fault mixes, and
    /// shrink what breaks them to small reproducers. Exit 1 if a promise broke.
    #[command(after_help = "Examples:
  ecsim explore --seeds 200                 the committed hunt (results/explore)
  ecsim explore --pattern event_based --budget 5m
  ecsim explore --followers 8               in a system of 8 followers")]
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
        /// Output folder (default: results/explore for the committed hunt,
        /// otherwise runs/explore-...).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// No table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write one run's timeline in the Chrome trace format (Perfetto,
    /// chrome://tracing): replication 0 at the first sweep point.
    #[command(after_help = "Examples:
  ecsim trace partition-trace --customer 6052
  ecsim trace my.toml --from 25m --to 40m --pattern event_based")]
    Trace {
        /// The experiment: a bundled name or a TOML file.
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
        #[command(flatten)]
        config_opts: ConfigOpts,
        /// Output folder (default: the run's).
        #[arg(long)]
        out: Option<PathBuf>,
        /// No message.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run one shard of an experiment's jobs (for Slurm, GNU parallel or
    /// Kubernetes); `ecsim merge` puts the shards together.
    #[command(after_help = "Examples:
  ecsim sweep load --shard 0/4 --out shards     one of four shards
  SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=4 ecsim sweep load --out shards
  parallel ecsim sweep load --shard {}/8 --out shards ::: $(seq 0 7)")]
    Sweep {
        /// The experiment: a bundled name or a TOML file.
        config: PathBuf,
        /// Which shard, as I/N (I from 0). Without it, the shard comes from
        /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX.
        #[arg(long)]
        shard: Option<crate::shard::ShardSpec>,
        /// The shard count, with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).
        #[arg(long)]
        count: Option<u32>,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Check that every shard in DIR is there and from the same config, then
    /// write the outputs a single-machine run would (into DIR, or --out).
    #[command(after_help = "Example:
  ecsim merge shards --out results/load")]
    Merge {
        /// The folder the shards wrote to.
        dir: PathBuf,
        /// Output folder (default: DIR).
        #[arg(long)]
        out: Option<PathBuf>,
        /// No summary table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Redraw the charts of a results folder from its CSV files.
    #[command(after_help = "Example:
  ecsim chart results/baseline")]
    Chart {
        /// A folder written by `ecsim run`.
        results_dir: PathBuf,
    },
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  ecsim completions bash > ~/.local/share/bash-completion/completions/ecsim
  ecsim completions zsh > ~/.zfunc/_ecsim
  ecsim completions fish > ~/.config/fish/completions/ecsim.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "Example:
  ecsim manpage > ~/.local/share/man/man1/ecsim.1 && man ecsim")]
    Manpage,
    /// Print the JSON Schema of an experiment config, for editors that
    /// complete and check TOML (Taplo, "Even Better TOML").
    #[command(after_help = "Example:
  ecsim schema > ecsim.schema.json
  # then, atop a config: #:schema ./ecsim.schema.json")]
    Schema,
    /// Print a page of the guide's reference, generated from the code
    /// (Markdown).
    #[command(after_help = "Examples:
  ecsim reference config    # every config key, its type, default and meaning
  ecsim reference outputs   # every CSV column, its unit and meaning")]
    Reference {
        /// Which page.
        page: ReferencePage,
    },
    /// Calibrate a config from a real testbed run, and compare ecsim's
    /// prediction with the measurement (experiments/testbed/compare.sh runs
    /// the whole loop: servers, testbed, calibration, prediction, comparison)
    #[command(after_help = "Examples:
  ecsim testbed calibrate DIR/event_based/measured --out DIR/event_based/calibrated.toml
  ecsim run DIR/event_based/calibrated.toml --out DIR/event_based/predicted
  ecsim testbed compare DIR          # comparison.csv and comparison.png in DIR")]
    Testbed {
        #[command(subcommand)]
        action: TestbedAction,
    },
}

/// What `ecsim testbed` does.
#[derive(Subcommand, Debug)]
pub(crate) enum TestbedAction {
    /// Write the ecsim config that predicts a testbed run (its parameters,
    /// and its measured times as empirical distributions)
    Calibrate {
        /// The testbed run's folder (with run.json).
        measured: PathBuf,
        /// Where to write the config (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Take the times from this healthy run of the same pattern instead
        /// (predict a fault from the healthy system; parameters and faults
        /// still come from MEASURED).
        #[arg(long, value_name = "DIR")]
        times_from: Option<PathBuf>,
        /// Replications of the prediction.
        #[arg(long, default_value_t = 20)]
        replications: u32,
    },
    /// Set each PATTERN/predicted/summary.csv in DIR beside PATTERN/measured
    /// and write DIR/comparison.csv and DIR/comparison.png
    Compare {
        /// The folder with one PATTERN/{measured,predicted} pair per pattern.
        dir: PathBuf,
        /// Exit 1 unless every p50 agrees with its prediction within their
        /// sampling errors and the stated accuracy (`--tolerance`).
        #[arg(long)]
        check: bool,
        /// With `--check`: how far (a fraction) the prediction may be off
        /// beyond both sampling errors. ecsim's calibration has small
        /// biases of its own (hops between services taken as half a round
        /// trip less the server's time, no CPU contention), 1% to 3.4% at
        /// the p50 on this machine class: an exact test fails a model that
        /// is right within them.
        #[arg(long, default_value_t = 0.05, value_parser = tolerance, value_name = "FRACTION")]
        tolerance: f64,
    },
}

/// A generated page of the guide's reference.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum ReferencePage {
    /// Every config key.
    Config,
    /// Every output file and column.
    Outputs,
}

/// A `--tolerance`: a fraction in [0, 1).
fn tolerance(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        Ok(_) => Err(format!("{s} is not a fraction in [0, 1) (0.05 allows 5%)")),
        Err(e) => Err(format!("{s}: {e}")),
    }
}
