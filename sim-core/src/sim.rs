//! The simulation loop.
//!
//! A [`Simulation`] owns the clock, the event queue, the network, the model
//! state and one component per node. It pops events in `(time, sequence)`
//! order and hands each to its node's component through a [`Context`],
//! which is the component's only window on the world: the clock, timers,
//! the network, the node's own random stream and the model state.
//!
//! Crash semantics: a crash marks the node down, calls
//! [`Component::on_crash`] (where the model drops its volatile state) and
//! bumps the node's incarnation, which invalidates every timer the node had
//! set, in O(1). Messages that reach a down node are dropped and counted. A
//! restart calls [`Component::on_restart`], where the model resumes from its
//! durable state.

use std::collections::BTreeMap;

use crate::component::Component;
use crate::context::Context;
use crate::event::{Event, EXTERNAL};
use crate::fault::{self, CompiledFaults, Fault, FaultError, FaultPlan, FaultWindow};
use crate::net::{DropReason, Network, Partition};
use crate::node::NodeId;
use crate::queue::EventQueue;
use crate::rng::{RngFactory, SimRng};
use crate::stats::Stats;
use crate::time::{SimDuration, SimTime};
use crate::trace::{Trace, TraceKind, TraceMode, TraceRecord};

struct NodeState<C> {
    component: C,
    rng: SimRng,
    up: bool,
    incarnation: u32,
    paused_until: SimTime,
    /// Outages the node is in (crashes not yet matched by a restart).
    outages: u32,
    /// The slowdowns active now, in percent; the node runs at the largest.
    slowdowns: Vec<u32>,
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
pub struct Simulation<C, S = ()>
where
    C: Component<S>,
{
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
    state: S,
}

impl<C: Component<S>, S> std::fmt::Debug for Simulation<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("now", &self.now)
            .field("nodes", &self.network.names())
            .field("pending", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl<C: Component<S>, S: Default> Simulation<C, S> {
    /// An empty simulation whose every random stream derives from `seed`,
    /// with the default model state.
    pub fn new(seed: u64) -> Self {
        Self::with_state(seed, S::default())
    }
}

impl<C: Component<S>, S> Simulation<C, S> {
    /// An empty simulation whose every random stream derives from `seed`,
    /// owning the model state `state`, which every handler can reach through
    /// [`Context::state_mut`].
    pub fn with_state(seed: u64, state: S) -> Self {
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
            state,
        }
    }

    /// The model state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The model state, mutably (for setup and inspection between steps).
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
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
            outages: 0,
            slowdowns: Vec::new(),
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
        let CompiledFaults { mut events, partitions, windows } =
            fault::compile(plan, horizon, self.network.names(), &self.factory)?;
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

    /// Hands node `id`'s component a context for one handler call. The only
    /// place a [`Context`] is built.
    #[inline(always)]
    fn with_context<R>(&mut self, id: NodeId, f: impl FnOnce(&mut C, &mut Context<'_, C::Msg, S>) -> R) -> R {
        let NodeState { component, rng, incarnation, slowdown_pct, .. } = &mut self.nodes[id.index()];
        let mut ctx = Context::new(
            self.now,
            id,
            *incarnation,
            *slowdown_pct,
            &mut self.queue,
            &mut self.network,
            &mut self.stats,
            rng,
            &mut self.state,
        );
        f(component, &mut ctx)
    }

    fn start(&mut self) {
        self.started = true;
        for i in 0..self.nodes.len() {
            self.with_context(NodeId::from_index(i), |c, ctx| c.on_start(ctx));
        }
    }

    /// Processes one event. Returns false when no event remains.
    pub fn step(&mut self) -> bool {
        if !self.started {
            self.start();
        }
        let Some((time, event)) = self.queue.pop() else {
            return false;
        };
        self.now = time;
        self.stats.events += 1;
        self.dispatch(event);
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
                self.with_context(to, |c, ctx| c.on_message(ctx, from, msg));
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
                self.with_context(to, |c, ctx| c.on_timer(ctx, msg));
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
            | Fault::SlowStart(n, _)
            | Fault::SlowEnd(n, _)
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
                node.outages += 1;
                if node.up {
                    node.up = false;
                    node.incarnation = node.incarnation.wrapping_add(1) % EXTERNAL;
                    node.paused_until = SimTime::ZERO;
                    node.component.on_crash(self.now, &mut self.state);
                    self.stats.crashes += 1;
                }
            }
            Fault::Restart(n) => {
                let node = &mut self.nodes[n.index()];
                // A restart without a crash (nothing to end) changes nothing.
                node.outages = node.outages.saturating_sub(1);
                if !node.up && node.outages == 0 {
                    self.stats.restarts += 1;
                    self.nodes[n.index()].up = true;
                    self.with_context(n, |c, ctx| c.on_restart(ctx));
                }
            }
            Fault::Pause(n, d) => {
                self.stats.pauses += 1;
                let node = &mut self.nodes[n.index()];
                node.paused_until = node.paused_until.max(self.now + d);
            }
            Fault::Resume(_) => {}
            Fault::SlowStart(n, pct) => {
                self.stats.slowdowns += 1;
                let node = &mut self.nodes[n.index()];
                node.slowdowns.push(pct.max(1));
                node.slowdown_pct = node.slowdowns.iter().copied().max().unwrap_or(100);
            }
            Fault::SlowEnd(n, pct) => {
                let node = &mut self.nodes[n.index()];
                if let Some(i) = node.slowdowns.iter().position(|&p| p == pct.max(1)) {
                    node.slowdowns.swap_remove(i);
                }
                node.slowdown_pct = node.slowdowns.iter().copied().max().unwrap_or(100);
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
