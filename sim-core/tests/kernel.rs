//! Scenario tests of the kernel through its public API.

use sim_core::{
    Component, Context, Dist, FaultPlan, FaultSpec, LinkConfig, NodeId, Ordering, Partition, SimDuration, SimTime,
    Simulation, TraceMode,
};

#[derive(Clone, Debug)]
enum Msg {
    /// Ask the node to send `n` numbered messages to `to`, `gap` apart.
    Burst {
        to: NodeId,
        n: u32,
        gap: SimDuration,
    },
    Send {
        to: NodeId,
        seq: u32,
        left: u32,
        gap: SimDuration,
    },
    Data(u32),
    Tick,
}

#[derive(Default)]
struct Node {
    received: Vec<(SimTime, u32)>,
    /// Survives crashes.
    durable_ticks: u32,
    /// Lost on crash.
    volatile_notes: Vec<u32>,
    restarts: u32,
}

impl Component for Node {
    type Msg = Msg;
    fn on_message(&mut self, ctx: &mut Context<'_, Msg>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Burst { to, n, gap } => ctx.schedule_after(SimDuration::ZERO, Msg::Send { to, seq: 0, left: n, gap }),
            Msg::Send { to, seq, left, gap } => {
                if left > 0 {
                    ctx.send(to, Msg::Data(seq));
                    ctx.schedule_after(gap, Msg::Send { to, seq: seq + 1, left: left - 1, gap });
                }
            }
            Msg::Data(x) => {
                self.received.push((ctx.now(), x));
                self.volatile_notes.push(x);
            }
            Msg::Tick => {
                self.durable_ticks += 1;
                ctx.schedule_after(SimDuration::from_secs(1), Msg::Tick);
            }
        }
    }
    fn on_crash(&mut self, _at: SimTime, _state: &mut ()) {
        self.volatile_notes.clear();
    }
    fn on_restart(&mut self, _ctx: &mut Context<'_, Msg>) {
        self.restarts += 1;
    }
    fn label(msg: &Msg) -> &'static str {
        match msg {
            Msg::Burst { .. } => "burst",
            Msg::Send { .. } => "send",
            Msg::Data(_) => "data",
            Msg::Tick => "tick",
        }
    }
}

fn two_nodes(seed: u64, link: LinkConfig) -> (Simulation<Node>, NodeId, NodeId) {
    let mut sim = Simulation::new(seed);
    let a = sim.add_node("a", Node::default());
    let b = sim.add_node("b", Node::default());
    sim.network_mut().set_default_link(link);
    (sim, a, b)
}

fn lossy_run(seed: u64) -> u64 {
    let link = LinkConfig {
        latency: Dist::exponential(SimDuration::from_millis(3)),
        loss: 0.05,
        duplicate: 0.05,
        ordering: Ordering::Reorder,
    };
    let (mut sim, a, b) = two_nodes(seed, link);
    sim.set_trace(TraceMode::Hash);
    sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n: 5_000, gap: SimDuration::from_micros(700) });
    sim.inject(SimDuration::ZERO, b, b, Msg::Burst { to: a, n: 5_000, gap: SimDuration::from_micros(900) });
    sim.run();
    assert!(sim.stats().messages_balance());
    sim.trace().hash()
}

#[test]
fn same_seed_same_trace_hash_in_one_process() {
    assert_eq!(lossy_run(11), lossy_run(11));
}

#[test]
fn different_seed_different_trace_hash() {
    assert_ne!(lossy_run(11), lossy_run(12));
}

/// Helper run by `same_seed_same_trace_hash_across_processes` in a child process.
#[test]
#[ignore = "run as a child process by the cross-process determinism test"]
fn print_trace_hash_for_child_process() {
    println!("TRACE_HASH={:016x}", lossy_run(11));
}

