//! The three data services of the book: Customer Profile, Support Contract
//! and Billing Payment.
//!
//! Each service owns one table and serves requests with a pool of workers
//! ([`Workers`]). What a service does beyond executing database operations
//! depends on the pattern, and is given by its [`Role`]:
//!
//! - the Profile service answers the user's unsubscribe request itself
//!   (background sync, event-based) or runs the saga (orchestrated, with the
//!   Profile as orchestrator);
//! - Contract and Billing consume broker deliveries (event-based);
//! - Billing also charges every customer once per billing period.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use sim_core::{Component, NodeId, SimDuration, SimRng, SimTime, TimerId};

use crate::config::{BillingConfig, ServiceConfig};
use crate::event_based::EventConfig;
use crate::msg::{CallId, Ctx, CustomerId, Msg, Op, RequestId, TableKind, Work};
use crate::orchestrated::{Finished, SagaEngine};
use crate::workers::Workers;
use crate::world::World;

/// What the Profile service does after it commits a delete.
#[derive(Debug)]
pub enum Role {
    /// Contract and Billing: a data service (and a subscriber, if a broker delivers).
    Owner,
    /// Profile: delete and answer. With `change_table`, a delete trigger
    /// records the customer in a change table (background sync's variant).
    Answer {
        /// Whether the trigger fills a change table.
        change_table: bool,
    },
    /// Profile: delete, publish `CustomerUnsubscribed`, answer.
    Publish(Publisher),
    /// Profile: run the orchestrator's saga in the request's own thread.
    Orchestrate(SagaEngine),
}

/// The Profile's publishing side in the event-based pattern.
#[derive(Debug)]
pub struct Publisher {
    cfg: EventConfig,
    broker: NodeId,
    /// Durable: events committed with the delete, not yet confirmed by the broker.
    outbox: BTreeMap<RequestId, (CustomerId, SimTime)>,
    /// Volatile: publishes sent but not yet confirmed (no outbox).
    unconfirmed: BTreeMap<RequestId, (CustomerId, TimerId)>,
    /// Volatile: whether the outbox relay's retry poll is scheduled.
    relay_armed: bool,
}

impl Publisher {
    /// A publisher sending to `broker`.
    pub fn new(cfg: EventConfig, broker: NodeId) -> Self {
        Publisher { cfg, broker, outbox: BTreeMap::new(), unconfirmed: BTreeMap::new(), relay_armed: false }
    }
}

/// Billing's charging schedule.
#[derive(Debug)]
struct BillingCycle {
    cfg: BillingConfig,
    /// `(offset within the period, customer)`, sorted.
    offsets: Vec<(SimDuration, CustomerId)>,
    /// Next entry of `offsets` to charge, and the period it belongs to.
    cursor: usize,
    period: u64,
    /// Per customer, 1 + the last period charged (0 = never).
    last_charged: Vec<u64>,
}

impl BillingCycle {
    fn due(&self) -> Option<SimTime> {
        let (offset, _) = *self.offsets.get(self.cursor)?;
        let start = self.cfg.period.as_nanos().checked_mul(self.period)?;
        Some(SimTime::from_nanos(start.checked_add(offset.as_nanos())?))
    }
}

/// One of the three data services.
#[derive(Debug)]
pub struct DataService {
    table: TableKind,
    name: &'static str,
    cfg: ServiceConfig,
    workers: Workers,
    role: Role,
    /// Durable: events already applied, by id (idempotent consumer).
    processed: Vec<bool>,
    /// Durable: the change table a delete trigger fills (Profile only).
    changes: Vec<CustomerId>,
    billing: Option<BillingCycle>,
}

impl DataService {
    /// A service owning `table`.
    pub fn new(table: TableKind, cfg: ServiceConfig, role: Role) -> Self {
        let workers = Workers::new(cfg.workers);
        let name = match table {
            TableKind::Profile => "profile",
            TableKind::Contract => "contract",
            TableKind::Billing => "billing",
        };
        DataService { table, name, cfg, workers, role, processed: Vec::new(), changes: Vec::new(), billing: None }
    }

    /// Makes this service charge every customer once per period, at offsets
    /// drawn uniformly within the period from `rng`.
    pub fn with_billing(mut self, cfg: BillingConfig, customers: u32, rng: &mut SimRng) -> Self {
        let mut offsets: Vec<(SimDuration, CustomerId)> =
            (0..customers).map(|c| (SimDuration::from_nanos(rng.random_range(0..cfg.period.as_nanos())), c)).collect();
        offsets.sort_unstable();
        self.billing =
            Some(BillingCycle { cfg, offsets, cursor: 0, period: 0, last_charged: vec![0; customers as usize] });
        self
    }

