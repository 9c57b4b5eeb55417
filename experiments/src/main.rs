//! `ecsim`: run, sweep and chart experiments on the three eventual-consistency patterns.

mod charts;
mod cli;
mod config;
mod contract;
mod explore;
mod guard;
mod journal;
mod manifest;
mod output;
mod overrides;
mod publish;
mod reference;
mod report;
mod runner;
mod sample;
mod schema;
mod shard;
mod summary;
mod testbed;
mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{CommandFactory as _, Parser as _};

use crate::cli::{Cli, Command, ConfigOpts, ExecOpts, RunOpts, TestbedAction};
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

fn load(config: Option<&Path>, opts: &ConfigOpts) -> Result<Experiment, ConfigFileError> {
    let ov = opts.overrides();
    match config {
        // A bare name that is no file is a bundled experiment: `ecsim run baseline`.
        Some(p) if !p.exists() && p.extension().is_none() && p.components().count() == 1 => {
            let name = p.to_string_lossy();
            match config::bundled(&name) {
                Some(text) => config::load_with(text, &format!("<bundled {name}>"), &ov),
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
        Some(p) => config::load_file_with(p, &ov),
        None => config::load_with(config::BASELINE, "<built-in baseline>", &ov),
    }
}

/// Where a run writes by default: `results/<name>` for a bundled
/// experiment exactly as bundled (so rerunning it refreshes the committed
/// results), otherwise `runs/<name>-<config hash>`, so that no override and
/// no config of one's own ever writes over them.
fn default_out(exp: &Experiment) -> PathBuf {
    if exp.is_bundled() {
        Path::new("results").join(&exp.name)
    } else {
        Path::new("runs").join(format!("{}-{}", exp.name, exp.hash()))
    }
}

fn run(config: Option<&Path>, args: &RunOpts) -> Result<()> {
    let exp = load(config, &args.config)?;
    guard::check(&exp, args.exec.parallel()?, args.exec.force)?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&exp));
    let runs = exp.points.iter().map(|p| p.patterns.len()).sum::<usize>() * exp.replications as usize;
    if !args.exec.quiet {
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
    let results = runner::run_jobs(&exp, &all, done, &record, args.exec.threads()?, args.exec.quiet)?;
    let written = output::write_all(staging.dir(), &exp, &results)?;
    let charts = charts::render_all(staging.dir())?;
    report::write(staging.dir(), &exp, &results, &written)?;
    manifest::write(staging.dir(), &exp, &written)?;
    staging.commit()?;
    journal.remove()?;
    let broken: Vec<String> = results
        .iter()
        .filter(|(_, r)| !r.violations.is_empty())
        .map(|(j, r)| format!("{} (seed {}): {}", r.pattern, j.seed, output::violations(r)))
        .collect();
    if !args.exec.quiet {
        say!("{}", summary::table(&exp, &results));
        say!(
            "results: {} (report.html, summary.csv, aggregate.csv, timeseries.csv, cdf.csv, {} charts)",
            out.display(),
            charts.len()
        );
    }
    if !broken.is_empty() {
        anyhow::bail!("invariants broken:\n  {}", broken.join("\n  "));
    }
    Ok(())
}

fn sweep(config: &Path, spec: Option<shard::ShardSpec>, count: Option<u32>, args: &RunOpts) -> Result<()> {
    let exp = load(Some(config), &args.config)?;
    guard::check(&exp, args.exec.parallel()?, args.exec.force)?;
    let spec = match spec {
        Some(s) => s,
        None => shard::from_env(count)?,
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&exp).join("shards"));
    let file = shard::run_shard(&exp, spec, &out, args.exec.threads()?, args.exec.quiet, args.resume)?;
    if !args.exec.quiet {
        say!("shard {}/{}: {}", spec.index, spec.count, file.display());
    }
    Ok(())
}

fn write_trace(
    config: &Path,
    filter: &trace::TraceFilter,
    opts: &ConfigOpts,
    out: Option<&Path>,
    quiet: bool,
) -> Result<()> {
    let exp = load(Some(config), opts)?;
    let file = match filter.customer {
        Some(c) => format!("trace-customer-{c}.json"),
        None => "trace.json".to_string(),
    };
    // --out names a folder, as in every other subcommand.
    let out = out.map_or_else(|| default_out(&exp), Path::to_path_buf).join(file);
    let value = trace::chrome_trace(&exp, filter)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    output::write_atomic(&out, serde_json::to_string(&value)?.as_bytes())?;
    if !quiet {
        let n = value["traceEvents"].as_array().map_or(0, Vec::len);
        say!("{}: {n} trace events; open it in https://ui.perfetto.dev or chrome://tracing", out.display());
    }
    Ok(())
}

