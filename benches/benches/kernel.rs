//! Kernel benchmarks: the hold and PHOLD models through sim-core's public
//! API, each beside a bare `BinaryHeap<(time, seq)>` loop measured in the
//! same run. Compare the ratios, not the absolute figures: machines are
//! shared and noisy.
// criterion_main! generates an undocumented `main`.
#![allow(missing_docs)]

use benches::{hold_sim, phold_sim, BareHeap};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Steps per measured iteration, so that criterion's own overhead is amortised.
const BATCH: u64 = 10_000;

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("hold");
    g.throughput(Throughput::Elements(BATCH));
    for n in [1_000usize, 100_000] {
        g.bench_with_input(BenchmarkId::new("bare_binary_heap", n), &n, |b, &n| {
            let mut heap = BareHeap::new(n, 1);
            b.iter(|| {
                for _ in 0..BATCH {
                    black_box(heap.step());
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("sim_core", n), &n, |b, &n| {
            let mut sim = hold_sim(n, 1);
            b.iter(|| {
                for _ in 0..BATCH {
                    black_box(sim.step());
                }
            })
        });
    }
    g.finish();
}

fn phold(c: &mut Criterion) {
    let mut g = c.benchmark_group("phold");
    g.throughput(Throughput::Elements(BATCH));
    // 1,000 components with one message each in flight: the same pending
    // population as the bare heap at N = 1,000.
    g.bench_function("bare_binary_heap/1000", |b| {
        let mut heap = BareHeap::new(1_000, 2);
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(heap.step());
            }
        })
    });
    g.bench_function("sim_core/1000", |b| {
        let mut sim = phold_sim(1_000, 1, 2);
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(sim.step());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, hold, phold);
criterion_main!(benches);
