//! Change data capture: no dual-write gap, duplicates after a tailer
//! crash, and lost events once the tailer falls behind the log's retention.

use patterns::cdc::{CdcConfig, TailMode};
use patterns::event_based::EventConfig;
use patterns::{run, FollowerConfig, PatternConfig, RunOptions, RunReport, Scenario};
use sim_core::{FaultSpec, SimDuration};

mod common;
use common::{d, t};

fn small() -> Scenario {
    let mut s = Scenario { customers: 3_000, ..Default::default() };
    s.workload.rate_per_s = 3.0;
    s.workload.duration = d("10m");
    s.workload.drain = d("30m");
    s
}

fn go(s: &Scenario, p: &CdcConfig) -> RunReport {
    let r =
        run(s, &PatternConfig::Cdc(p.clone()), 11, RunOptions { keep_requests: true, ..Default::default() }).unwrap();
    assert!(r.violations.is_empty(), "{}: {:?}", r.pattern, r.violations);
    r
}

fn crash(node: &str, at: &str, down: &str) -> FaultSpec {
    FaultSpec::Crash { node: node.into(), at: t(at), restart_after: Some(d(down)) }
}

fn stream() -> CdcConfig {
    CdcConfig { mode: TailMode::Stream, poll_interval: d("5s"), ..Default::default() }
}

#[test]
fn polling_and_streaming_converge_with_lag_set_by_the_mode() {
    let s = small();
    let poll = go(&s, &CdcConfig::default());
    let streamed = go(&s, &stream());
    for r in [&poll, &streamed] {
        assert_eq!(r.answered_ok, r.requests);
        assert_eq!(r.inconsistent_at_end, 0);
        assert_eq!((r.events_lost, r.counters.log_entries_lost, r.counters.duplicates), (0, 0, 0));
    }
    // Polling every 500 ms: an entry waits for the next read, 250 ms on
    // average, on top of the broker and the consumers (~30 ms).
    let p = poll.lag_from_answer.mean;
    assert!((0.2..0.4).contains(&p), "poll mean lag {p}");
    // Streaming ships each commit after ~10 ms.
    let q = streamed.lag_from_answer.mean;
    assert!(q < 0.1, "stream mean lag {q}");
    // The user waits for Profile only, in both.
    assert!(poll.response_time.p99 < 0.1 && streamed.response_time.p99 < 0.1);
}

/// Profile crashing right after commits loses nothing: the commit log is
/// the event. The same crashes open the event-based dual-write gap.
#[test]
fn a_source_crash_loses_no_event() {
    let mut s = small();
    s.faults = (1..=8).map(|k| crash("profile", &format!("{k}m"), "20s")).collect();
    for p in [CdcConfig::default(), stream()] {
        let r = go(&s, &p);
        assert_eq!(r.events_lost, 0);
        assert_eq!(r.inconsistent_at_end, 0);
    }
    let mut gap = s.clone();
    gap.faults.clear();
    let dual = EventConfig { dual_write_crash_prob: 0.01, ..Default::default() };
    let r = run(&gap, &PatternConfig::EventBased(dual), 11, RunOptions::default()).unwrap();
    assert!(r.events_lost > 0, "the event-based control lost nothing");
    let mut cdc_gap = gap.clone();
    cdc_gap.faults = s.faults.clone();
    assert_eq!(go(&cdc_gap, &CdcConfig::default()).events_lost, 0);
}

/// A tailer crash inside the retention: it resumes from its last committed
/// offset and publishes again what it had published since; the followers'
/// idempotency absorbs the duplicates and the data converges.
#[test]
fn a_tailer_crash_redelivers_and_converges() {
    let mut s = small();
    s.faults = vec![crash("tailer", "4m7s", "1m")];
    let r = go(&s, &CdcConfig::default());
    assert!(r.counters.duplicates > 0, "nothing was published twice");
    assert_eq!((r.events_lost, r.counters.log_entries_lost), (0, 0));
    assert_eq!(r.inconsistent_at_end, 0);
}

/// A tailer down longer than the retention: the entries it had not read
/// are gone, counted as lost events, and exactly those customers stay
/// inconsistent. The gap it finds on restart also spans what it had
/// published after its last offset commit, so it is at least as large.
#[test]
fn a_tailer_outage_past_the_retention_loses_events() {
    let mut s = small();
    s.faults = vec![crash("tailer", "2m", "5m")];
    let cfg = CdcConfig { retention: SimDuration::from_mins(2), ..Default::default() };
    let r = go(&s, &cfg);
    assert!(r.events_lost > 0);
    assert!(r.events_lost <= r.counters.log_entries_lost);
    assert_eq!(u64::from(r.inconsistent_at_end), r.events_lost);
    // With a retention longer than the outage nothing is lost.
    assert_eq!(go(&s, &CdcConfig::default()).events_lost, 0);
}

#[test]
fn cdc_delivers_to_every_configured_follower() {
    let mut s = small();
    s.followers = vec![FollowerConfig {
        name: Some("svc".into()),
        table: Some("rows".into()),
        count: Some(6),
        ..Default::default()
    }];
    let r = go(&s, &stream());
    assert_eq!(r.inconsistent_at_end, 0);
    assert!(r.request_log.iter().all(|q| q.deleted.len() == 7 && q.deleted.iter().all(Option::is_some)));
}

/// Catching up after a long outage reads a batch only once the broker has
/// confirmed the last: no publish times out into a retry storm, and only
/// what was published after the last offset commit is published twice.
#[test]
fn catching_up_does_not_flood_the_broker() {
    let mut s = small();
    s.workload.rate_per_s = 20.0;
    s.customers = 20_000;
    s.faults = vec![crash("tailer", "2m", "6m")];
    for p in [CdcConfig::default(), stream()] {
        let r = go(&s, &p);
        assert_eq!(r.inconsistent_at_end, 0);
        assert_eq!(r.counters.publish_retries, 0, "{:?}: a catch-up of ~7,000 events timed out", p.mode);
        // At most one offset-commit interval (10 s, ~200 events) published
        // again, each delivered to both followers.
        assert!(r.counters.duplicates <= 2 * 20 * 12, "{:?}: {} duplicates", p.mode, r.counters.duplicates);
    }
}
