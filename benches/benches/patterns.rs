//! End-to-end benchmark of each pattern: 100,000 unsubscribes over 100,000
//! customers with the default latencies (200 requests/s for 500 s of
//! virtual time, then a drain long enough for the hourly sync to run).
//! Throughput is in simulated unsubscribes per wall-clock second.
// criterion_main! generates an undocumented `main`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use patterns::{run, PatternConfig, RunOptions};

fn patterns(c: &mut Criterion) {
    let s = benches::patterns_scenario();
    let mut g = c.benchmark_group("unsubscribes");
    g.sample_size(10);
    for p in PatternConfig::book_defaults() {
        // Count the requests once, so the throughput is exact.
        let started = std::time::Instant::now();
        let probe = run(&s, &p, 1, RunOptions::default()).expect("valid scenario");
        let wall = started.elapsed();
        assert_eq!(probe.inconsistent_at_end, 0);
        g.throughput(Throughput::Elements(probe.requests));
        // Events per unsubscribe attribute a gain to the model (fewer events)
        // or to the kernel (less time per event); the probe's time per event
        // is one unwarmed run, a rough guide beside criterion's figures.
        eprintln!(
            "{}: {} requests, {} kernel events per run, {:.1} events per unsubscribe, ~{:.0} ns per event",
            p.name(),
            probe.requests,
            probe.kernel.events,
            probe.kernel.events as f64 / probe.requests as f64,
            wall.as_nanos() as f64 / probe.kernel.events as f64
        );
        g.bench_function(p.name(), |b| b.iter(|| run(&s, &p, 1, RunOptions::default()).expect("valid scenario")));
    }
    g.finish();
}

criterion_group!(benches, patterns);
criterion_main!(benches);