    /// The worker pool (for Little's-law checks).
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// The change table's current length.
    pub fn pending_changes(&self) -> usize {
        self.changes.len()
    }

    /// Events waiting in the outbox.
    pub fn outbox_len(&self) -> usize {
        match &self.role {
            Role::Publish(p) => p.outbox.len(),
            _ => 0,
        }
    }

    fn service_time(&self, ctx: &mut Ctx<'_>, work: &Work) -> SimDuration {
        let base = self.cfg.request_time.sample(ctx.rng());
        let per_row = |n: usize, t: SimDuration| t * n as u64;
        let extra = match work {
            Work::Call { op: Op::DeleteMany(ids), .. } | Work::Call { op: Op::ClearChanges(ids), .. } => {
                per_row(ids.len(), self.cfg.write_time_per_row)
            }
            Work::Call { op: Op::ScanAbsent, .. } | Work::Call { op: Op::ScanPresent(_), .. } => {
                // A full scan reads every customer's slot in the table.
                per_row(ctx.state().customers() as usize, self.cfg.scan_time_per_row)
            }
            Work::Call { op: Op::ReadChanges, .. } => per_row(self.changes.len(), self.cfg.scan_time_per_row),
            _ => SimDuration::ZERO,
        };
        ctx.stretch(base + extra)
    }

    fn start(&mut self, ctx: &mut Ctx<'_>, work: Work) {
        let d = self.service_time(ctx, &work);
        crate::workers::begin(ctx, self.name, work, d);
    }

    fn submit(&mut self, ctx: &mut Ctx<'_>, work: Work) {
        if let Some(w) = self.workers.submit(work, ctx.now()) {
            self.start(ctx, w);
        }
    }

    fn release(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(next) = self.workers.finish(ctx.now()) {
            self.start(ctx, next);
        }
    }

    /// Draws whether this operation fails with an injected error.
    fn fails(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let fail = self.cfg.error_rate > 0.0 && ctx.rng().random_bool(self.cfg.error_rate);
        if fail {
            ctx.state_mut().counters.service_errors += 1;
        }
        fail
    }

    fn delete_own(&mut self, world: &mut World, c: CustomerId, now: SimTime) {
        let deleted = world.delete(self.table, c, now);
        if deleted && matches!(self.role, Role::Answer { change_table: true }) {
            self.changes.push(c);
        }
    }

    /// Executes a database operation on the own table.
    fn apply(&mut self, w: &mut World, op: &Op, now: SimTime) -> Option<Arc<[CustomerId]>> {
        let table = self.table;
        w.counters.db_ops += 1;
        match op {
            Op::Delete(c) => {
                self.delete_own(w, *c, now);
                None
            }
            Op::Restore(c) => {
                w.restore(table, *c, now);
                None
            }
            Op::DeleteMany(ids) => {
                // One operation per row written (the call itself was counted above).
                w.counters.db_ops += (ids.len() as u64).saturating_sub(1);
                for &c in ids.iter() {
                    self.delete_own(w, c, now);
                }
                None
            }
            Op::ScanAbsent => {
                w.counters.rows_scanned += u64::from(w.customers());
                Some((0..w.customers()).filter(|&c| !w.present(table, c)).collect())
            }
            Op::ScanPresent(among) => {
                w.counters.rows_scanned += u64::from(w.rows(table));
                Some(among.iter().copied().filter(|&c| w.present(table, c)).collect())
            }
            Op::ReadChanges => {
                w.counters.rows_scanned += self.changes.len() as u64;
                Some(self.changes.iter().copied().collect())
            }
            Op::ClearChanges(ids) => {
                // Entries are appended in order and read as a prefix, so the
                // processed ones are exactly the first `ids.len()`.
                let n = ids.len().min(self.changes.len());
                debug_assert_eq!(&self.changes[..n], &ids[..n]);
                self.changes.drain(..n);
                None
            }
        }
    }

    fn answer(&mut self, ctx: &mut Ctx<'_>, client: NodeId, req: RequestId, ok: bool) {
        ctx.send(client, Msg::Answer { req, ok });
    }

