//! The simulation loop, the component trait and the context a component sees.
//!
//! A [`Simulation`] owns the clock, the event queue, the network and one
//! component per node. It pops events in `(time, sequence)` order and hands
//! each to its node's component through a [`Context`], which is the
//! component's only window on the world: the clock, timers, the network and
//! the node's own random stream.
//!
//! Crash semantics: a crash marks the node down, calls
//! [`Component::on_crash`] (where the model drops its volatile state) and
//! bumps the node's incarnation, which invalidates every timer the node had
//! set, in O(1). Messages that reach a down node are dropped and counted. A
//! restart calls [`Component::on_restart`], where the model resumes from its
//! durable state.

use std::collections::BTreeMap;

use rand_distr::{Distribution, Exp};

use crate::fault::{Fault, FaultError, FaultPlan, FaultSpec, FaultWindow, RandomFault};
use crate::net::{DropReason, Network, Partition, Transit};
use crate::queue::{EventId, EventQueue};
use crate::rng::{RngFactory, SimRng};
use crate::stats::Stats;
use crate::time::{SimDuration, SimTime};
use crate::trace::{Trace, TraceKind, TraceMode, TraceRecord};

/// Identifies a node (and its component) in a simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's index, in the order nodes were added.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the `i`-th node added (ids are handed out in order).
    /// Using an id the simulation does not have panics when it is used.
    pub const fn from_index(i: usize) -> NodeId {
        NodeId(i as u32)
    }
}

/// Handle to a cancellable timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(EventId);

/// A model that lives on a node and reacts to events.
///
/// Messages are a typed enum (`Msg`); timers carry a `Msg` too, so a model
/// matches on one enum for everything that can happen to it.
pub trait Component {
    /// The message type shared by every node of the simulation.
    type Msg: Clone;

    /// Called once for every node, in id order, before the first event.
    fn on_start(&mut self, _ctx: &mut Context<'_, Self::Msg>) {}

    /// A message arrived from `from` (which is the node itself for a
    /// self-send).
    fn on_message(&mut self, ctx: &mut Context<'_, Self::Msg>, from: NodeId, msg: Self::Msg);

    /// A timer set by this node fired. By default, handled like a message
    /// from the node itself.
    fn on_timer(&mut self, ctx: &mut Context<'_, Self::Msg>, msg: Self::Msg) {
        let me = ctx.id();
        self.on_message(ctx, me, msg);
    }

    /// The node crashed at `at`: drop every volatile field, keep the
    /// durable ones. Pending timers are already gone.
    fn on_crash(&mut self, _at: SimTime) {}

    /// The node restarted after a crash.
    fn on_restart(&mut self, _ctx: &mut Context<'_, Self::Msg>) {}

    /// A short label for a message, used in traces.
    fn label(_msg: &Self::Msg) -> &'static str
    where
        Self: Sized,
    {
        "msg"
    }
}

pub(crate) enum Event<M> {
    Deliver { from: NodeId, to: NodeId, msg: M, network: bool },
    Timer { node: NodeId, incarnation: u32, msg: M },
    // Boxed: faults are rare, and the box keeps every queue entry small.
    Fault(Box<Fault>),
}

/// Timers injected from outside a node (e.g. by the test or the experiment)
/// survive the node's crashes; they are only dropped while the node is down.
const EXTERNAL: u32 = u32::MAX;

/// What a component can see and do while it handles an event.
pub struct Context<'a, M> {
    now: SimTime,
    me: NodeId,
    incarnation: u32,
    slowdown_pct: u32,
    queue: &'a mut EventQueue<Event<M>>,
    network: &'a mut Network,
    stats: &'a mut Stats,
    rng: &'a mut SimRng,
}

impl<M> std::fmt::Debug for Context<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("now", &self.now).field("me", &self.me).finish_non_exhaustive()
    }
}

