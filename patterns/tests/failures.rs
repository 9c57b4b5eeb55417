//! Failure paths no other test covers, on the book's worked example: every
//! service call takes exactly 1 s, the network and the orchestrator's own
//! handling take nothing, and one customer unsubscribes at 11:23:00. Each
//! expected instant is derived in the comment above its assertion.

use patterns::background_sync::SyncConfig;
use patterns::event_based::EventConfig;
use patterns::orchestrated::{OrchestratedConfig, Order};
use patterns::{run, Outcome, PatternConfig, RunOptions, RunReport, Scenario};
use sim_core::{Dist, FaultSpec, SimDuration, SimTime};

mod common;
use common::{d, t};

/// The book's example, drained for one hour: every failure here is over by then.
fn book_example() -> Scenario {
    let mut s = common::book_example();
    s.workload.drain = d("1h");
    s
}

fn go(s: &Scenario, p: PatternConfig) -> RunReport {
    let r = run(s, &p, 2024, RunOptions { keep_requests: true, ..Default::default() }).unwrap();
    assert!(r.violations.is_empty(), "{}: {:?}", r.pattern, r.violations);
    r
}

fn orchestrated() -> PatternConfig {
    PatternConfig::Orchestrated(OrchestratedConfig::default())
}

fn event_based() -> PatternConfig {
    PatternConfig::EventBased(EventConfig { publish_gap: SimDuration::ZERO, ..Default::default() })
}

#[test]
fn a_timed_out_delete_lands_after_its_compensation_and_leaves_the_customer_inconsistent() {
    let mut s = book_example();
    s.faults = vec![FaultSpec::Pause { node: "billing".into(), at: t("11h23m"), duration: d("13s") }];
    let r = go(&s, orchestrated());
    let rec = &r.request_log[0];
    // Profile goes at +1 s. The Billing call waits out the pause; its three
    // attempts time out at +3 s, +5.2 s and +7.6 s (2 s each, backoff 0.2 s
    // then 0.4 s); the saga restores Contract (deleted at +2 s) and Profile
    // in parallel and answers "failed" at +8.6 s.
    assert_eq!((rec.outcome, rec.answered), (Outcome::Error, Some(t("11h23m8.6s"))));
    assert!(rec.restored);
    assert_eq!((r.counters.timeouts, r.counters.retries, r.counters.compensations), (3, 2, 1));
    // The pause ends at +13 s and Billing runs the three deferred deletes:
    // the row goes at +14 s, after the compensation, and no one counts it.
    assert_eq!(rec.deleted[..], [None, None, Some(t("11h23m14s"))]);
    assert_eq!(r.inconsistent_at_end, 1);
    assert_eq!(r.counters.manual_repairs, 0, "the race is invisible to the saga");
    // ... but not to the measurement: a row went by a call the saga gave up on.
    assert_eq!(r.late_deletes, 1);
}

/// The standard cure: fencing tokens. The failed saga also compensates
/// Billing, whose delete it never heard back from, with a newer token.
#[test]
fn with_fencing_the_late_delete_is_undone_and_the_failure_answer_waits_for_it() {
    let mut s = book_example();
    s.faults = vec![FaultSpec::Pause { node: "billing".into(), at: t("11h23m"), duration: d("13s") }];
    let fenced = PatternConfig::Orchestrated(OrchestratedConfig { fencing: true, ..Default::default() });
    let r = go(&s, fenced);
    let plain = go(&s, orchestrated());
    let rec = &r.request_log[0];
    // As above, the saga gives up on Billing at +7.6 s, and now restores
    // Profile, Contract and Billing. Billing's restore attempts go out at
    // +7.6 s, +9.8 s (after a 2 s timeout and 0.2 s backoff) and +12.2 s
    // (0.4 s backoff); the pause defers all of them, and the three deletes
    // queued before them, to +13 s. Sixteen workers run the six operations
    // side by side, 1 s each, in the order they came: the deletes remove the
    // row at +14 s, then the restores put it back at +14 s. The third
    // restore's reply beats its timeout (+14.2 s), so the compensation
    // succeeds and the user hears "failed" at +14 s, 5.4 s later than
    // without fencing.
    assert_eq!((rec.outcome, rec.answered), (Outcome::Error, Some(t("11h23m14s"))));
    assert_eq!(plain.request_log[0].answered, Some(t("11h23m8.6s")));
    assert_eq!(rec.deleted[..], [None, None, None]);
    assert_eq!((r.late_deletes, r.inconsistent_at_end, r.counters.manual_repairs), (0, 0, 0));
    // The cost: the extra compensation calls to Billing.
    assert!(r.messages_per_request > plain.messages_per_request);
}

