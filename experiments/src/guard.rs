//! Resource guards: refuse, before simulating, what would run for days or
//! exhaust the machine, naming the key that drives the estimate.

use std::path::Path;

use patterns::Scenario;

use crate::config::{ConfigFileError, Experiment};

/// Kernel events per unsubscribe request, generously (the orchestrated and
/// event-based patterns take 13 to 14 in the bundled benches).
const EVENTS_PER_REQUEST: f64 = 20.0;
/// The most events one command may simulate without `--force`.
const MAX_EVENTS: f64 = 1e11;
/// Resident bytes per customer (the table bits, the request index, the
/// client's draw order, the billing order and its charged bit: 17.9
/// measured at a 30-day run's peak, 896 MiB over 52.4 M customers,
/// everything else included) and per request record held (about 260
/// measured, with the vector's slack).
const BYTES_PER_CUSTOMER: f64 = 20.0;
const BYTES_PER_REQUEST: f64 = 300.0;

/// Expected unsubscribe requests in one run of `s`.
fn requests(s: &Scenario) -> f64 {
    let w = &s.workload;
    let window = w.duration.as_secs_f64();
    let asked = if !w.at.is_empty() {
        w.at.len() as f64
    } else if let Some(c) = &w.closed_loop {
        // Each user sends at most one request per think time (plus a
        // response time, left out: an upper bound).
        f64::from(c.users) * window / c.think_time.mean_secs().unwrap_or(0.0).max(1e-3)
    } else {
        w.rate_per_s * window
    };
    // Every customer unsubscribes at most once.
    asked.min(f64::from(s.customers))
}

/// Request records one run of `s` holds at once: every one, or with
/// `workload.retire_after` about two windows' arrivals (the window itself,
/// and the time to settle; stuck requests stay too, but are few).
fn records_held(s: &Scenario) -> f64 {
    let n = requests(s);
    match s.workload.retire_after {
        None => n,
        Some(after) => {
            let rate = n / s.workload.duration.as_secs_f64().max(1e-9);
            (2.0 * rate * after.as_secs_f64()).min(n)
        }
    }
}

/// Checks the experiment's work and memory against the machine, unless
/// `force`. `threads` runs go side by side.
pub(crate) fn check(exp: &Experiment, threads: usize, force: bool) -> Result<(), ConfigFileError> {
    if force {
        return Ok(());
    }
    let fail = |key: &str, problem: String| ConfigFileError {
        file: exp.source.clone(),
        key: key.into(),
        problem: format!("{problem}; pass --force to run it anyway"),
    };
    let reps = f64::from(exp.replications);
    let events: f64 = exp.points.iter().map(|p| requests(&p.scenario) * p.patterns.len() as f64).sum::<f64>()
        * reps
        * EVENTS_PER_REQUEST;
    if events > MAX_EVENTS {
        let per_run = exp.points.iter().map(|p| requests(&p.scenario)).fold(0.0, f64::max);
        let key =
            if per_run * EVENTS_PER_REQUEST > MAX_EVENTS / 100.0 { "workload.rate_per_s" } else { "replications" };
        return Err(fail(
            key,
            format!(
                "about {events:.1e} events ({per_run:.1e} requests per run x {} runs), more than {MAX_EVENTS:.0e}",
                exp.points.iter().map(|p| p.patterns.len()).sum::<usize>() * exp.replications as usize
            ),
        ));
    }
    let Some(total) = physical_memory() else { return Ok(()) };
    let per_run = exp
        .points
        .iter()
        .map(|p| f64::from(p.scenario.customers) * BYTES_PER_CUSTOMER + records_held(&p.scenario) * BYTES_PER_REQUEST)
        .fold(0.0, f64::max);
    let need = per_run * threads.max(1) as f64;
    if need > 0.8 * total {
        let customers = exp.points.iter().map(|p| f64::from(p.scenario.customers)).fold(0.0, f64::max);
        let retiring = exp.points.iter().all(|p| p.scenario.workload.retire_after.is_some());
        // Name what would shrink the larger share.
        let (key, hint) = if customers * BYTES_PER_CUSTOMER > per_run / 2.0 {
            ("customers", "")
        } else if retiring {
            ("workload.rate_per_s", "")
        } else {
            ("workload.retire_after", " (set it, e.g. \"1h\", to drop settled requests' records as the run goes)")
        };
        return Err(fail(
            key,
            format!(
                "needs about {:.1} GiB ({threads} runs side by side), more than 80% of this machine's {:.1} GiB{hint}",
                need / f64::from(1 << 30),
                total / f64::from(1 << 30)
            ),
        ));
    }
    Ok(())
}

/// Physical memory in bytes, where the platform says.
fn physical_memory() -> Option<f64> {
    let text = std::fs::read_to_string(Path::new("/proc/meminfo")).ok()?;
    let kib: f64 = text.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}
