//! `ecsim explore`: swarm testing of each pattern's promises.
//!
//! For every seed, draw a random mix of faults (which kinds are on at all
//! is itself random, as in swarm testing), run every pattern on a small
//! scenario, let the faults heal and the run drain, and check the promises
//! (`patterns::promises`). A broken promise is shrunk by delta debugging over
//! the faults, then over their durations, to a small schedule that still
//! breaks it; that schedule is written as a config `ecsim run` replays
//! exactly, with its event trace.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use patterns::cdc::CdcConfig;
use patterns::event_based::EventConfig;
use patterns::promises::{broken, Promise};
use patterns::{PatternConfig, Role, RunOptions, Scenario};
use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;
use sim_core::{FaultSpec, Ordering, RngFactory, SimDuration, SimTime, TraceMode};
use toml::{Table, Value};

use crate::output::{write_atomic, write_csv};
use crate::runner::replication_seed;

/// One element of a fault mix: a scheduled fault, or a network impairment
/// that lasts the whole run.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FaultItem {
    /// A scheduled fault.
    Spec(FaultSpec),
    /// Loss on every link.
    Loss(f64),
    /// Duplication on every link.
    Duplicate(f64),
    /// Free reordering on every link.
    Reorder,
}

/// Every node of `base` a drawn fault may hit: all but the users (the
/// observers) and the tailer.
fn targets(base: &Scenario) -> Vec<String> {
    let t = base.topology();
    // The tailer is hit by draws of its own (see `draw_mix`), so that the
    // mixes drawn for the other nodes stay what they were before it existed.
    let skip = [t.id(Role::Client), t.id(Role::Tailer)];
    t.names()
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.iter().any(|s| s.index() == *i))
        .map(|(_, n)| n.clone())
        .collect()
}

/// The small scenario every explored run uses: the book's followers, or
/// `followers` identical ones (`svc1` ... `svcN`), each charging hourly.
pub(crate) fn base_scenario(followers: Option<u32>) -> Scenario {
    let mut s = Scenario { customers: 3_000, ..Default::default() };
    s.workload.rate_per_s = 3.0;
    s.workload.duration = SimDuration::from_mins(10);
    // Faults end by minute 13; the drain leaves room for a sync run and a
    // dead-letter repair round after that.
    s.workload.drain = SimDuration::from_mins(50);
    let hourly = SimDuration::from_hours(1);
    match followers {
        None => s.billing.period = hourly,
        Some(count) => {
            s.followers = vec![patterns::FollowerConfig {
                name: Some("svc".into()),
                table: Some("rows".into()),
                count: Some(count),
                side_effect: Some(patterns::SideEffectConfig {
                    name: "charge".into(),
                    period: hourly,
                    cost_cents: 4_900,
                }),
                ..Default::default()
            }]
        }
    }
    s
}

/// The patterns explored.
pub(crate) fn explored_patterns() -> Vec<PatternConfig> {
    let sync = patterns::background_sync::SyncConfig { interval: SimDuration::from_mins(15), ..Default::default() };
    vec![
        PatternConfig::BackgroundSync(sync),
        PatternConfig::Orchestrated(Default::default()),
        // The cure for the orchestrated pattern's late delete.
        PatternConfig::Orchestrated(patterns::orchestrated::OrchestratedConfig {
            fencing: true,
            name: Some("orchestrated_fenced".into()),
            ..Default::default()
        }),
        PatternConfig::EventBased(EventConfig::default()),
        PatternConfig::EventBased(EventConfig {
            outbox: true,
            name: Some("event_based_outbox".into()),
            ..Default::default()
        }),
        // Change data capture keeps its log for a day: no outage here outlasts it.
        PatternConfig::Cdc(CdcConfig::default()),
        // ... and for one minute, which a tailer crash can outlast.
        PatternConfig::Cdc(CdcConfig {
            retention: SimDuration::from_mins(1),
            name: Some("cdc_short_retention".into()),
            ..Default::default()
        }),
    ]
}

/// A uniform draw in `[lo, hi)` seconds, to the millisecond so that
/// reproducers read well.
fn secs(rng: &mut impl Rng, lo: f64, hi: f64) -> SimDuration {
    SimDuration::from_millis((rng.random_range(lo..hi) * 1000.0).round() as u64)
}