impl<M: Clone> Context<'_, M> {
    /// The current virtual time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// This node.
    #[inline]
    pub fn id(&self) -> NodeId {
        self.me
    }

    /// This node's random stream (`"node/<name>"`).
    #[inline]
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Looks a node up by name.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.network.node(name)
    }

    /// The name of a node.
    pub fn name(&self, id: NodeId) -> &str {
        self.network.name(id)
    }

    /// A service time stretched by the node's current slowdown (1x normally).
    #[inline]
    pub fn stretch(&self, d: SimDuration) -> SimDuration {
        if self.slowdown_pct == 100 {
            d
        } else {
            d.mul_ratio(u64::from(self.slowdown_pct), 100)
        }
    }

    /// Sends a message over the network. It may be lost, duplicated,
    /// delayed or blocked by a partition, as the link says. A send to the
    /// node itself is a local call: immediate and never lost.
    #[inline]
    pub fn send(&mut self, to: NodeId, msg: M) {
        if to == self.me {
            self.queue.push(self.now, Event::Deliver { from: self.me, to, msg, network: false });
            return;
        }
        self.stats.messages_sent += 1;
        match self.network.transit(self.me, to, self.now) {
            Transit::Dropped(reason) => self.stats.count_drop(reason),
            Transit::Deliver { at, duplicate_at } => {
                if let Some(dup) = duplicate_at {
                    self.stats.messages_duplicated += 1;
                    self.stats.in_flight += 1;
                    self.queue.push(dup, Event::Deliver { from: self.me, to, msg: msg.clone(), network: true });
                }
                self.stats.in_flight += 1;
                self.queue.push(at, Event::Deliver { from: self.me, to, msg, network: true });
            }
        }
    }

    /// Delivers `msg` to node `to` after `delay`, bypassing the network
    /// model: never lost, never cut by a partition, not counted as a network
    /// message. It is still dropped if `to` is down when it arrives. This is
    /// the kernel's raw event primitive, for models that bring their own
    /// transport (and for the classic PHOLD benchmark).
    #[inline]
    pub fn emit_after(&mut self, to: NodeId, delay: SimDuration, msg: M) {
        let at = self.now + delay;
        self.queue.push(at, Event::Deliver { from: self.me, to, msg, network: false });
    }

    /// Crashes this node as soon as the current handler returns (a process
    /// that dies mid-operation), and restarts it after `restart_after`, if
    /// given. The crash is an ordinary fault event: counted and traced.
    pub fn crash_self(&mut self, restart_after: Option<SimDuration>) {
        self.queue.push(self.now, Event::Fault(Box::new(Fault::Crash(self.me))));
        if let Some(d) = restart_after {
            self.queue.push(self.now + d, Event::Fault(Box::new(Fault::Restart(self.me))));
        }
    }

    /// Delivers `msg` to this node after `delay`. Not cancellable; lost if
    /// the node crashes first.
    #[inline]
    pub fn schedule_after(&mut self, delay: SimDuration, msg: M) {
        let at = self.now + delay;
        self.queue.push(at, Event::Timer { node: self.me, incarnation: self.incarnation, msg });
    }

    /// Delivers `msg` to this node at `at`.
    ///
    /// # Panics
    /// If `at` is in the past.
    pub fn schedule_at(&mut self, at: SimTime, msg: M) {
        assert!(at >= self.now, "scheduling in the past: {at} is before now ({})", self.now);
        self.queue.push(at, Event::Timer { node: self.me, incarnation: self.incarnation, msg });
    }

    /// Like [`schedule_after`](Self::schedule_after), but returns a handle
    /// that [`cancel_timer`](Self::cancel_timer) accepts.
    #[inline]
    pub fn set_timer(&mut self, delay: SimDuration, msg: M) -> TimerId {
        let at = self.now + delay;
        self.stats.timers_set += 1;
        TimerId(self.queue.push_cancellable(at, Event::Timer { node: self.me, incarnation: self.incarnation, msg }))
    }

    /// Cancels a timer in O(1). Returns false if it already fired or was cancelled.
    #[inline]
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        let done = self.queue.cancel(id.0);
        self.stats.timers_cancelled += u64::from(done);
        done
    }
}

struct NodeState<C> {
    component: C,
    rng: SimRng,
    up: bool,
    incarnation: u32,
    paused_until: SimTime,
    slowdown_pct: u32,
}

/// A deterministic discrete-event simulation of components on a network.
///
/// ```
/// use sim_core::{Component, Context, NodeId, SimDuration, Simulation};
///
/// #[derive(Clone)]
/// enum Msg { Ping, Pong }
///
/// struct Peer { pongs: u32 }
/// impl Component for Peer {
///     type Msg = Msg;
///     fn on_message(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, msg: Msg) {
///         match msg {
///             Msg::Ping => ctx.send(from, Msg::Pong),
///             Msg::Pong => self.pongs += 1,
///         }
///     }
/// }
///
/// let mut sim = Simulation::new(42);
/// let a = sim.add_node("a", Peer { pongs: 0 });
/// let b = sim.add_node("b", Peer { pongs: 0 });
/// sim.inject(SimDuration::from_millis(1), a, b, Msg::Ping);
/// sim.run();
/// assert_eq!(sim.component(a).pongs, 1);
/// ```
pub struct Simulation<C: Component> {
    now: SimTime,
    queue: EventQueue<Event<C::Msg>>,
    nodes: Vec<NodeState<C>>,
    network: Network,
    factory: RngFactory,
    stats: Stats,
    trace: Trace,
    started: bool,
    partitions: BTreeMap<u32, (Partition, Option<crate::net::PartitionId>)>,
    windows: Vec<FaultWindow>,
}