#[test]
fn an_orchestrator_crash_loses_its_sagas_and_their_users_time_out() {
    let mut s = book_example();
    s.faults =
        vec![FaultSpec::Crash { node: "orchestrator".into(), at: t("11h23m0.5s"), restart_after: Some(d("1m")) }];
    let r = go(&s, orchestrated());
    let rec = &r.request_log[0];
    // The Profile call went out at +0 s and deletes at +1 s; its reply
    // reaches a dead orchestrator, so Contract and Billing are never called
    // and the user gives up after the 30 s client timeout.
    assert_eq!((rec.outcome, rec.answered), (Outcome::Timeout, Some(t("11h23m30s"))));
    assert_eq!(rec.deleted[..], [Some(t("11h23m1s")), None, None]);
    assert_eq!(r.kernel.dropped_node_down, 1, "exactly the Profile reply");
    assert_eq!(r.inconsistent_at_end, 1);
    assert_eq!(r.counters.compensations, 0);
}

#[test]
fn a_serial_saga_that_fails_at_contract_never_calls_billing() {
    let mut s = book_example();
    s.faults = vec![FaultSpec::Crash { node: "contract".into(), at: SimTime::ZERO, restart_after: None }];
    let r = go(&s, PatternConfig::Orchestrated(OrchestratedConfig { order: Order::Serial, ..Default::default() }));
    let rec = &r.request_log[0];
    // Profile goes at +1 s; Contract's three attempts time out at +3 s,
    // +5.2 s and +7.6 s; the saga restores Profile (1 s) and answers at
    // +8.6 s. Billing comes after Contract, so it is never called.
    assert_eq!((rec.outcome, rec.answered), (Outcome::Error, Some(t("11h23m8.6s"))));
    assert_eq!(rec.deleted[..], [None, None, None]);
    assert!(rec.restored);
    // One delete and one restore on Profile; nothing on Billing.
    assert_eq!(r.counters.db_ops, 2);
    assert_eq!(r.inconsistent_at_end, 0);
}

#[test]
fn a_late_reply_to_a_timed_out_attempt_still_completes_the_saga() {
    let mut s = book_example();
    s.faults = vec![FaultSpec::Slow { node: "billing".into(), at: t("11h"), duration: d("1h"), factor: 3.0 }];
    let r = go(&s, orchestrated());
    let rec = &r.request_log[0];
    // Billing is three times slower: its delete, called at +1 s, takes 3 s.
    // The attempt times out at +3 s and a retry goes out at +3.2 s, but the
    // first attempt's reply at +4 s carries the same call id and completes
    // the saga.
    assert_eq!((rec.outcome, rec.answered), (Outcome::Ok, Some(t("11h23m4s"))));
    assert_eq!(rec.deleted[..], [Some(t("11h23m1s")), Some(t("11h23m2s")), Some(t("11h23m4s"))]);
    assert_eq!((r.counters.timeouts, r.counters.retries), (1, 1));
}

#[test]
fn a_latency_spike_on_billing_delays_the_answer_by_two_crossings() {
    let mut s = book_example();
    s.faults =
        vec![FaultSpec::LatencySpike { node: "billing".into(), at: t("11h"), duration: d("1h"), extra: d("300ms") }];
    let r = go(&s, orchestrated());
    let rec = &r.request_log[0];
    // The Billing call and its reply each cross a spiked link: +0.3 s each way.
    assert_eq!(rec.deleted[2], Some(t("11h23m2.3s")));
    assert_eq!((rec.outcome, rec.answered), (Outcome::Ok, Some(t("11h23m2.6s"))));
}

#[test]
fn a_billing_pause_delays_event_based_consistency_by_the_pause() {
    let mut s = book_example();
    s.faults = vec![FaultSpec::Pause { node: "billing".into(), at: t("11h23m"), duration: d("20s") }];
    let r = go(&s, event_based());
    let rec = &r.request_log[0];
    // Answered at +1 s; Contract consumes by +2 s; Billing's delivery waits
    // out the pause and is consumed at +21 s, within the 30 s ack timeout.
    assert_eq!(rec.answered, Some(t("11h23m1s")));
    assert_eq!(rec.deleted[..], [Some(t("11h23m1s")), Some(t("11h23m2s")), Some(t("11h23m21s"))]);
    assert_eq!(r.lag_from_answer.max, 20.0);
    assert_eq!(r.counters.redeliveries, 0);
}

#[test]
fn a_partition_drops_a_delivery_which_the_ack_timeout_redelivers() {
    let mut s = book_example();
    s.faults = vec![FaultSpec::Partition {
        at: t("11h23m"),
        duration: d("20s"),
        groups: vec![vec!["billing".into()]],
        one_way: false,
    }];
    let r = go(&s, event_based());
    let rec = &r.request_log[0];
    // The delivery to Billing at +1 s is cut. Its ack timer fires at +31 s,
    // the redelivery follows after the 1 s redelivery delay, at +32 s, and
    // Billing consumes it by +33 s.
    assert_eq!(rec.deleted[2], Some(t("11h23m33s")));
    assert_eq!(r.counters.redeliveries, 1);
    assert_eq!(r.inconsistent_at_end, 0);
}

