//! The message broker of the event-based pattern.
//!
//! One topic, `CustomerUnsubscribed`, with a durable subscription for each
//! follower (the book's Contract and Billing). Durable state (survives a broker crash): the ready
//! queues, the delayed redeliveries and the dead-letter queue. Volatile
//! state: which deliveries are out awaiting an acknowledgement; after a
//! restart they are all delivered again (at least once).

use std::collections::{BTreeMap, VecDeque};

use sim_core::{Component, KeyedDraws, NodeId, SimTime, Simulation, TimerId};

use crate::config::BrokerConfig;
use crate::ctx::Ctx;
use crate::id_window::IdWindow;
use crate::msg::{unexpected, CustomerId, Delivery, Msg, RequestId, Work};
use crate::node::Node;
use crate::plugin::Env;
use crate::service::{correlated_time, SHARED_TIMES};
use crate::workers::Workers;
use crate::world::World;

#[derive(Clone, Copy, Debug)]
struct Stored {
    event: RequestId,
    customer: CustomerId,
    /// A `CustomerUpdated` event (`event` is then the update's id).
    update: bool,
    /// Deliveries so far.
    attempts: u32,
    repair_rounds: u32,
}

#[derive(Debug, Default)]
struct Subscription {
    ready: VecDeque<Stored>,
    delayed: BTreeMap<(SimTime, u64), Stored>,
    in_flight: IdWindow<u64, (Stored, TimerId)>,
}

/// The broker node.
#[derive(Debug)]
pub struct Broker {
    cfg: BrokerConfig,
    workers: Workers,
    subscribers: Vec<NodeId>,
    subs: Vec<Subscription>,
    dlq: Vec<(u8, Stored)>,
    /// Durable: the events persisted so far, by id.
    next_tag: u64,
    dispatch_at: Option<SimTime>,
    repair_armed: bool,
    /// The shared factors of correlated times ([`SHARED_TIMES`]).
    shared: KeyedDraws,
}

impl Broker {
    /// A broker delivering to `subscribers`, subscription `i` to
    /// `subscribers[i]` (follower `i`: the book's Contract 0, Billing 1).
    ///
    /// `shared` holds the common factors of correlated times
    /// ([`BrokerConfig::time_correlation`]): the stream every service
    /// draws from ([`SHARED_TIMES`]).
    ///
    /// # Panics
    /// With more than 256 subscribers (a delivery names its subscription in a byte).
    pub fn new(cfg: BrokerConfig, subscribers: Vec<NodeId>, shared: KeyedDraws) -> Self {
        assert!(subscribers.len() <= 256, "at most 256 subscriptions");
        let workers = Workers::new(cfg.workers);
        Broker {
            cfg,
            workers,
            subs: subscribers.iter().map(|_| Subscription::default()).collect(),
            subscribers,
            dlq: Vec::new(),
            next_tag: 0,
            dispatch_at: None,
            repair_armed: false,
            shared,
        }
    }

    /// Customers the source deleted whose event no broker of `sim`
    /// persisted: lost on the way (the dual-write gap, a commit log that
    /// dropped entries before they were read). The broker marks each event
    /// it persists in the world ([`World::mark_published`]).
    pub fn unpublished(sim: &Simulation<Node, World>) -> u64 {
        sim.state().unpublished()
    }

    /// The worker pool.
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Messages waiting in the dead-letter queue.
    pub fn dead_letters(&self) -> usize {
        self.dlq.len()
    }

    /// Messages stored and not yet acknowledged, over every subscription.
    pub fn backlog(&self) -> usize {
        self.subs.iter().map(|s| s.ready.len() + s.delayed.len() + s.in_flight.len()).sum()
    }

    fn dispatch(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now();
        for (i, sub) in self.subs.iter_mut().enumerate() {
            while let Some((&(at, _), _)) = sub.delayed.first_key_value() {
                if at > now {
                    break;
                }
                let (_, s) = sub.delayed.pop_first().expect("just peeked");
                sub.ready.push_back(s);
            }
            while sub.in_flight.len() < self.cfg.prefetch as usize {
                let Some(mut s) = sub.ready.pop_front() else { break };
                s.attempts += 1;
                let tag = self.next_tag;
                self.next_tag += 1;
                let d = Delivery {
                    sub: i as u8,
                    event: s.event,
                    update: s.update,
                    customer: s.customer,
                    attempt: s.attempts,
                    tag,
                };
                ctx.send(self.subscribers[i], Msg::Deliver(d));
                let timer = ctx.set_timer(self.cfg.ack_timeout, Msg::AckTimeout(d));
                sub.in_flight.insert(tag, (s, timer));
            }
        }
        let next = self.subs.iter().filter_map(|s| s.delayed.first_key_value().map(|(k, _)| k.0)).min();
        if let Some(next) = next {
            if self.dispatch_at.is_none_or(|t| t > next || t < now) {
                self.dispatch_at = Some(next);
                ctx.schedule_at(next, Msg::DispatchDue);
            }
        }
    }