    fn on_done(&mut self, ctx: &mut Ctx<'_>, work: Work) {
        let now = ctx.now();
        match work {
            Work::Unsubscribe { req, customer, client } => {
                if let Role::Orchestrate(engine) = &mut self.role {
                    engine.start(ctx, req, customer, client);
                    return; // the saga holds this worker until it finishes
                }
                if self.fails(ctx) {
                    self.answer(ctx, client, req, false);
                    self.release(ctx);
                    return;
                }
                ctx.state_mut().counters.db_ops += 1;
                self.delete_own(ctx.state_mut(), customer, now);
                let (outbox, crash_prob, gap, restart) = match &self.role {
                    Role::Publish(p) => {
                        (p.cfg.outbox, p.cfg.dual_write_crash_prob, p.cfg.publish_gap, p.cfg.restart_after)
                    }
                    _ => {
                        self.answer(ctx, client, req, true);
                        self.release(ctx);
                        return;
                    }
                };
                if outbox {
                    // The event is written in the same transaction as the delete.
                    if let Role::Publish(p) = &mut self.role {
                        p.outbox.insert(req, (customer, SimTime::ZERO));
                    }
                }
                if crash_prob > 0.0 && ctx.rng().random_bool(crash_prob) {
                    // The process dies right after the commit: no publish
                    // from memory, no answer. Only an outbox remembers.
                    ctx.crash_self(Some(restart));
                    return;
                }
                if outbox {
                    // The relay sends at once and re-sends until confirmed.
                    let Role::Publish(p) = &mut self.role else { unreachable!() };
                    p.outbox.insert(req, (customer, now.max(SimTime::from_nanos(1))));
                    ctx.send(p.broker, Msg::Publish { event: req, customer });
                    if !p.relay_armed {
                        p.relay_armed = true;
                        ctx.schedule_after(p.cfg.outbox_poll, Msg::OutboxPoll);
                    }
                    self.answer(ctx, client, req, true);
                    self.release(ctx);
                } else {
                    // Committed, not yet published: the dual-write gap.
                    ctx.schedule_after(gap, Msg::PublishNow { event: req, customer, client });
                }
            }
            Work::Call { call, op, caller, inline } => {
                let (ok, rows) =
                    if self.fails(ctx) { (false, None) } else { (true, self.apply(ctx.state_mut(), &op, now)) };
                if inline {
                    self.saga_reply(ctx, call, ok);
                } else {
                    ctx.send(caller, Msg::Reply { call, ok, rows });
                    self.release(ctx);
                }
            }
            Work::Consume { delivery, broker } => {
                if self.fails(ctx) {
                    ctx.send(broker, Msg::Nack(delivery));
                } else {
                    let i = delivery.event as usize;
                    if self.processed.len() <= i {
                        self.processed.resize(i + 1, false);
                    }
                    if self.processed[i] {
                        ctx.state_mut().counters.duplicates += 1;
                    } else {
                        self.processed[i] = true;
                        ctx.state_mut().counters.db_ops += 1;
                        self.delete_own(ctx.state_mut(), delivery.customer, now);
                    }
                    ctx.send(broker, Msg::Ack(delivery));
                }
                self.release(ctx);
            }
            Work::Persist { .. } => unreachable!("only the broker persists"),
        }
    }

    fn saga_reply(&mut self, ctx: &mut Ctx<'_>, call: CallId, ok: bool) {
        let Role::Orchestrate(engine) = &mut self.role else { return };
        if let Some(f) = engine.on_reply(ctx, call, ok) {
            self.saga_finished(ctx, f);
        }
    }

    fn saga_finished(&mut self, ctx: &mut Ctx<'_>, f: Finished) {
        self.answer(ctx, f.client, f.req, f.ok);
        self.release(ctx);
    }

    fn publish(&mut self, ctx: &mut Ctx<'_>, event: RequestId, customer: CustomerId) {
        let Role::Publish(p) = &mut self.role else { return };
        ctx.send(p.broker, Msg::Publish { event, customer });
        let timer = ctx.set_timer(p.cfg.publish_timeout, Msg::PublishRetry { event });
        if let Some((_, old)) = p.unconfirmed.insert(event, (customer, timer)) {
            ctx.cancel_timer(old);
        }
    }

