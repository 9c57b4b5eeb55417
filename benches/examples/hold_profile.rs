//! Runs the hold model (or the bare heap, with `bare` as the third argument)
//! for a while, for profilers (`perf record`, callgrind).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let steps: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000_000);
    let start = std::time::Instant::now();
    if args.get(3).map(String::as_str) == Some("bare") {
        let mut heap = benches::BareHeap::new(n, 1);
        let mut last = 0;
        for _ in 0..steps {
            last = heap.step();
        }
        println!("bare: last {last}");
    } else {
        let mut sim = benches::hold_sim(n, 1);
        for _ in 0..steps {
            sim.step();
        }
        println!("sim: {} events, now {}", sim.stats().events, sim.now());
    }
    println!("{:.1} M steps/s", steps as f64 / start.elapsed().as_secs_f64() / 1e6);
}