    fn failed(&mut self, ctx: &mut Ctx<'_>, d: Delivery) {
        let sub = &mut self.subs[d.sub as usize];
        let Some((s, timer)) = sub.in_flight.remove(d.tag) else { return };
        ctx.cancel_timer(timer);
        if s.attempts >= self.cfg.max_deliveries {
            ctx.state_mut().counters.dead_lettered += 1;
            self.dlq.push((d.sub, s));
            if !self.repair_armed {
                self.repair_armed = true;
                ctx.schedule_after(self.cfg.dlq_repair_interval, Msg::DlqRepair);
            }
        } else {
            ctx.state_mut().counters.redeliveries += 1;
            let wait = self.cfg.redelivery_delay * (1u64 << (s.attempts - 1).min(20));
            let key = (ctx.now() + wait, self.next_tag);
            self.next_tag += 1;
            sub.delayed.insert(key, s);
        }
        self.dispatch(ctx);
    }

    fn persist_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        event: RequestId,
        customer: CustomerId,
        publisher: NodeId,
        update: bool,
    ) {
        if update {
            ctx.send(publisher, Msg::UpdateAck { update: event });
        } else {
            ctx.state_mut().mark_published(event);
            ctx.send(publisher, Msg::PublishAck { event });
        }
        for sub in &mut self.subs {
            sub.ready.push_back(Stored { event, customer, update, attempts: 0, repair_rounds: 0 });
        }
        if let Some(next) = self.workers.finish(ctx.now()) {
            self.start(ctx, next);
        }
        self.dispatch(ctx);
    }

    fn start(&mut self, ctx: &mut Ctx<'_>, work: Work) {
        let c = self.cfg.time_correlation;
        let d = correlated_time(&self.cfg.publish_time, c, &work, &mut self.shared, ctx.rng());
        let d = ctx.stretch(d);
        crate::workers::begin(ctx, work, d);
    }
}

/// A broker with one subscription per follower of `env`'s scenario.
pub fn for_followers(env: &Env<'_>) -> Node {
    let t = env.topology;
    let subscribers = t.follower_tables().map(|f| t.owner(f)).collect();
    Node::new(Broker::new(env.scenario.services.broker.clone(), subscribers, env.rng.keyed(SHARED_TIMES)))
}

impl Component<World> for Broker {
    type Msg = Msg;

    fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Publish { event, customer } => {
                let work = Work::Persist { event, customer, publisher: from, update: false };
                if let Some(w) = self.workers.submit(work, ctx.now()) {
                    self.start(ctx, w);
                }
            }
            Msg::PublishUpdate { update, customer } => {
                let work = Work::Persist { event: update, customer, publisher: from, update: true };
                if let Some(w) = self.workers.submit(work, ctx.now()) {
                    self.start(ctx, w);
                }
            }
            Msg::Done(Work::Persist { event, customer, publisher, update }) => {
                self.persist_done(ctx, event, customer, publisher, update)
            }
            Msg::Ack(d) => {
                if let Some((_, timer)) = self.subs[d.sub as usize].in_flight.remove(d.tag) {
                    ctx.cancel_timer(timer);
                    self.dispatch(ctx);
                }
            }
            Msg::Nack(d) => self.failed(ctx, d),
            Msg::AckTimeout(d) => {
                // The timer already fired: take the entry out before `failed`
                // tries to cancel it.
                self.failed(ctx, d);
            }
            Msg::DispatchDue => {
                self.dispatch_at = None;
                self.dispatch(ctx);
            }
            Msg::DlqRepair => {
                self.repair_armed = false;
                let rounds = self.cfg.dlq_repair_rounds;
                let counters = &mut ctx.state_mut().counters;
                for (sub, mut s) in std::mem::take(&mut self.dlq) {
                    if s.repair_rounds < rounds {
                        s.repair_rounds += 1;
                        s.attempts = 0;
                        counters.dlq_repaired += 1;
                        self.subs[sub as usize].ready.push_back(s);
                    } else {
                        counters.manual_repairs += 1;
                    }
                }
                self.dispatch(ctx);
            }
            other => unexpected("the broker", &other),
        }
    }

    fn on_crash(&mut self, at: SimTime, _world: &mut World) {
        self.workers.clear(at);
        self.dispatch_at = None;
        self.repair_armed = false;
        for sub in &mut self.subs {
            // Leases are process memory: everything out is delivered again.
            let out: Vec<Stored> = std::mem::take(&mut sub.in_flight).into_values().map(|(s, _)| s).collect();
            for s in out.into_iter().rev() {
                sub.ready.push_front(s);
            }
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        if !self.dlq.is_empty() {
            self.repair_armed = true;
            ctx.schedule_after(self.cfg.dlq_repair_interval, Msg::DlqRepair);
        }
        self.dispatch(ctx);
    }
}

impl crate::node::Service for Broker {
    fn workers(&self) -> Option<&Workers> {
        Some(&self.workers)
    }
}