fn validation(seed: u64, out: Option<&Path>, quiet: bool) -> Result<()> {
    // The committed table is seed 7's; another seed's goes beside the runs.
    let out = out.map_or_else(
        || {
            if seed == 7 {
                Path::new("results").join("validation")
            } else {
                PathBuf::from(format!("runs/validation-seed-{seed}"))
            }
        },
        Path::to_path_buf,
    );
    if !quiet {
        eprintln!("validation: simulated against analytic values, 99% confidence intervals (seed {seed})");
    }
    let rows = patterns::validation::all(seed);
    // The table and its page go in together, or the folder stays as it was.
    let staging = publish::Staging::begin(&out)?;
    output::write_csv(&staging.dir().join("validation.csv"), &rows)?;
    let command = if seed == 7 { "ecsim validation".to_string() } else { format!("ecsim validation --seed {seed}") };
    report::write_table_page(
        staging.dir(),
        &report::TablePage {
            title: "validation",
            question: "Does the simulator agree with queueing theory and with the analytic values of the patterns?",
            command: &command,
            csv: "validation.csv",
            contract_name: None,
            notes: &[
                "Each row compares a simulated mean, with its 99% confidence interval over independent replications, \
                 with the exact analytic value; pass is true when the interval holds it. wrong_model is what a \
                 plausible wrong model would predict: an interval that excludes it shows the check has the power to \
                 catch that mistake.",
            ],
        },
    )?;
    staging.commit()?;
    if !quiet {
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

fn validate(config: &Path, opts: &ConfigOpts, threads: Option<usize>, force: bool) -> Result<()> {
    let e = load(Some(config), opts)?;
    let exec = ExecOpts { threads, ..Default::default() };
    guard::check(&e, exec.parallel()?, force)?;
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
        Some(Command::Run { config, opts }) => run(config.as_deref(), opts),
        Some(Command::List) => list(),
        Some(Command::Validate { config, config_opts, threads, force }) => {
            validate(config, config_opts, *threads, *force)
        }
        Some(Command::Validation { seed, out, quiet }) => validation(*seed, out.as_deref(), *quiet),
        Some(Command::Sweep { config, shard, count, opts }) => sweep(config, *shard, *count, opts),
        Some(Command::Merge { dir, out, quiet }) => {
            let out = out.clone().unwrap_or_else(|| dir.clone());
            shard::merge(dir).and_then(|(exp, results)| {
                // Whole or untouched, like a run; the shards stay where they were.
                let staging = publish::Staging::begin(&out)?;
                staging.carry_over(publish::is_shard_file)?;
                let written = output::write_all(staging.dir(), &exp, &results)?;
                charts::render_all(staging.dir())?;
                report::write(staging.dir(), &exp, &results, &written)?;
                manifest::write(staging.dir(), &exp, &written)?;
                staging.commit()?;
                if !quiet {
                    say!("{}", summary::table(&exp, &results));
                    say!("merged {} runs into {}", results.len(), out.display());
                }
                Ok(())
            })
        }
        Some(Command::Trace { config, customer, from, to, pattern, config_opts, out, quiet }) => {
            let filter = trace::TraceFilter { customer: *customer, from: *from, to: *to, pattern: pattern.clone() };
            write_trace(config, &filter, config_opts, out.as_deref(), *quiet)
        }
        Some(Command::Explore { seeds, pattern, budget, followers, out, threads, quiet }) => {
            // The committed hunt is the default one; any other writes beside the runs.
            let canonical = *seeds == 200 && pattern.is_none() && budget.is_none() && followers.is_none();
            let default = if canonical {
                Path::new("results").join("explore")
            } else {
                let mut name = format!("explore-seeds-{seeds}");
                if let Some(p) = pattern {
                    name.push_str(&format!("-{p}"));
                }
                if let Some(f) = followers {
                    name.push_str(&format!("-followers-{f}"));
                }
                Path::new("runs").join(name)
            };
            let args = explore::ExploreArgs {
                seeds: *seeds,
                pattern: pattern.clone(),
                budget: budget.map(|b| std::time::Duration::from_nanos(b.as_nanos())),
                out: out.clone().unwrap_or(default),
                threads: *threads,
                quiet: *quiet,
                followers: *followers,
            };
            let exec = ExecOpts { threads: *threads, ..Default::default() };
            exec.threads().and_then(|_| explore::explore(&args)).and_then(|(table, broken)| {
                if !quiet {
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
        Some(Command::Completions { shell }) => {
            clap_complete::generate(*shell, &mut Cli::command(), "ecsim", &mut std::io::stdout());
            Ok(())
        }
        Some(Command::Manpage) => {
            let mut out = std::io::stdout();
            clap_mangen::Man::new(Cli::command()).render(&mut out).context("cannot write the man page")
        }
        Some(Command::Testbed { action }) => match action {
            TestbedAction::Calibrate { measured, out, times_from, replications } => {
                testbed::calibrate(measured, times_from.as_deref(), *replications).and_then(|text| match out {
                    Some(path) => output::write_atomic(path, text.as_bytes()),
                    None => print(&text),
                })
            }
            TestbedAction::Compare { dir, check, tolerance } => {
                testbed::compare(dir, check.then_some(*tolerance)).and_then(|t| print(&t))
            }
        },
        Some(Command::Schema) => print(&schema::schema_text()),
        Some(Command::Reference { page }) => print(&match page {
            cli::ReferencePage::Config => reference::config_markdown(),
            cli::ReferencePage::Outputs => reference::outputs_markdown(),
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

/// Writes `text` to standard output.
fn print(text: &str) -> Result<()> {
    use std::io::Write as _;
    std::io::stdout().write_all(text.as_bytes()).context("cannot write to standard output")
}
