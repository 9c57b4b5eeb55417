//! Any number of followers: the book's two named in the config change
//! nothing, and every pattern works over N followers, with stages and
//! per-follower side effects.

use patterns::background_sync::{Detect, SyncConfig};
use patterns::event_based::EventConfig;
use patterns::orchestrated::{OrchestratedConfig, Order};
use patterns::{run, FollowerConfig, PatternConfig, RunOptions, RunReport, Scenario, SideEffectConfig};
use sim_core::Dist;

mod common;
use common::{all_variants, book_example, d, t};

fn small() -> Scenario {
    let mut s = Scenario { customers: 2_000, ..Default::default() };
    s.workload.rate_per_s = 3.0;
    s.workload.duration = d("10m");
    s.workload.drain = d("1h");
    s
}

fn go(s: &Scenario, p: &PatternConfig, seed: u64) -> RunReport {
    let r = run(s, p, seed, RunOptions { keep_requests: true, ..Default::default() }).unwrap();
    assert!(r.violations.is_empty(), "{}: {:?}", r.pattern, r.violations);
    r
}

fn follower(name: &str) -> FollowerConfig {
    FollowerConfig { name: Some(name.into()), table: Some(name.into()), ..Default::default() }
}

/// The book's Contract and Billing, written out as configured followers.
fn book_followers(s: &Scenario) -> Vec<FollowerConfig> {
    vec![
        FollowerConfig { service: s.services.contract.clone(), ..follower("contract") },
        FollowerConfig {
            service: s.services.billing.clone(),
            side_effect: Some(SideEffectConfig {
                name: "charge".into(),
                period: s.billing.period,
                cost_cents: s.billing.price_cents,
            }),
            ..follower("billing")
        },
    ]
}

#[test]
fn naming_the_book_followers_changes_nothing() {
    let mut builtin = small();
    builtin.billing.period = d("1h"); // so that charges, and charges after unsubscribing, happen
    builtin.services.contract.error_rate = 0.05;
    let mut named = builtin.clone();
    named.followers = book_followers(&builtin);
    // The built-in followers' keys belong to the built-in followers only.
    named.services.contract = Default::default();
    named.billing = Default::default();
    for p in all_variants() {
        let a = go(&builtin, &p, 7);
        let b = go(&named, &p, 7);
        // Every measurement, down to the kernel's counters and each request's rows.
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{}", p.name());
        assert!(a.counters.charges > 0, "{}: no charges to compare", p.name());
    }
}

#[test]
fn every_pattern_converges_over_five_followers() {
    let mut s = small();
    s.followers = vec![FollowerConfig { count: Some(5), ..follower("svc") }];
    let mut ps = all_variants();
    ps.push(PatternConfig::Orchestrated(OrchestratedConfig {
        stages: vec![vec!["svc1".into()], vec!["svc2".into(), "svc3".into()], vec!["svc4".into(), "svc5".into()]],
        name: Some("staged".into()),
        ..Default::default()
    }));
    for p in ps {
        let r = go(&s, &p, 3);
        assert!(r.requests > 1_500, "{}", r.pattern);
        assert_eq!(r.answered_ok, r.requests, "{}", r.pattern);
        assert_eq!(r.inconsistent_at_end, 0, "{}", r.pattern);
        for rec in &r.request_log {
            assert_eq!(rec.deleted.len(), 6, "{}: one row per table", r.pattern);
            assert!(rec.deleted.iter().all(Option::is_some), "{}: customer {} kept a row", r.pattern, rec.customer);
        }
    }
}

/// The book's worked example with four followers, each call 1 s: serial
/// calls answer after the source's second plus one second per follower,
/// parallel ones after two seconds, stages after one second per stage.
#[test]
fn serial_parallel_and_staged_fan_out_follow_the_worked_timeline() {
    let mut s = book_example();
    let mut f = follower("svc");
    f.count = Some(4);
    f.service.request_time = Dist::constant(d("1s"));
    s.followers = vec![f];
    s.services.contract = Default::default();
    s.services.billing = Default::default();
    let answer = |p: OrchestratedConfig| {
        let r = go(&s, &PatternConfig::Orchestrated(p), 1);
        r.request_log[0].answered.unwrap()
    };
    assert_eq!(answer(OrchestratedConfig::default()), t("11h23m2s"));
    assert_eq!(answer(OrchestratedConfig { order: Order::Serial, ..Default::default() }), t("11h23m5s"));
    let staged = OrchestratedConfig {
        stages: vec![vec!["svc3".into()], vec!["svc1".into(), "svc2".into(), "svc4".into()]],
        ..Default::default()
    };
    assert_eq!(answer(staged.clone()), t("11h23m3s"));
    let r = go(&s, &PatternConfig::Orchestrated(staged), 1);
    let rec = &r.request_log[0];
    // svc3 (table 3) went in the first stage, alone; the rest a second later.
    assert_eq!(rec.deleted[3], Some(t("11h23m2s")));
    for i in [1, 2, 4] {
        assert_eq!(rec.deleted[i], Some(t("11h23m3s")), "table {i}");
    }
}