fn node(rng: &mut impl Rng, targets: &[String]) -> String {
    targets[rng.random_range(0..targets.len())].clone()
}

/// Draws the fault mix of one seed.
pub(crate) fn draw_mix(seed: u64, targets: &[String]) -> Vec<FaultItem> {
    let mut rng = RngFactory::new(seed).stream("explore/mix");
    let mut items = Vec::new();
    let window = 600.0; // faults start within the 10-minute arrival window
    let count = |rng: &mut sim_core::SimRng| if rng.random_bool(0.5) { rng.random_range(1..=3) } else { 0 };
    for _ in 0..count(&mut rng) {
        let one_way = rng.random_bool(0.3);
        items.push(FaultItem::Spec(FaultSpec::Partition {
            at: SimTime::ZERO + secs(&mut rng, 0.0, window),
            duration: secs(&mut rng, 5.0, 180.0),
            groups: vec![vec![node(&mut rng, targets)]],
            one_way,
        }));
    }
    for _ in 0..count(&mut rng) {
        items.push(FaultItem::Spec(FaultSpec::Crash {
            node: node(&mut rng, targets),
            at: SimTime::ZERO + secs(&mut rng, 0.0, window),
            restart_after: Some(secs(&mut rng, 5.0, 180.0)),
        }));
    }
    for _ in 0..count(&mut rng) {
        items.push(FaultItem::Spec(FaultSpec::Pause {
            node: node(&mut rng, targets),
            at: SimTime::ZERO + secs(&mut rng, 0.0, window),
            duration: secs(&mut rng, 1.0, 60.0),
        }));
    }
    for _ in 0..count(&mut rng) {
        items.push(FaultItem::Spec(FaultSpec::Slow {
            node: node(&mut rng, targets),
            at: SimTime::ZERO + secs(&mut rng, 0.0, window),
            duration: secs(&mut rng, 30.0, 180.0),
            factor: rng.random_range(2.0..20.0),
        }));
    }
    for _ in 0..count(&mut rng) {
        items.push(FaultItem::Spec(FaultSpec::LatencySpike {
            node: node(&mut rng, targets),
            at: SimTime::ZERO + secs(&mut rng, 0.0, window),
            duration: secs(&mut rng, 10.0, 180.0),
            extra: secs(&mut rng, 0.05, 2.0),
        }));
    }
    if rng.random_bool(0.5) {
        items.push(FaultItem::Loss(rng.random_range(0.01..0.1)));
    }
    if rng.random_bool(0.5) {
        items.push(FaultItem::Duplicate(rng.random_range(0.01..0.1)));
    }
    if rng.random_bool(0.5) {
        items.push(FaultItem::Reorder);
    }
    // The change-data-capture tailer, from a stream of its own: the mixes
    // above are what they were before it existed.
    let mut rng = RngFactory::new(seed).stream("explore/tailer");
    if rng.random_bool(0.5) {
        items.push(FaultItem::Spec(FaultSpec::Crash {
            node: "tailer".into(),
            at: SimTime::ZERO + secs(&mut rng, 0.0, window),
            restart_after: Some(secs(&mut rng, 5.0, 180.0)),
        }));
    }
    items
}

/// The base scenario with a fault mix applied.
pub(crate) fn apply(base: &Scenario, items: &[FaultItem]) -> Scenario {
    let mut s = base.clone();
    for item in items {
        match item {
            FaultItem::Spec(f) => s.faults.push(f.clone()),
            FaultItem::Loss(p) => s.network.default.loss = *p,
            FaultItem::Duplicate(p) => s.network.default.duplicate = *p,
            FaultItem::Reorder => s.network.default.ordering = Ordering::Reorder,
        }
    }
    s
}

fn check(s: &Scenario, p: &PatternConfig, seed: u64) -> Vec<(Promise, String)> {
    check_counting(s, p, seed).0
}

/// The broken promises, and the failed compensations (counted, so not a
/// broken promise, but what the orchestrated pattern's search is after).
fn check_counting(s: &Scenario, p: &PatternConfig, seed: u64) -> (Vec<(Promise, String)>, u64) {
    match patterns::run(s, p, seed, RunOptions::default()) {
        Ok(r) => (broken(&r), r.counters.failed_compensations),
        Err(e) => (vec![(Promise::Accounting, format!("scenario error: {e}"))], 0),
    }
}