#[test]
fn same_seed_same_trace_hash_across_processes() {
    let exe = std::env::current_exe().unwrap();
    let run = || {
        let out = std::process::Command::new(&exe)
            .args(["--ignored", "--exact", "print_trace_hash_for_child_process", "--nocapture", "--test-threads=1"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.lines()
            .find_map(|l| l.split_once("TRACE_HASH=").map(|(_, h)| h.trim().to_string()))
            .unwrap_or_else(|| panic!("no hash in {text}"))
    };
    let (first, second) = (run(), run());
    assert_eq!(first, second);
    assert_eq!(first, format!("{:016x}", lossy_run(11)));
}

#[test]
fn partition_drops_exactly_the_messages_sent_while_active() {
    let link = LinkConfig::with_latency(Dist::constant(SimDuration::from_millis(1)));
    let (mut sim, a, b) = two_nodes(1, link);
    let key = sim.plan_partition(Partition::between(vec![a], vec![b]));
    // One message every 10 ms, seq k sent at k*10ms. The cut covers [200ms, 500ms).
    sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n: 100, gap: SimDuration::from_millis(10) });
    sim.schedule_fault(SimTime::from_nanos(200_000_000), sim_core::Fault::StartPartition(key));
    sim.schedule_fault(SimTime::from_nanos(500_000_000), sim_core::Fault::HealPartition(key));
    sim.run();
    let got: Vec<u32> = sim.component(b).received.iter().map(|r| r.1).collect();
    // The heal at 500ms was scheduled before seq 50's send (also at 500ms), so 50 passes.
    let want: Vec<u32> = (0..100).filter(|k| !(20..50).contains(k)).collect();
    assert_eq!(got, want);
    assert_eq!(sim.stats().dropped_partition, 30);
    assert!(sim.stats().messages_balance());
}

#[test]
fn one_way_partition_blocks_one_direction_only() {
    let (mut sim, a, b) = two_nodes(1, LinkConfig::default());
    sim.network_mut().partition(Partition::one_way(vec![a], vec![b]));
    sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n: 10, gap: SimDuration::from_millis(1) });
    sim.inject(SimDuration::ZERO, b, b, Msg::Burst { to: a, n: 10, gap: SimDuration::from_millis(1) });
    sim.run();
    assert_eq!(sim.component(b).received.len(), 0);
    assert_eq!(sim.component(a).received.len(), 10);
}

#[test]
fn fifo_links_never_reorder_even_with_wild_latency() {
    let link = LinkConfig {
        latency: Dist::Pareto { scale: SimDuration::from_micros(10), shape: 1.1 },
        ordering: Ordering::Fifo,
        ..LinkConfig::default()
    };
    let (mut sim, a, b) = two_nodes(3, link.clone());
    sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n: 20_000, gap: SimDuration::from_micros(5) });
    sim.run();
    let seqs: Vec<u32> = sim.component(b).received.iter().map(|r| r.1).collect();
    assert_eq!(seqs, (0..20_000).collect::<Vec<_>>());

    // The same link with free ordering does reorder, so the check above can fail.
    let (mut sim, a, b) = two_nodes(3, LinkConfig { ordering: Ordering::Reorder, ..link });
    sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n: 20_000, gap: SimDuration::from_micros(5) });
    sim.run();
    let seqs: Vec<u32> = sim.component(b).received.iter().map(|r| r.1).collect();
    assert!(seqs.windows(2).any(|w| w[0] > w[1]));
}

/// Seeds every statistical test here runs under. With a 4.5-sigma
/// tolerance (two-sided normal tail 6.8e-6) a test fails by chance with
/// probability at most 5 x 6.8e-6 = 3.4e-5 for a fresh seed list.
const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

#[test]
fn loss_rate_is_within_sampling_error() {
    let n = 100_000u32;
    let p = 0.1;
    for seed in SEEDS {
        let (mut sim, a, b) = two_nodes(seed, LinkConfig { loss: p, ..LinkConfig::default() });
        sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n, gap: SimDuration::from_micros(1) });
        sim.run();
        let lost = sim.stats().dropped_loss as f64;
        let expect = p * n as f64;
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        assert!((lost - expect).abs() < 4.5 * sd, "seed {seed}: lost {lost}, expected {expect} +- {sd}");
        assert_eq!(sim.stats().dropped_loss as usize + sim.component(b).received.len(), n as usize);
    }
}