/// A failing follower among four: the saga restores every follower whose
/// delete it confirmed, and the data ends consistent.
#[test]
fn a_failed_saga_compensates_every_follower_it_deleted_from() {
    let mut s = small();
    let mut flaky = follower("flaky");
    flaky.service.error_rate = 0.3;
    s.followers = vec![FollowerConfig { count: Some(3), ..follower("ok") }, flaky];
    let r = go(&s, &PatternConfig::Orchestrated(OrchestratedConfig::default()), 5);
    assert!(r.counters.compensations > 0);
    assert_eq!(r.counters.failed_compensations, 0);
    assert_eq!(r.inconsistent_at_end, 0);
    for rec in r.request_log.iter().filter(|x| x.restored) {
        assert!(rec.deleted.iter().all(Option::is_none), "customer {}: {:?}", rec.customer, rec.deleted);
    }
}

/// A Marketing follower mails a weekly newsletter: mail after the customer
/// was told they left is that follower's anomaly, counted apart from
/// Billing's charges. Background sync, which leaves rows for up to an
/// hour, sends some; the event-based pattern, which deletes within
/// milliseconds, sends (almost) none.
#[test]
fn side_effects_are_counted_per_follower() {
    let mut s = small();
    let newsletter = SideEffectConfig { name: "newsletter".into(), period: d("1h"), cost_cents: 2 };
    let charge = SideEffectConfig { name: "charge".into(), period: d("2h"), cost_cents: 4_900 };
    s.followers = vec![
        follower("contract"),
        FollowerConfig { side_effect: Some(charge), ..follower("billing") },
        FollowerConfig { side_effect: Some(newsletter), ..follower("marketing") },
    ];
    let sync = go(&s, &PatternConfig::BackgroundSync(SyncConfig::default()), 9);
    let names: Vec<(&str, &str)> = sync.side_effects.iter().map(|e| (e.follower.as_str(), e.action.as_str())).collect();
    assert_eq!(names, [("billing", "charge"), ("marketing", "newsletter")]);
    let [bill, mail] = [&sync.side_effects[0].tally, &sync.side_effects[1].tally];
    assert!(mail.after_unsubscribe > 0 && bill.after_unsubscribe > 0, "{bill:?} {mail:?}");
    assert_eq!(mail.cost_cents, 2 * mail.after_unsubscribe);
    assert_eq!(bill.cost_cents, 4_900 * bill.after_unsubscribe);
    // The totals are the sums over followers.
    assert_eq!(sync.counters.charges, bill.actions + mail.actions);
    assert_eq!(sync.counters.charges_after_unsubscribe, bill.after_unsubscribe + mail.after_unsubscribe);
    assert_eq!(sync.counters.charged_after_unsubscribe_cents, bill.cost_cents + mail.cost_cents);
    // Over 70 minutes every row is mailed about once (hourly), charged
    // about 7/12 of a time (every two hours).
    assert!(mail.actions > bill.actions && bill.actions > 0, "{bill:?} {mail:?}");
    let events = go(&s, &PatternConfig::EventBased(EventConfig::default()), 9);
    let events_mail = &events.side_effects[1].tally;
    assert!(events_mail.after_unsubscribe < mail.after_unsubscribe / 10, "{events_mail:?} vs {mail:?}");
}

/// A table on a schedule of its own: Billing synced every 5 minutes by a
/// job of its own, Contract hourly by the main job. A Billing row is gone
/// within 5 minutes of the answer (plus the run), a Contract row within the hour.
#[test]
fn background_sync_runs_a_table_on_its_own_schedule() {
    use patterns::background_sync::TableSchedule;
    let s = small();
    let cfg = SyncConfig {
        tables: vec![TableSchedule { table: "billing".into(), interval: d("5m"), nightly_at: None }],
        ..Default::default()
    };
    let r = go(&s, &PatternConfig::BackgroundSync(cfg), 4);
    assert_eq!(r.inconsistent_at_end, 0);
    let (mut billing_max, mut contract_max) = (0.0f64, 0.0f64);
    for q in &r.request_log {
        let told = q.answered.unwrap();
        billing_max = billing_max.max((q.deleted[2].unwrap() - told).as_secs_f64());
        contract_max = contract_max.max((q.deleted[1].unwrap() - told).as_secs_f64());
    }
    assert!(billing_max < 310.0, "a billing row waited {billing_max} s");
    assert!(contract_max > 2_400.0, "contract rows went within {contract_max} s, not on the hourly run");
    // Two jobs: the main job's hourly run and twelve 5-minute runs in the hour.
    assert_eq!(r.counters.sync_runs, 1 + 70 / 5);
}

#[test]
fn table_schedules_name_follower_tables_and_need_a_diff() {
    use patterns::background_sync::TableSchedule;
    let s = small();
    let bad = |tables: Vec<TableSchedule>, detect: Detect| {
        let p = PatternConfig::BackgroundSync(SyncConfig { tables, detect, ..Default::default() });
        run(&s, &p, 1, RunOptions::default()).unwrap_err().to_string()
    };
    let sched = |t: &str| TableSchedule { table: t.into(), interval: d("5m"), nightly_at: None };
    let e = bad(vec![sched("invoices")], Detect::Diff);
    assert!(e.contains("pattern.tables[0].table") && e.contains("contract, billing"), "{e}");
    let e = bad(vec![sched("profile")], Detect::Diff);
    assert!(e.contains("no follower owns a table \"profile\""), "{e}");
    let e = bad(vec![sched("billing"), sched("billing")], Detect::Diff);
    assert!(e.contains("pattern.tables[1].table") && e.contains("twice"), "{e}");
    let e = bad(vec![sched("billing")], Detect::ChangeTable);
    assert!(e.contains("pattern.tables") && e.contains("diff"), "{e}");
}
