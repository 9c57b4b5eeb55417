//! Runs the hold model (or PHOLD with `phold` as the third argument, or the
//! bare-heap baselines with `bare` and `bare-phold`) for a while, for
//! profilers (`perf record`, callgrind) and CPU-time comparisons:
//! `cargo run --release -p benches --example hold_profile -- 1000 20000000`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let steps: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000_000);
    let start = std::time::Instant::now();
    let mode = args.get(3).map(String::as_str);
    if mode == Some("bare") || mode == Some("bare-phold") {
        use rand::Rng;
        use rand::SeedableRng;
        use std::cmp::Reverse;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut heap: std::collections::BinaryHeap<Reverse<(u64, u64)>> =
            (0..n as u64).map(|seq| Reverse((benches::exp1_ns(&mut rng), seq))).collect();
        let mut last = 0;
        for seq in n as u64..n as u64 + steps {
            let Reverse((now, _)) = heap.pop().expect("full");
            if mode == Some("bare-phold") {
                // PHOLD's destination draw, as the sim-core model makes it.
                std::hint::black_box(rng.random_range(0..n as u32));
            }
            heap.push(Reverse((now + benches::exp1_ns(&mut rng), seq)));
            last = now;
        }
        println!("bare: last {last}");
    } else if mode == Some("phold") {
        let mut sim = benches::phold_sim(n as u32, 1, 1);
        for _ in 0..steps {
            sim.step();
        }
        println!("phold: {} events, now {}", sim.stats().events, sim.now());
    } else {
        let mut sim = benches::hold_sim(n, 1);
        for _ in 0..steps {
            sim.step();
        }
        println!("hold: {} events, now {}", sim.stats().events, sim.now());
    }
    println!("{:.1} M steps/s", steps as f64 / start.elapsed().as_secs_f64() / 1e6);
}