#[test]
fn crash_loses_volatile_state_and_timers_but_keeps_durable_state() {
    let (mut sim, a, b) = two_nodes(4, LinkConfig::default());
    sim.inject(SimDuration::ZERO, b, b, Msg::Tick);
    sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n: 5, gap: SimDuration::from_millis(100) });
    let plan = FaultPlan {
        faults: vec![FaultSpec::Crash {
            node: "b".into(),
            at: SimTime::from_nanos(2_500_000_000),
            restart_after: Some(SimDuration::from_secs(10)),
        }],
        random_faults: vec![],
    };
    sim.install_faults(&plan, SimTime::from_nanos(60_000_000_000)).unwrap();
    sim.run_until(SimTime::from_nanos(2_400_000_000));
    assert_eq!(sim.component(b).volatile_notes.len(), 5);
    assert_eq!(sim.component(b).durable_ticks, 3); // ticks at 0, 1 s and 2 s
    sim.run_until(SimTime::from_nanos(5_000_000_000));
    assert!(!sim.is_up(b));
    assert!(sim.component(b).volatile_notes.is_empty(), "volatile state survived the crash");
    assert_eq!(sim.component(b).durable_ticks, 3, "durable state was lost");
    sim.run();
    // The tick timer died with the crash, and nothing re-armed it after the restart.
    assert_eq!(sim.component(b).durable_ticks, 3);
    assert_eq!(sim.component(b).restarts, 1);
    // The one tick timer pending at the crash (due at 3 s).
    assert_eq!(sim.stats().timers_lost_to_crash, 1);
    assert_eq!(sim.stats().crashes, 1);
}

#[test]
fn messages_to_a_crashed_node_are_dropped_and_counted() {
    let (mut sim, a, b) = two_nodes(4, LinkConfig::default());
    sim.schedule_fault(SimTime::ZERO, sim_core::Fault::Crash(b));
    sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n: 7, gap: SimDuration::from_millis(1) });
    sim.run();
    assert_eq!(sim.stats().dropped_node_down, 7);
    assert!(sim.stats().messages_balance());
}