/// Delta debugging (ddmin): a 1-minimal subset of `items` for which `fails` holds.
pub(crate) fn ddmin<T: Clone>(items: &[T], fails: &dyn Fn(&[T]) -> bool) -> Vec<T> {
    let mut c = items.to_vec();
    let mut n = 2usize;
    while c.len() >= 2 {
        let size = c.len().div_ceil(n);
        let chunks: Vec<Vec<T>> = c.chunks(size).map(<[T]>::to_vec).collect();
        let mut reduced = false;
        for (i, chunk) in chunks.iter().enumerate() {
            if fails(chunk) {
                c = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
            let complement: Vec<T> =
                chunks.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, k)| k.clone()).collect();
            if chunks.len() > 2 && fails(&complement) {
                c = complement;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= c.len() {
                break;
            }
            n = (2 * n).min(c.len());
        }
    }
    c
}

/// Shortens each fault's duration by halving while the promise still breaks.
fn shrink_times(items: Vec<FaultItem>, fails: &dyn Fn(&[FaultItem]) -> bool) -> Vec<FaultItem> {
    let mut items = items;
    for i in 0..items.len() {
        for _ in 0..6 {
            let mut trial = items.clone();
            let shorter = |d: &mut SimDuration| *d = (*d / 2).max(SimDuration::from_millis(1));
            match &mut trial[i] {
                FaultItem::Spec(FaultSpec::Partition { duration, .. })
                | FaultItem::Spec(FaultSpec::Pause { duration, .. })
                | FaultItem::Spec(FaultSpec::Slow { duration, .. })
                | FaultItem::Spec(FaultSpec::LatencySpike { duration, .. })
                | FaultItem::Spec(FaultSpec::Crash { restart_after: Some(duration), .. }) => shorter(duration),
                _ => break,
            }
            if fails(&trial) {
                items = trial;
            } else {
                break;
            }
        }
    }
    items
}

/// A reproducer: the config text `ecsim run` replays.
pub(crate) fn reproducer(
    name: &str,
    seed_index: u64,
    scenario: &Scenario,
    pattern: &PatternConfig,
    why: &str,
) -> Result<String> {
    let mut t = Table::new();
    t.insert("name".into(), Value::String(name.into()));
    t.insert("description".into(), Value::String(format!("Shrunk by ecsim explore: {why}")));
    t.insert("seed".into(), Value::Integer(seed_index as i64));
    t.insert("replications".into(), Value::Integer(1));
    t.insert("patterns".into(), Value::Array(vec![Value::try_from(pattern)?]));
    for (k, v) in Table::try_from(scenario)? {
        t.insert(k, v);
    }
    Ok(toml::to_string(&t)?)
}

/// One broken promise found by the search.
#[derive(Clone, Debug)]
struct Finding {
    pattern: usize,
    seed_index: u64,
    promise: Promise,
    detail: String,
    faults: usize,
}

/// A row of `explore/summary.csv`.
#[derive(Serialize)]
struct SummaryRow {
    pattern: String,
    runs: u64,
    promise: &'static str,
    violations: u64,
    smallest_faults: Option<usize>,
    reproducer: String,
    example_seed: Option<u64>,
    failed_compensations: u64,
    detail: String,
}

/// Options of `ecsim explore`.
#[derive(Clone, Debug)]
pub(crate) struct ExploreArgs {
    /// Seeds to try (0..seeds).
    pub seeds: u64,
    /// Only patterns whose name contains this.
    pub pattern: Option<String>,
    /// Stop starting new seeds after this much wall-clock time.
    pub budget: Option<std::time::Duration>,
    /// Where the reproducers go.
    pub out: PathBuf,
    /// Worker threads.
    pub threads: Option<usize>,
    /// No progress bar or table.
    pub quiet: bool,
    /// Explore with this many identical followers instead of the book's two.
    pub followers: Option<u32>,
}