    fn charge_due(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now();
        let Some(b) = self.billing.as_mut() else { return };
        let w = ctx.state_mut();
        while let Some(due) = b.due() {
            if due > now {
                break;
            }
            let c = b.offsets[b.cursor].1;
            if w.present(TableKind::Billing, c) {
                w.counters.charges += 1;
                if b.last_charged[c as usize] == b.period + 1 {
                    w.counters.double_charges += 1;
                }
                b.last_charged[c as usize] = b.period + 1;
                if w.told_unsubscribed(c, now) {
                    w.counters.charges_after_unsubscribe += 1;
                    w.counters.charged_after_unsubscribe_cents += b.cfg.price_cents;
                }
            }
            b.cursor += 1;
            if b.cursor == b.offsets.len() {
                b.cursor = 0;
                b.period += 1;
            }
        }
        if let Some(next) = b.due() {
            ctx.schedule_at(next, Msg::BillingRun);
        }
    }
}

impl Component<World> for DataService {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        if self.billing.is_some() {
            self.charge_due(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Unsubscribe { req, customer } => self.submit(ctx, Work::Unsubscribe { req, customer, client: from }),
            Msg::Call { call, op } => self.submit(ctx, Work::Call { call, op, caller: from, inline: false }),
            Msg::Deliver(delivery) => self.submit(ctx, Work::Consume { delivery, broker: from }),
            Msg::Done(work) => self.on_done(ctx, work),
            Msg::Reply { call, ok, .. } => {
                self.saga_reply(ctx, call, ok);
            }
            Msg::CallTimeout { call } => {
                let Role::Orchestrate(engine) = &mut self.role else { return };
                if let Some(f) = engine.on_timeout(ctx, call) {
                    self.saga_finished(ctx, f);
                }
            }
            Msg::Retry { call } => {
                if let Role::Orchestrate(engine) = &mut self.role {
                    engine.on_retry(ctx, call);
                }
            }
            Msg::PublishNow { event, customer, client } => {
                self.publish(ctx, event, customer);
                self.answer(ctx, client, event, true);
                self.release(ctx);
            }
            Msg::PublishRetry { event } => {
                let Role::Publish(p) = &mut self.role else { return };
                if let Some(&(customer, _)) = p.unconfirmed.get(&event) {
                    ctx.state_mut().counters.publish_retries += 1;
                    self.publish(ctx, event, customer);
                }
            }
            Msg::PublishAck { event } => {
                let Role::Publish(p) = &mut self.role else { return };
                p.outbox.remove(&event);
                if let Some((_, timer)) = p.unconfirmed.remove(&event) {
                    ctx.cancel_timer(timer);
                }
            }
            Msg::OutboxPoll => {
                let now = ctx.now();
                let Role::Publish(p) = &mut self.role else { return };
                p.relay_armed = false;
                let (broker, timeout) = (p.broker, p.cfg.publish_timeout);
                let mut resent = 0;
                for (&event, (customer, sent)) in p.outbox.iter_mut() {
                    // Send what was never sent, and re-send what the broker has
                    // not confirmed within the timeout.
                    if *sent == SimTime::ZERO || now.saturating_since(*sent) >= timeout {
                        resent += u64::from(*sent != SimTime::ZERO);
                        *sent = now.max(SimTime::from_nanos(1));
                        ctx.send(broker, Msg::Publish { event, customer: *customer });
                    }
                }
                let poll = p.cfg.outbox_poll;
                if !p.outbox.is_empty() {
                    p.relay_armed = true;
                    ctx.schedule_after(poll, Msg::OutboxPoll);
                }
                ctx.state_mut().counters.publish_retries += resent;
            }
            Msg::BillingRun => self.charge_due(ctx),
            _ => {}
        }
    }

    fn on_crash(&mut self, at: SimTime, _world: &mut World) {
        self.workers.clear(at);
        match &mut self.role {
            Role::Publish(p) => {
                p.unconfirmed.clear();
                p.relay_armed = false;
                // Durable outbox rows survive, but whether they were sent is
                // process memory: send them all again after the restart.
                for (_, sent) in p.outbox.values_mut() {
                    *sent = SimTime::ZERO;
                }
            }
            Role::Orchestrate(engine) => engine.clear(),
            _ => {}
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        if let Role::Publish(p) = &mut self.role {
            if !p.outbox.is_empty() {
                p.relay_armed = true;
                ctx.schedule_after(SimDuration::ZERO, Msg::OutboxPoll);
            }
        }
        if self.billing.is_some() {
            // Billing catches up on the charges it missed while it was down.
            self.charge_due(ctx);
        }
    }
}

impl crate::scenario::Service for DataService {
    fn workers(&self) -> Option<&Workers> {
        Some(&self.workers)
    }
}