#[test]
fn without_an_outbox_an_unconfirmed_publish_is_resent_until_the_broker_confirms() {
    let mut s = book_example();
    s.faults = vec![FaultSpec::Partition {
        at: t("11h23m"),
        duration: d("10s"),
        groups: vec![vec!["profile".into()], vec!["broker".into()]],
        one_way: true,
    }];
    let r = go(&s, event_based());
    let rec = &r.request_log[0];
    // The publish at +1 s is cut, and so are the re-sends every 2 s at +3,
    // +5, +7 and +9 s. The one at +11 s gets through; both consumers apply
    // it by +12 s.
    assert_eq!(r.counters.publish_retries, 5);
    assert_eq!(rec.deleted[..], [Some(t("11h23m1s")), Some(t("11h23m12s")), Some(t("11h23m12s"))]);
    assert_eq!(r.events_lost, 0);
}

#[test]
fn a_consumer_slower_than_the_ack_timeout_applies_the_event_once_yet_ends_in_manual_repair() {
    let mut s = book_example();
    s.services.broker.ack_timeout = d("500ms");
    s.services.broker.max_deliveries = 2;
    let r = go(&s, event_based());
    let rec = &r.request_log[0];
    // Each delivery takes 1 s to consume and the broker gives up after
    // 0.5 s. Per subscription: attempt 1 at +1 s applies the delete at +2 s;
    // its timeout at +1.5 s redelivers after 1 s; attempt 2 at +2.5 s is a
    // duplicate, and its timeout at +3 s dead-letters the message (two
    // deliveries at most). The repair job re-queues it 10 min later, where
    // the same happens again (two more duplicates, one more redelivery and
    // dead letter), and then it is left for a human, though the row is gone.
    assert_eq!(rec.deleted[..], [Some(t("11h23m1s")), Some(t("11h23m2s")), Some(t("11h23m2s"))]);
    let c = &r.counters;
    assert_eq!((c.duplicates, c.redeliveries, c.dead_lettered, c.dlq_repaired), (6, 4, 4, 2));
    assert_eq!(c.manual_repairs, 2);
    assert_eq!(r.inconsistent_at_end, 0);
}

#[test]
fn a_broker_crash_keeps_its_queues_and_redelivers_what_was_out() {
    let mut s = book_example();
    // Contract is slow (10 s), so its delivery is out when the broker dies at +5 s.
    s.services.contract.request_time = Dist::constant(d("10s"));
    s.faults = vec![FaultSpec::Crash { node: "broker".into(), at: t("11h23m5s"), restart_after: Some(d("1m")) }];
    let r = go(&s, event_based());
    let rec = &r.request_log[0];
    // Contract deletes at +11 s (its ack to the dead broker is lost); the
    // restarted broker redelivers the lease at +65 s, a duplicate.
    assert_eq!(rec.deleted[1], Some(t("11h23m11s")));
    assert_eq!(rec.deleted[2], Some(t("11h23m2s")));
    assert_eq!(r.counters.duplicates, 1);
    assert_eq!(r.events_lost, 0);
    assert_eq!(r.inconsistent_at_end, 0);
}

#[test]
fn background_sync_is_unaffected_by_a_pause_between_its_runs() {
    let mut s = book_example();
    s.faults = vec![FaultSpec::Pause { node: "billing".into(), at: t("11h23m"), duration: d("10m") }];
    let with = go(&s, PatternConfig::BackgroundSync(SyncConfig::default()));
    s.faults.clear();
    let without = go(&s, PatternConfig::BackgroundSync(SyncConfig::default()));
    assert_eq!(with.request_log[0].deleted, without.request_log[0].deleted);
}

/// The network delivers the user's request to the orchestrator twice: the
/// second copy starts no second saga (which would orphan the first one's
/// calls), frees its worker at once, and is counted as a duplicate.
#[test]
fn a_duplicated_request_starts_one_saga() {
    use patterns::config::LinkOverride;
    use sim_core::LinkConfig;
    let mut s = book_example();
    let mut link = LinkConfig::with_latency(Dist::constant(SimDuration::ZERO));
    link.duplicate = 1.0;
    s.network.links = vec![LinkOverride { from: "client".into(), to: "orchestrator".into(), link }];
    let r = go(&s, orchestrated());
    let rec = &r.request_log[0];
    // The book's timeline, unchanged: Profile at +1 s, Contract and Billing
    // in parallel at +2 s, the answer at +2 s.
    assert_eq!((rec.outcome, rec.answered), (Outcome::Ok, Some(t("11h23m2s"))));
    assert_eq!(r.counters.duplicates, 1);
    assert_eq!(r.counters.db_ops, 3, "one delete per table, no second saga");
    assert_eq!(r.inconsistent_at_end, 0);
}
