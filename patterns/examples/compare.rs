//! Runs the three patterns on one small scenario and prints what each did.
use patterns::{run, PatternConfig, RunOptions, Scenario};

fn main() {
    let mut scenario = Scenario { customers: 5_000, ..Default::default() };
    scenario.workload.rate_per_s = 2.0;
    scenario.workload.duration = "10m".parse().expect("a duration");
    scenario.workload.drain = "70m".parse().expect("a duration");
    for pattern in PatternConfig::book_defaults() {
        let r = run(&scenario, &pattern, 42, RunOptions::default()).expect("a valid scenario");
        println!(
            "{:<16} {} requests, p99 response {:.3}s, mean lag {:.1}s, {} inconsistent at the end",
            r.pattern, r.requests, r.response_time.p99, r.lag_from_answer.mean, r.inconsistent_at_end
        );
    }
}
