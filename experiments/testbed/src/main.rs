//! `ecsim-testbed`: runs one of the book's patterns for real against the
//! servers `servers.sh` started, and writes what it measured into a folder.
//! `ecsim testbed calibrate` and `ecsim testbed compare` take it from there;
//! `experiments/testbed/compare.sh` does all of it in one command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use testbed::db::Server;
use testbed::info::{Pattern, RunInfo};
use testbed::run::{self, Endpoints};

/// Run one pattern on the real servers and record everything.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The pattern.
    #[arg(long, value_enum)]
    pattern: Pattern,
    /// The folder to write (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Mean unsubscribes per second (open-loop Poisson).
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Seconds during which requests arrive.
    #[arg(long, default_value_t = 180.0)]
    duration: f64,
    /// Customers at the start.
    #[arg(long, default_value_t = 10_000)]
    customers: i32,
    /// Seed of the arrival times and the customers' order.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Workers (and database connections) per service.
    #[arg(long, default_value_t = 16)]
    workers: usize,
    /// Background sync: seconds between runs.
    #[arg(long, default_value_t = 10.0)]
    sync_interval: f64,
    /// Event-based: write the event with the delete (transactional outbox).
    #[arg(long)]
    outbox: bool,
    /// Stop the broker AT seconds after the load starts, for FOR seconds
    /// ("AT,FOR"; needs --servers).
    #[arg(long, value_name = "AT,FOR", value_parser = outage)]
    broker_outage: Option<(f64, f64)>,
    /// The folder servers.sh started the servers in.
    #[arg(long)]
    servers: Option<PathBuf>,
    /// PostgreSQL's port on 127.0.0.1.
    #[arg(long, env = "ECSIM_PG_PORT", default_value_t = 25432)]
    pg_port: u16,
    /// RabbitMQ's AMQP port on 127.0.0.1.
    #[arg(long, env = "ECSIM_AMQP_PORT", default_value_t = 26672)]
    amqp_port: u16,
}

fn outage(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once(',').ok_or("expected AT,FOR in seconds, e.g. 60,60")?;
    let num = |x: &str| x.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
    match (num(a), num(b)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(format!("{s:?}: expected two non-negative numbers of seconds, e.g. 60,60")),
    }
}

/// Bad arguments clap cannot see: the answer, for exit code 2.
fn check(a: &Args) -> Result<(), String> {
    if !(a.rate > 0.0 && a.rate.is_finite()) {
        return Err(format!("--rate must be a positive number, not {}", a.rate));
    }
    if !(a.duration > 0.0 && a.duration.is_finite()) {
        return Err(format!("--duration must be a positive number of seconds, not {}", a.duration));
    }
    if a.customers <= 0 {
        return Err(format!("--customers must be positive, not {}", a.customers));
    }
    if a.workers == 0 {
        return Err("--workers must be positive".into());
    }
    if !(a.sync_interval > 0.0 && a.sync_interval.is_finite()) {
        return Err(format!("--sync-interval must be a positive number of seconds, not {}", a.sync_interval));
    }
    if a.broker_outage.is_some() && a.servers.is_none() {
        return Err("--broker-outage needs --servers (the folder servers.sh started the servers in)".into());
    }
    if a.out.exists() {
        return Err(format!("--out {} exists; give a new folder", a.out.display()));
    }
    Ok(())
}

fn main() -> ExitCode {
    let a = Args::parse();
    if let Err(problem) = check(&a) {
        eprintln!("ecsim-testbed: {problem}");
        return ExitCode::from(2);
    }
    match go(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ecsim-testbed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn go(a: Args) -> Result<()> {
    let info = RunInfo {
        pattern: a.pattern,
        customers: a.customers,
        rate_per_s: a.rate,
        duration_s: a.duration,
        seed: a.seed,
        client_timeout_s: 30.0,
        workers: a.workers,
        followers: Vec::new(),
        sync_interval_s: a.sync_interval,
        batch_size: 500,
        call_timeout_s: 2.0,
        max_retries: 2,
        backoff_s: 0.2,
        outbox: a.outbox,
        prefetch: 32,
        max_deliveries: 5,
        publish_timeout_s: 2.0,
        broker_outage_at_s: a.broker_outage.map(|o| o.0),
        broker_outage_for_s: a.broker_outage.map_or(0.0, |o| o.1),
        outage: None,
        load_start_ns: 0,
        messages: 0,
        publish_retries: 0,
        drain_s: 0.0,
        told_ok_not_converged: 0,
        error_not_restored: 0,
        queued_at_end: 0,
        dead_lettered: 0,
    };
    let ends = Endpoints {
        pg: Server { host: "127.0.0.1".into(), port: a.pg_port },
        amqp: format!("amqp://guest:guest@127.0.0.1:{}/%2f", a.amqp_port),
        servers: a.servers.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let info = rt.block_on(run::run(info, &ends, &a.out))?;
    eprintln!(
        "{}: {} messages, drain {:.1} s, told ok but not converged {}, queued at end {}, dead-lettered {}",
        info.pattern.kind(),
        info.messages,
        info.drain_s,
        info.told_ok_not_converged,
        info.queued_at_end,
        info.dead_lettered
    );
    let broken = info.told_ok_not_converged + info.error_not_restored + info.queued_at_end;
    anyhow::ensure!(broken == 0, "invariants broken after the drain (see {}/run.json)", a.out.display());
    Ok(())
}