/// Runs the search and writes its outputs. Returns the printed summary.
pub(crate) fn explore(args: &ExploreArgs) -> Result<(String, u64)> {
    let base = base_scenario(args.followers);
    if let Err(e) = base.validate() {
        anyhow::bail!(crate::UsageError(format!("--followers: {}", e.problem)));
    }
    let targets = targets(&base);
    let pats: Vec<PatternConfig> = explored_patterns()
        .into_iter()
        .filter(|p| args.pattern.as_deref().is_none_or(|f| p.name().contains(f)))
        .collect();
    anyhow::ensure!(!pats.is_empty(), "no explored pattern matches {:?}", args.pattern);
    // Whole or untouched, like a run: no reproducer of an earlier search
    // survives into this one, and an interrupted search changes nothing.
    let staging = crate::publish::Staging::begin(&args.out)?;
    let dir = staging.dir();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads.unwrap_or(0)).build()?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(args.seeds), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("explore [{bar:40}] {pos}/{len} seeds, {elapsed}")
            .expect("template")
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let over_budget = || args.budget.is_some_and(|b| start.elapsed() > b);

    // Search: every seed, every pattern.
    let per_seed: Vec<Option<(Vec<Finding>, Vec<u64>)>> = pool.install(|| {
        (0..args.seeds)
            .into_par_iter()
            .map(|i| {
                if over_budget() {
                    return None;
                }
                let items = draw_mix(i, &targets);
                let s = apply(&base, &items);
                let seed = replication_seed(i, 0);
                let n_faults = items.len();
                let mut found = Vec::new();
                let mut failed_comp = Vec::new();
                for (pi, p) in pats.iter().enumerate() {
                    let (b, fc) = check_counting(&s, p, seed);
                    failed_comp.push(fc);
                    found.extend(b.into_iter().map(|(promise, detail)| Finding {
                        pattern: pi,
                        seed_index: i,
                        promise,
                        detail,
                        faults: n_faults,
                    }));
                }
                bar.inc(1);
                Some((found, failed_comp))
            })
            .collect()
    });
    bar.finish_and_clear();
    let runs = per_seed.iter().filter(|x| x.is_some()).count() as u64;
    let mut failed_compensations = vec![0u64; pats.len()];
    for (_, fc) in per_seed.iter().flatten() {
        for (total, n) in failed_compensations.iter_mut().zip(fc) {
            *total += n;
        }
    }
    let findings: Vec<Finding> = per_seed.into_iter().flatten().flat_map(|(f, _)| f).collect();

    // Shrink the first few findings of each (pattern, promise).
    let mut to_shrink: Vec<Finding> = Vec::new();
    for f in &findings {
        if to_shrink.iter().filter(|g| g.pattern == f.pattern && g.promise == f.promise).count() < 3 {
            to_shrink.push(f.clone());
        }
    }
    let shrunk: Vec<(Finding, Vec<FaultItem>)> = pool.install(|| {
        to_shrink
            .par_iter()
            .map(|f| {
                let p = &pats[f.pattern];
                let seed = replication_seed(f.seed_index, 0);
                let fails = |items: &[FaultItem]| check(&apply(&base, items), p, seed).iter().any(|b| b.0 == f.promise);
                let small = shrink_times(ddmin(&draw_mix(f.seed_index, &targets), &fails), &fails);
                // Describe what the shrunk schedule breaks, not the original mix.
                let detail = check(&apply(&base, &small), p, seed)
                    .into_iter()
                    .find(|b| b.0 == f.promise)
                    .map_or_else(|| f.detail.clone(), |b| b.1);
                (Finding { faults: small.len(), detail, ..f.clone() }, small)
            })
            .collect()
    });

    let mut rows = Vec::new();
    for (pi, p) in pats.iter().enumerate() {
        for promise in Promise::ALL {
            let count = findings.iter().filter(|f| f.pattern == pi && f.promise == promise).count() as u64;
            let best = shrunk
                .iter()
                .filter(|(f, _)| f.pattern == pi && f.promise == promise)
                .min_by_key(|(f, _)| (f.faults, f.seed_index));
            let mut file = String::new();
            if let Some((f, items)) = best {
                let name = format!("repro-{}-{}", p.name(), promise.name());
                let scenario = apply(&base, items);
                let text = reproducer(&name, f.seed_index, &scenario, p, &f.detail)?;
                write_atomic(&dir.join(format!("{name}.toml")), text.as_bytes())?;
                write_trace(&dir.join(format!("{name}.trace.jsonl")), &scenario, p, replication_seed(f.seed_index, 0))?;
                file = format!("{name}.toml");
            }
            rows.push(SummaryRow {
                pattern: p.name(),
                runs,
                promise: promise.name(),
                violations: count,
                smallest_faults: best.map(|(f, _)| f.faults),
                reproducer: file,
                example_seed: best.map(|(f, _)| f.seed_index),
                failed_compensations: failed_compensations[pi],
                detail: best.map(|(f, _)| f.detail.clone()).unwrap_or_default(),
            });
        }
    }
    write_csv(&dir.join("summary.csv"), &rows)?;
    let mut command = format!("ecsim explore --seeds {}", args.seeds);
    if let Some(p) = &args.pattern {
        command.push_str(&format!(" --pattern {p}"));
    }
    if let Some(n) = args.followers {
        command.push_str(&format!(" --followers {n}"));
    }
    crate::report::write_table_page(
        dir,
        &crate::report::TablePage {
            title: "explore",
            question:
                "Which fault mixes break a pattern's promises, and what is the smallest reproducer of each break?",
            command: &command,
            csv: "summary.csv",
            contract_name: Some("explore/summary.csv"),
            notes: &["Each row is one pattern and promise over every seed tried: how many runs broke it, and the \
                 smallest fault mix found that still does (shrunk), saved as a config beside this page with its \
                 event trace (.trace.jsonl). Run a reproducer with ecsim run <file>."],
        },
    )?;
    staging.commit()?;
    let mut text = format!(
        "{:<20} {:>5}  {:<20} {:>10}  {:>17}  {:>5}  reproducer\n",
        "pattern", "runs", "promise", "violations", "smallest (faults)", "seed"
    );
    for r in &rows {
        text.push_str(&format!(
            "{:<20} {:>5}  {:<20} {:>10}  {:>17}  {:>5}  {}\n",
            r.pattern,
            r.runs,
            r.promise,
            r.violations,
            r.smallest_faults.map_or("-".into(), |n| n.to_string()),
            r.example_seed.map_or("-".into(), |n| n.to_string()),
            r.reproducer
        ));
    }
    let failed: u64 = rows.iter().map(|r| r.violations).sum();
    for (p, n) in pats.iter().zip(&failed_compensations) {
        if *n > 0 {
            text.push_str(&format!(
                "{}: {n} failed compensations over all seeds (counted as manual repairs)\n",
                p.name()
            ));
        }
    }
    text.push_str(&format!(
        "{runs} seeds x {} patterns, {failed} broken promises; reproducers in {}\n",
        pats.len(),
        args.out.display()
    ));
    Ok((text, failed))
}