#[test]
fn a_pause_defers_events_without_losing_them() {
    let link = LinkConfig::with_latency(Dist::constant(SimDuration::from_millis(1)));
    let (mut sim, a, b) = two_nodes(4, link);
    sim.schedule_fault(SimTime::from_nanos(10_000_000), sim_core::Fault::Pause(b, SimDuration::from_millis(50)));
    sim.inject(SimDuration::ZERO, a, a, Msg::Burst { to: b, n: 10, gap: SimDuration::from_millis(10) });
    sim.run();
    let r = &sim.component(b).received;
    assert_eq!(r.iter().map(|x| x.1).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    // Messages sent at 10..=50 ms land during the pause and wait until 60 ms.
    // Exactly those sent at 10, 20, 30, 40 and 50 ms (landing 1 ms later).
    assert_eq!(r.iter().filter(|x| x.0 == SimTime::from_nanos(60_000_000)).count(), 5);
}

#[test]
fn unknown_node_in_a_fault_plan_is_an_error() {
    let (mut sim, _, _) = two_nodes(4, LinkConfig::default());
    let plan: FaultPlan = toml::from_str(
        r#"
        [[faults]]
        kind = "partition"
        at = "1s"
        duration = "10s"
        groups = [["a"], ["nope"]]
        "#,
    )
    .unwrap();
    let err = sim.install_faults(&plan, SimTime::MAX).unwrap_err().to_string();
    assert!(err.contains("nope") && err.contains("fault 0"), "{err}");
}

#[test]
#[should_panic(expected = "scheduling in the past")]
fn scheduling_in_the_past_panics() {
    let (mut sim, a, _) = two_nodes(4, LinkConfig::default());
    sim.run_until(SimTime::from_nanos(1_000));
    sim.schedule_at(SimTime::from_nanos(10), a, Msg::Tick);
}

#[test]
fn random_crashes_follow_the_fault_stream_only() {
    let plan: FaultPlan = toml::from_str(
        r#"
        [[random_faults]]
        kind = "crashes"
        node = "b"
        mtbf = "10m"
        mean_downtime = "30s"
        "#,
    )
    .unwrap();
    let windows = |extra_node: bool| {
        let (mut sim, _, _) = two_nodes(21, LinkConfig::default());
        if extra_node {
            sim.add_node("c", Node::default());
        }
        sim.install_faults(&plan, SimTime::from_nanos(36_000_000_000_000)).unwrap();
        sim.fault_windows().to_vec()
    };
    let w = windows(false);
    assert!(w.len() > 20, "expected ~60 crashes in 10 h, got {}", w.len());
    assert_eq!(w, windows(true), "adding a node changed the fault draws");
}

mod network_properties {
    use super::*;
    use proptest::prelude::*;

    /// A node that sends on command and records what it receives.
    #[derive(Default)]
    struct Relay {
        got: Vec<u32>,
    }

    #[derive(Clone, Debug)]
    enum Cmd {
        SendTo(NodeId, u32),
        Data(u32),
    }

    impl Component for Relay {
        type Msg = Cmd;
        fn on_message(&mut self, ctx: &mut Context<'_, Cmd>, _from: NodeId, msg: Cmd) {
            match msg {
                Cmd::SendTo(to, x) => ctx.send(to, Cmd::Data(x)),
                Cmd::Data(x) => self.got.push(x),
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Send { from: usize, to: usize },
        Cut { a: usize, b: usize, one_way: bool },
        Heal(usize),
        Wait(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3usize, 0..3usize).prop_map(|(from, to)| Op::Send { from, to }),
            1 => (0..3usize, 0..3usize, any::<bool>()).prop_map(|(a, b, one_way)| Op::Cut { a, b, one_way }),
            1 => (0..8usize).prop_map(Op::Heal),
            1 => any::<u8>().prop_map(Op::Wait),
        ]
    }

    proptest! {
        /// Against a model of cut counts: a message is delivered exactly when
        /// no active partition cuts its link at the send instant, and FIFO
        /// links deliver in send order.
        #[test]
        fn partitions_drop_exactly_what_crosses_them(ops in prop::collection::vec(op(), 1..120)) {
            let mut sim: Simulation<Relay> = Simulation::new(3);
            let ids: Vec<NodeId> = (0..3).map(|i| sim.add_node(&format!("n{i}"), Relay::default())).collect();
            sim.network_mut().set_default_link(LinkConfig::with_latency(Dist::Uniform {
                low: SimDuration::from_micros(1),
                high: SimDuration::from_micros(500),
            }));
            let mut cuts = [[0u32; 3]; 3];
            let mut planned: Vec<(Partition, bool)> = Vec::new(); // partition, active
            // expect[to][from]: the messages `to` must receive from `from`, in order.
            let mut expect: Vec<Vec<Vec<u32>>> = vec![vec![Vec::new(); 3]; 3];
            let mut sender: Vec<usize> = Vec::new();
            let mut t = 0u64;
            let mut seq = 0u32;
            for op in ops {
                let at = SimTime::from_nanos(t);
                match op {
                    Op::Send { from, to } if from != to => {
                        if cuts[from][to] == 0 {
                            expect[to][from].push(seq);
                        }
                        sender.push(from);
                        sim.schedule_at(at, ids[from], Cmd::SendTo(ids[to], seq));
                        seq += 1;
                    }
                    Op::Send { .. } => {}
                    Op::Cut { a, b, one_way } if a != b => {
                        let p = Partition { a: vec![ids[a]], b: vec![ids[b]], one_way };
                        cuts[a][b] += 1;
                        if !one_way {
                            cuts[b][a] += 1;
                        }
                        let key = sim.plan_partition(p.clone());
                        sim.schedule_fault(at, sim_core::Fault::StartPartition(key));
                        planned.push((p, true));
                    }
                    Op::Cut { .. } => {}
                    Op::Heal(k) => {
                        if let Some((p, active)) = planned.get_mut(k) {
                            if *active {
                                *active = false;
                                for (x, y) in p.links() {
                                    cuts[x.index()][y.index()] -= 1;
                                }
                                sim.schedule_fault(at, sim_core::Fault::HealPartition(k as u32));
                            }
                        }
                    }
                    Op::Wait(d) => t += u64::from(d) * 1_000,
                }
                // Everything scheduled so far at `at` runs in scheduling order.
                sim.run_until(at);
            }
            sim.run();
            // Links are independent, so only each link's own order is promised.
            for (i, id) in ids.iter().enumerate() {
                for (from, want) in expect[i].iter().enumerate() {
                    let got: Vec<u32> = sim.component(*id).got.iter().copied().filter(|x| sender[*x as usize] == from).collect();
                    prop_assert_eq!(&got, want);
                }
            }
            prop_assert!(sim.stats().messages_balance());
        }
    }
}

/// Reads how long one second of work takes on its node at each probe.
#[derive(Default)]
struct Stopwatch {
    seen: Vec<SimDuration>,
    restarts: u32,
}

impl Component for Stopwatch {
    type Msg = ();
    fn on_message(&mut self, ctx: &mut Context<'_, ()>, _: NodeId, _: ()) {
        self.seen.push(ctx.stretch(SimDuration::from_secs(1)));
    }
    fn on_restart(&mut self, _ctx: &mut Context<'_, ()>) {
        self.restarts += 1;
    }
}

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

#[test]
fn overlapping_slowdowns_apply_the_strongest_active_one() {
    let mut sim: Simulation<Stopwatch> = Simulation::new(1);
    let n = sim.add_node("n", Stopwatch::default());
    let plan: FaultPlan = toml::from_str(
        r#"
        [[faults]]
        kind = "slow"
        node = "n"
        at = "10s"
        duration = "20s"
        factor = 2.0

        [[faults]]
        kind = "slow"
        node = "n"
        at = "20s"
        duration = "20s"
        factor = 3.0
        "#,
    )
    .unwrap();
    sim.install_faults(&plan, secs(100)).unwrap();
    for t in [5, 15, 25, 35, 45] {
        sim.schedule_at(secs(t), n, ());
    }
    sim.run();
    // Before, the first alone, both (3x wins), the second alone after the
    // first ended at 30 s, and neither.
    let expect: Vec<SimDuration> = [1, 2, 3, 3, 1].map(SimDuration::from_secs).to_vec();
    assert_eq!(sim.component(n).seen, expect);
    assert_eq!(sim.stats().slowdowns, 2);
}

#[test]
fn a_crash_while_down_keeps_the_node_down_for_the_union_of_both_outages() {
    let mut sim: Simulation<Stopwatch> = Simulation::new(1);
    let n = sim.add_node("n", Stopwatch::default());
    let crash = |at: &str, restart_after: &str| FaultSpec::Crash {
        node: "n".into(),
        at: at.parse().unwrap(),
        restart_after: Some(restart_after.parse().unwrap()),
    };
    // Down from 10 s to 30 s; a second crash at 20 s restarts at 25 s, inside the first outage.
    let plan = FaultPlan { faults: vec![crash("10s", "20s"), crash("20s", "5s")], random_faults: vec![] };
    sim.install_faults(&plan, secs(100)).unwrap();
    let up_at = |sim: &mut Simulation<Stopwatch>, t: u64| {
        sim.run_until(secs(t));
        sim.is_up(n)
    };
    assert!(up_at(&mut sim, 9));
    assert!(!up_at(&mut sim, 11));
    assert!(!up_at(&mut sim, 26), "the inner outage's restart ended the outer outage early");
    assert!(up_at(&mut sim, 31));
    assert_eq!((sim.stats().crashes, sim.stats().restarts, sim.component(n).restarts), (1, 1, 1));
}

#[test]
fn a_crash_that_never_restarts_keeps_the_node_down_past_another_outage() {
    let mut sim: Simulation<Stopwatch> = Simulation::new(1);
    let n = sim.add_node("n", Stopwatch::default());
    let plan = FaultPlan {
        faults: vec![
            FaultSpec::Crash { node: "n".into(), at: secs(10), restart_after: Some(SimDuration::from_secs(10)) },
            FaultSpec::Crash { node: "n".into(), at: secs(15), restart_after: None },
        ],
        random_faults: vec![],
    };
    sim.install_faults(&plan, secs(100)).unwrap();
    sim.run();
    assert!(!sim.is_up(n));
    assert_eq!(sim.component(n).restarts, 0);
}