impl<C: Component> std::fmt::Debug for Simulation<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("now", &self.now)
            .field("nodes", &self.network.names())
            .field("pending", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl<C: Component> Simulation<C> {
    /// An empty simulation whose every random stream derives from `seed`.
    pub fn new(seed: u64) -> Self {
        let factory = RngFactory::new(seed);
        Simulation {
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(1024),
            nodes: Vec::new(),
            network: Network::new(factory),
            factory,
            stats: Stats::default(),
            trace: Trace::new(TraceMode::Off),
            started: false,
            partitions: BTreeMap::new(),
            windows: Vec::new(),
        }
    }

    /// Turns tracing on or off. Call before running.
    pub fn set_trace(&mut self, mode: TraceMode) {
        self.trace = Trace::new(mode);
    }

    /// Adds a node running `component`; its random stream is `"node/<name>"`.
    ///
    /// # Panics
    /// If the name is already taken.
    pub fn add_node(&mut self, name: &str, component: C) -> NodeId {
        let id = self.network.add_node(name);
        self.nodes.push(NodeState {
            component,
            rng: self.factory.stream(&format!("node/{name}")),
            up: true,
            incarnation: 0,
            paused_until: SimTime::ZERO,
            slowdown_pct: 100,
        });
        id
    }

    /// The current virtual time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The seed-derived stream factory, for model-level streams such as the workload.
    pub fn rng_factory(&self) -> RngFactory {
        self.factory
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The network, to configure links.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.network
    }

    /// A node's component.
    pub fn component(&self, id: NodeId) -> &C {
        &self.nodes[id.index()].component
    }

    /// A node's component, mutably (for setup and inspection between steps).
    pub fn component_mut(&mut self, id: NodeId) -> &mut C {
        &mut self.nodes[id.index()].component
    }

    /// Every component, in id order.
    pub fn components(&self) -> impl Iterator<Item = (NodeId, &C)> {
        self.nodes.iter().enumerate().map(|(i, n)| (NodeId(i as u32), &n.component))
    }

    /// Whether the node is up (not crashed).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes[id.index()].up
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The trace.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Every fault window installed so far, for charts.
    pub fn fault_windows(&self) -> &[FaultWindow] {
        &self.windows
    }

    /// Live events still pending.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Delivers `msg` to `to` at `now + delay` as if `from` had sent it,
    /// bypassing the network: a way in from outside the model (a test, an
    /// experiment). It is dropped if `to` is down then.
    pub fn inject(&mut self, delay: SimDuration, from: NodeId, to: NodeId, msg: C::Msg) {
        let at = self.now + delay;
        self.queue.push(at, Event::Deliver { from, to, msg, network: false });
    }

    /// Delivers `msg` to node `to` as a timer at `at`. Unlike the node's own
    /// timers, it survives the node's crashes (it is dropped only if the node
    /// is down at `at`).
    ///
    /// # Panics
    /// If `at` is in the past.
    pub fn schedule_at(&mut self, at: SimTime, to: NodeId, msg: C::Msg) {
        assert!(at >= self.now, "scheduling in the past: {at} is before now ({})", self.now);
        self.queue.push(at, Event::Timer { node: to, incarnation: EXTERNAL, msg });
    }

    /// Schedules a kernel fault at `at`.
    ///
    /// # Panics
    /// If `at` is in the past.
    pub fn schedule_fault(&mut self, at: SimTime, fault: Fault) {
        assert!(at >= self.now, "scheduling a fault in the past: {at} is before now ({})", self.now);
        self.queue.push(at, Event::Fault(Box::new(fault)));
    }

    /// Registers a partition to be started and healed by
    /// [`Fault::StartPartition`] / [`Fault::HealPartition`] with the returned key.
    pub fn plan_partition(&mut self, p: Partition) -> u32 {
        let key = self.partitions.len() as u32;
        self.partitions.insert(key, (p, None));
        key
    }

    /// Turns a fault plan into scheduled kernel events. Random faults are
    /// drawn up to `horizon` from the stream `"faults/<node>"`, so the draws
    /// are the same whatever the models on the nodes.
    pub fn install_faults(&mut self, plan: &FaultPlan, horizon: SimTime) -> Result<(), FaultError> {
        let known = self.network.names().join(", ");
        let lookup = |index: usize, name: &str| {
            self.network.node(name).ok_or_else(|| FaultError::UnknownNode {
                index,
                name: name.to_string(),
                known: known.clone(),
            })
        };
        let mut events: Vec<(SimTime, Fault)> = Vec::new();
        let mut windows = Vec::new();
        let mut partitions = Vec::new();
        for (index, spec) in plan.faults.iter().enumerate() {
            match spec {
                FaultSpec::Partition { at, duration, groups, one_way } => {
                    let side = |g: &Vec<String>| g.iter().map(|n| lookup(index, n)).collect::<Result<Vec<_>, _>>();
                    let (a, b) = match groups.as_slice() {
                        [a] => {
                            let a = side(a)?;
                            let b = (0..self.nodes.len() as u32).map(NodeId).filter(|n| !a.contains(n)).collect();
                            (a, b)
                        }
                        [a, b] => (side(a)?, side(b)?),
                        _ => {
                            return Err(FaultError::Invalid {
                                index,
                                problem: "groups must hold one or two lists of node names".into(),
                            })
                        }
                    };
                    if a.is_empty() || b.is_empty() {
                        return Err(FaultError::Invalid {
                            index,
                            problem: "a partition needs nodes on both sides".into(),
                        });
                    }
                    let target = format!(
                        "{} | {}",
                        groups[0].join(","),
                        groups.get(1).map(|g| g.join(",")).unwrap_or_else(|| "rest".into())
                    );
                    partitions.push((Partition { a, b, one_way: *one_way }, *at, *at + *duration));
                    windows.push(FaultWindow {
                        kind: "partition".into(),
                        target,
                        from: *at,
                        to: Some(*at + *duration),
                    });
                }
                FaultSpec::Crash { node, at, restart_after } => {
                    let n = lookup(index, node)?;
                    events.push((*at, Fault::Crash(n)));
                    let end = restart_after.map(|d| *at + d);
                    if let Some(end) = end {
                        events.push((end, Fault::Restart(n)));
                    }
                    windows.push(FaultWindow { kind: "crash".into(), target: node.clone(), from: *at, to: end });
                }
                FaultSpec::Pause { node, at, duration } => {
                    let n = lookup(index, node)?;
                    events.push((*at, Fault::Pause(n, *duration)));
                    events.push((*at + *duration, Fault::Resume(n)));
                    windows.push(FaultWindow {
                        kind: "pause".into(),
                        target: node.clone(),
                        from: *at,
                        to: Some(*at + *duration),
                    });
                }
                FaultSpec::Slow { node, at, duration, factor } => {
                    let n = lookup(index, node)?;
                    if !(factor.is_finite() && *factor >= 1.0 && *factor <= 1e6) {
                        return Err(FaultError::Invalid {
                            index,
                            problem: format!("slow: factor must be between 1 and 1e6, got {factor}"),
                        });
                    }
                    events.push((*at, Fault::Slow(n, (factor * 100.0).round() as u32)));
                    events.push((*at + *duration, Fault::Slow(n, 100)));
                    windows.push(FaultWindow {
                        kind: "slow".into(),
                        target: node.clone(),
                        from: *at,
                        to: Some(*at + *duration),
                    });
                }
                FaultSpec::LatencySpike { node, at, duration, extra } => {
                    let n = lookup(index, node)?;
                    events.push((*at, Fault::SpikeStart(n, *extra)));
                    events.push((*at + *duration, Fault::SpikeEnd(n, *extra)));
                    windows.push(FaultWindow {
                        kind: "latency_spike".into(),
                        target: node.clone(),
                        from: *at,
                        to: Some(*at + *duration),
                    });
                }
            }
        }
        for (i, rf) in plan.random_faults.iter().enumerate() {
            let index = plan.faults.len() + i;
            let n = lookup(index, rf.node())?;
            let mut rng = self.factory.stream(&format!("faults/{}", rf.node()));
            let (gap, len, kind) = match rf {
                RandomFault::Crashes { mtbf, mean_downtime, .. } => (*mtbf, *mean_downtime, "crash"),
                RandomFault::Pauses { mean_gap, mean_length, .. } => (*mean_gap, *mean_length, "pause"),
            };
            if gap.is_zero() {
                return Err(FaultError::Invalid {
                    index,
                    problem: "the mean time between faults must be above zero".into(),
                });
            }
            let exp = Exp::new(1.0).expect("rate 1 is valid");
            let mut t = SimTime::ZERO;
            loop {
                t = t.saturating_add(SimDuration::from_secs_f64(gap.as_secs_f64() * exp.sample(&mut rng)));
                if t >= horizon {
                    break;
                }
                let d = SimDuration::from_secs_f64(len.as_secs_f64() * exp.sample(&mut rng))
                    .max(SimDuration::from_nanos(1));
                match rf {
                    RandomFault::Crashes { .. } => {
                        events.push((t, Fault::Crash(n)));
                        events.push((t + d, Fault::Restart(n)));
                    }
                    RandomFault::Pauses { .. } => {
                        events.push((t, Fault::Pause(n, d)));
                        events.push((t + d, Fault::Resume(n)));
                    }
                }
                windows.push(FaultWindow {
                    kind: kind.into(),
                    target: rf.node().to_string(),
                    from: t,
                    to: Some(t + d),
                });
                t += d;
            }
        }
        for (p, start, end) in partitions {
            let key = self.plan_partition(p);
            events.push((start, Fault::StartPartition(key)));
            events.push((end, Fault::HealPartition(key)));
        }
        for (at, f) in events {
            self.schedule_fault(at, f);
        }
        self.windows.extend(windows);
        Ok(())
    }

    fn start(&mut self) {
        self.started = true;
        for i in 0..self.nodes.len() {
            let NodeState { component, rng, incarnation, slowdown_pct, .. } = &mut self.nodes[i];
            let mut ctx = Context {
                now: self.now,
                me: NodeId(i as u32),
                incarnation: *incarnation,
                slowdown_pct: *slowdown_pct,
                queue: &mut self.queue,
                network: &mut self.network,
                stats: &mut self.stats,
                rng,
            };
            component.on_start(&mut ctx);
        }
    }

    /// Processes one event. Returns false when no event remains.
    pub fn step(&mut self) -> bool {
        if !self.started {
            self.start();
        }
        let Some((time, event)) = self.queue.pop_deferred() else {
            return false;
        };
        self.now = time;
        self.stats.events += 1;
        self.dispatch(event);
        self.queue.settle();
        true
    }

    /// Runs until no event remains.
    pub fn run(&mut self) {
        while self.step() {}
    }

    /// Runs every event due at or before `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: SimTime) {
        if !self.started {
            self.start();
        }
        while let Some(t) = self.queue.peek_time() {
            if t > until {
                break;
            }
            self.step();
        }
        self.now = self.now.max(until);
    }

    #[inline]
    fn dispatch(&mut self, event: Event<C::Msg>) {
        match event {
            Event::Deliver { from, to, msg, network } => {
                let node = &self.nodes[to.index()];
                if network {
                    self.stats.in_flight -= 1;
                }
                if !node.up {
                    if network {
                        self.stats.count_drop(DropReason::NodeDown);
                    }
                    if self.trace.enabled() {
                        self.trace.record(TraceRecord {
                            time: self.now,
                            node: to,
                            kind: TraceKind::Drop { from, reason: DropReason::NodeDown },
                            label: C::label(&msg),
                        });
                    }
                    return;
                }
                if node.paused_until > self.now {
                    if network {
                        self.stats.in_flight += 1;
                    }
                    self.stats.deferred_by_pause += 1;
                    let until = node.paused_until;
                    self.queue.push(until, Event::Deliver { from, to, msg, network });
                    return;
                }
                if network {
                    self.stats.messages_delivered += 1;
                }
                if self.trace.enabled() {
                    self.trace.record(TraceRecord {
                        time: self.now,
                        node: to,
                        kind: TraceKind::Message { from },
                        label: C::label(&msg),
                    });
                }
                let NodeState { component, rng, incarnation, slowdown_pct, .. } = &mut self.nodes[to.index()];
                let mut ctx = Context {
                    now: self.now,
                    me: to,
                    incarnation: *incarnation,
                    slowdown_pct: *slowdown_pct,
                    queue: &mut self.queue,
                    network: &mut self.network,
                    stats: &mut self.stats,
                    rng,
                };
                component.on_message(&mut ctx, from, msg);
            }
            Event::Timer { node: to, incarnation: inc, msg } => {
                let node = &self.nodes[to.index()];
                if !node.up || (inc != EXTERNAL && inc != node.incarnation) {
                    self.stats.timers_lost_to_crash += 1;
                    return;
                }
                if node.paused_until > self.now {
                    self.stats.deferred_by_pause += 1;
                    let until = node.paused_until;
                    self.queue.push(until, Event::Timer { node: to, incarnation: inc, msg });
                    return;
                }
                if self.trace.enabled() {
                    self.trace.record(TraceRecord {
                        time: self.now,
                        node: to,
                        kind: TraceKind::Timer,
                        label: C::label(&msg),
                    });
                }
                let NodeState { component, rng, incarnation, slowdown_pct, .. } = &mut self.nodes[to.index()];
                let mut ctx = Context {
                    now: self.now,
                    me: to,
                    incarnation: *incarnation,
                    slowdown_pct: *slowdown_pct,
                    queue: &mut self.queue,
                    network: &mut self.network,
                    stats: &mut self.stats,
                    rng,
                };
                component.on_timer(&mut ctx, msg);
            }
            Event::Fault(fault) => self.apply_fault(*fault),
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        let target = match &fault {
            Fault::Crash(n)
            | Fault::Restart(n)
            | Fault::Pause(n, _)
            | Fault::Resume(n)
            | Fault::Slow(n, _)
            | Fault::SpikeStart(n, _)
            | Fault::SpikeEnd(n, _) => *n,
            Fault::StartPartition(k) | Fault::HealPartition(k) => {
                self.partitions.get(k).and_then(|(p, _)| p.a.first().copied()).unwrap_or(NodeId(0))
            }
        };
        if self.trace.enabled() {
            self.trace.record(TraceRecord {
                time: self.now,
                node: target,
                kind: TraceKind::Fault,
                label: fault.label(),
            });
        }
        match fault {
            Fault::Crash(n) => {
                let node = &mut self.nodes[n.index()];
                if node.up {
                    node.up = false;
                    node.incarnation = node.incarnation.wrapping_add(1) % EXTERNAL;
                    node.paused_until = SimTime::ZERO;
                    node.component.on_crash(self.now);
                    self.stats.crashes += 1;
                }
            }
            Fault::Restart(n) => {
                if !self.nodes[n.index()].up {
                    self.stats.restarts += 1;
                    let NodeState { component, rng, incarnation, slowdown_pct, up, .. } = &mut self.nodes[n.index()];
                    *up = true;
                    let mut ctx = Context {
                        now: self.now,
                        me: n,
                        incarnation: *incarnation,
                        slowdown_pct: *slowdown_pct,
                        queue: &mut self.queue,
                        network: &mut self.network,
                        stats: &mut self.stats,
                        rng,
                    };
                    component.on_restart(&mut ctx);
                }
            }
            Fault::Pause(n, d) => {
                self.stats.pauses += 1;
                let node = &mut self.nodes[n.index()];
                node.paused_until = node.paused_until.max(self.now + d);
            }
            Fault::Resume(_) => {}
            Fault::Slow(n, pct) => {
                if pct != 100 {
                    self.stats.slowdowns += 1;
                }
                self.nodes[n.index()].slowdown_pct = pct.max(1);
            }
            Fault::StartPartition(k) => {
                if let Some((p, active)) = self.partitions.get_mut(&k) {
                    if active.is_none() {
                        *active = Some(self.network.partition(p.clone()));
                        self.stats.partitions_started += 1;
                    }
                }
            }
            Fault::HealPartition(k) => {
                if let Some((_, active)) = self.partitions.get_mut(&k) {
                    if let Some(id) = active.take() {
                        self.network.heal(id);
                        self.stats.partitions_healed += 1;
                    }
                }
            }
            Fault::SpikeStart(n, d) => {
                self.stats.latency_spikes += 1;
                self.network.spike(n, d, true);
            }
            Fault::SpikeEnd(n, d) => self.network.spike(n, d, false),
        }
    }
}

impl<M: Clone> Component for Box<dyn Component<Msg = M>> {
    type Msg = M;
    fn on_start(&mut self, ctx: &mut Context<'_, M>) {
        (**self).on_start(ctx)
    }
    fn on_message(&mut self, ctx: &mut Context<'_, M>, from: NodeId, msg: M) {
        (**self).on_message(ctx, from, msg)
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, M>, msg: M) {
        (**self).on_timer(ctx, msg)
    }
    fn on_crash(&mut self, at: SimTime) {
        (**self).on_crash(at)
    }
    fn on_restart(&mut self, ctx: &mut Context<'_, M>) {
        (**self).on_restart(ctx)
    }
}
