//! What a component sees and does while it handles one event.
//!
//! A [`Context`] is built in exactly one place, `Context::new`, by the
//! simulation loop, and lives for one handler call. It lends the handler
//! the clock, its node's random stream, the event queue (timers), the
//! network and the model state, so a component holds no reference to
//! anything outside itself.

use crate::event::Event;
use crate::fault::Fault;
use crate::net::{Network, Transit};
use crate::node::NodeId;
use crate::queue::{EventId, EventQueue};
use crate::rng::SimRng;
use crate::stats::Stats;
use crate::time::{SimDuration, SimTime};

/// Handle to a cancellable timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(EventId);

/// What a component can see and do while it handles an event.
pub struct Context<'a, M, S = ()> {
    now: SimTime,
    me: NodeId,
    incarnation: u32,
    slowdown_pct: u32,
    queue: &'a mut EventQueue<Event<M>>,
    network: &'a mut Network,
    stats: &'a mut Stats,
    rng: &'a mut SimRng,
    state: &'a mut S,
}

impl<M, S> std::fmt::Debug for Context<'_, M, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("now", &self.now).field("me", &self.me).finish_non_exhaustive()
    }
}

impl<'a, M, S> Context<'a, M, S> {
    /// The one constructor: the simulation loop lends its parts for one handler.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn new(
        now: SimTime,
        me: NodeId,
        incarnation: u32,
        slowdown_pct: u32,
        queue: &'a mut EventQueue<Event<M>>,
        network: &'a mut Network,
        stats: &'a mut Stats,
        rng: &'a mut SimRng,
        state: &'a mut S,
    ) -> Self {
        Context { now, me, incarnation, slowdown_pct, queue, network, stats, rng, state }
    }

    /// The model state the simulation owns, lent for this handler
    /// ([`Simulation::with_state`](crate::Simulation::with_state)).
    #[inline]
    pub fn state(&self) -> &S {
        self.state
    }

    /// The model state, mutably. No other handler runs meanwhile, so no
    /// borrow can clash.
    ///
    /// ```
    /// use sim_core::{Component, Context, NodeId, SimDuration, Simulation};
    ///
    /// /// Every node counts what it receives into one shared tally.
    /// struct Counter;
    /// impl Component<u32> for Counter {
    ///     type Msg = ();
    ///     fn on_message(&mut self, ctx: &mut Context<'_, (), u32>, _: NodeId, _: ()) {
    ///         *ctx.state_mut() += 1;
    ///     }
    /// }
    ///
    /// let mut sim = Simulation::with_state(1, 0u32);
    /// let a = sim.add_node("a", Counter);
    /// let b = sim.add_node("b", Counter);
    /// sim.inject(SimDuration::ZERO, a, b, ());
    /// sim.inject(SimDuration::ZERO, b, a, ());
    /// sim.run();
    /// assert_eq!(*sim.state(), 2);
    /// ```
    #[inline]
    pub fn state_mut(&mut self) -> &mut S {
        self.state
    }
}

impl<M: Clone, S> Context<'_, M, S> {
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
