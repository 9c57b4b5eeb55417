//! Kernel benchmarks: the hold and PHOLD models through sim-core's public
//! API, each beside a fair bare-heap baseline measured in the same run.
//!
//! The baselines are written out in full here, in the benchmark loop, so
//! the compiler inlines all of them: a bare `BinaryHeap<Reverse<(time,
//! seq)>>`, pop then push, with the same random draws per event as the
//! sim-core model (one Exp(1) delay from a ChaCha8 stream in hold; a
//! uniform destination and then the delay in PHOLD). Compare the ratios,
//! not the absolute figures: machines are shared and noisy; run the bench
//! at least three times and take the median ratio.
// criterion_main! generates an undocumented `main`.
#![allow(missing_docs)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use benches::{exp1_ns, hold_sim, phold_sim};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Steps per measured iteration, so that criterion's own overhead is amortised.
const BATCH: u64 = 10_000;

/// A bare heap holding `n` entries at Exp(1) times, drawn as `hold_sim` and
/// `phold_sim` draw their initial events, and the stream that continues.
fn bare(n: usize, seed: u64) -> (BinaryHeap<Reverse<(u64, u64)>>, ChaCha8Rng) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let heap = (0..n as u64).map(|seq| Reverse((exp1_ns(&mut rng), seq))).collect();
    (heap, rng)
}

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("hold");
    g.throughput(Throughput::Elements(BATCH));
    for n in [1_000usize, 100_000] {
        g.bench_with_input(BenchmarkId::new("bare_binary_heap", n), &n, |b, &n| {
            let (mut heap, mut rng) = bare(n, 1);
            let mut seq = n as u64;
            b.iter(|| {
                for _ in 0..BATCH {
                    let Reverse((now, _)) = heap.pop().expect("hold keeps the heap full");
                    heap.push(Reverse((now + exp1_ns(&mut rng), seq)));
                    seq += 1;
                    black_box(now);
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
    const P: u32 = 1_000;
    let mut g = c.benchmark_group("phold");
    g.throughput(Throughput::Elements(BATCH));
    // 1,000 components with one message each in flight.
    g.bench_function(BenchmarkId::new("bare_binary_heap", P), |b| {
        let (mut heap, mut rng) = bare(P as usize, 2);
        let mut seq = u64::from(P);
        b.iter(|| {
            for _ in 0..BATCH {
                let Reverse((now, _)) = heap.pop().expect("PHOLD keeps the heap full");
                // The same draws as sim-core's PHOLD: a destination, then a delay.
                let to = rng.random_range(0..P);
                heap.push(Reverse((now + exp1_ns(&mut rng), seq)));
                seq += 1;
                black_box((now, to));
            }
        })
    });
    g.bench_function(BenchmarkId::new("sim_core", P), |b| {
        let mut sim = phold_sim(P, 1, 2);
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