/// Replays one run with full tracing and writes the trace as JSON Lines.
pub(crate) fn write_trace(path: &Path, scenario: &Scenario, pattern: &PatternConfig, seed: u64) -> Result<()> {
    let mut built = patterns::build(scenario, pattern, seed, TraceMode::Record)?;
    built.sim.run_until(scenario.horizon());
    let mut buf = Vec::new();
    built.sim.trace().write_jsonl(built.sim.network().names(), &mut buf)?;
    write_atomic(path, &buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddmin_finds_the_minimal_pair() {
        let items: Vec<u32> = (0..20).collect();
        let fails = |xs: &[u32]| xs.contains(&3) && xs.contains(&17);
        assert_eq!(ddmin(&items, &fails), vec![3, 17]);
        let one = |xs: &[u32]| xs.contains(&11);
        assert_eq!(ddmin(&items, &one), vec![11]);
    }

    #[test]
    fn mixes_are_seeded_and_varied() {
        let t = targets(&base_scenario(None));
        assert_eq!(draw_mix(5, &t), draw_mix(5, &t));
        let sizes: Vec<usize> = (0..50).map(|s| draw_mix(s, &t).len()).collect();
        assert!(sizes.iter().any(|&n| n == 0 || n > 6), "swarm testing should vary which faults are on: {sizes:?}");
    }
}
