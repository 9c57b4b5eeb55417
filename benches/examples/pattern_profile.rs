//! Runs one pattern on the patterns bench's scenario (100,000 unsubscribes
//! over 100,000 customers at 200 per second), for profilers (`perf record`,
//! callgrind): `cargo run --release -p benches --example pattern_profile --
//! event_based 3`. The first argument picks the pattern by name (a prefix
//! is enough), the second how many runs.
use patterns::{run, PatternConfig, RunOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let want = args.get(1).map_or("event", String::as_str);
    let runs: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let s = benches::patterns_scenario();
    let Some(p) = PatternConfig::book_defaults().into_iter().find(|p| p.name().starts_with(want)) else {
        eprintln!("no pattern named {want}");
        std::process::exit(2);
    };
    let start = std::time::Instant::now();
    let mut events = 0;
    let mut requests = 0;
    for seed in 0..runs {
        let r = run(&s, &p, u64::from(seed), RunOptions::default()).expect("valid scenario");
        events += r.kernel.events;
        requests += r.requests;
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{}: {:.0} k unsubscribes/s, {:.1} events per unsubscribe, {:.0} ns per event",
        p.name(),
        requests as f64 / wall / 1e3,
        events as f64 / requests as f64,
        wall * 1e9 / events as f64
    );
}
