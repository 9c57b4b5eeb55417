//! The data services: the source (the book's Customer Profile) and every
//! follower (the book's Support Contract and Billing Payment).
//!
//! Each service owns one table and serves requests with a pool of workers
//! ([`Workers`]). A data service knows no pattern: it executes database
//! operations, consumes broker deliveries idempotently, and, with a side
//! effect (the book's Billing charge), acts on every row once per period;
//! a delete trigger can
//! fill a change table, a database feature a pattern may install
//! ([`DataService::with_change_table`]). What the source service (the
//! book's Profile) does around its delete is the pattern's business: a
//! [`Source`] hook the pattern hands it (publish an event, run a saga).
//! Without one it deletes and answers ([`Plain`]).

use std::collections::VecDeque;
use std::sync::Arc;

use fixedbitset::FixedBitSet;
use rand::Rng;
use sim_core::{draw, Component, Dist, KeyedDraws, NodeId, SimDuration, SimRng, SimTime};

use crate::charge_order::ChargeOrder;
use crate::config::ServiceConfig;
use crate::ctx::Ctx;
use crate::followers::SideEffectConfig;
use crate::msg::{unexpected, CallId, CustomerId, LogRecord, Msg, Op, RequestId, UpdateId, Work};
use crate::topology::TableId;
use crate::workers::Workers;
use crate::world::World;

/// What the source service does around its delete: the pattern's hook.
///
/// Every method has the plain behaviour as its default: delete the row and
/// answer. A pattern overrides what it changes.
pub trait Source: std::fmt::Debug {
    /// The user's unsubscribe request holds a worker and its service time
    /// has passed. By default: fail with the service's error rate, or delete
    /// the row and answer "unsubscribed".
    fn on_unsubscribe(
        &mut self,
        svc: &mut DataCore,
        ctx: &mut Ctx<'_>,
        req: RequestId,
        customer: CustomerId,
        client: NodeId,
    ) {
        if svc.delete_for_request(ctx, req, customer, client) {
            svc.finish_request(ctx, client, req, true);
        }
    }

    /// A profile update (background traffic) committed; `update` numbers
    /// it. By default nothing more happens: the followers hold no copy of
    /// the profile. An event-driven pattern tells them.
    fn on_update(&mut self, _svc: &mut DataCore, _ctx: &mut Ctx<'_>, _update: UpdateId, _customer: CustomerId) {}

    /// A call the pattern ran inline on the request's own thread finished.
    fn on_inline_reply(&mut self, _svc: &mut DataCore, _ctx: &mut Ctx<'_>, _call: CallId, _ok: bool) {}

    /// A message for the pattern's part of the service (acks, replies, timers).
    fn on_message(&mut self, _svc: &mut DataCore, _ctx: &mut Ctx<'_>, _from: NodeId, msg: Msg) {
        unexpected("a data service", &msg);
    }

    /// The process crashed: drop the pattern's volatile state.
    fn on_crash(&mut self) {}

    /// The process restarted.
    fn on_restart(&mut self, _svc: &mut DataCore, _ctx: &mut Ctx<'_>) {}
}

/// Delete and answer: the source's behaviour when the pattern adds nothing
/// (and every follower's).
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

impl Source for Plain {}

/// A side effect's schedule: each row once per period, at its own offset.
#[derive(Debug)]
struct SideEffectCycle {
    cfg: SideEffectConfig,
    /// Who is charged next, and when within the period.
    order: ChargeOrder,
    /// The period the next charge belongs to.
    period: u64,
    /// Per customer, whether it was charged in the current period (all
    /// cleared when a period ends): a second charge in one period is a
    /// double charge. A bit each, where a period number each took 8 bytes
    /// (52 M customers: 6.5 MB, not 420).
    charged: FixedBitSet,
}

impl SideEffectCycle {
    fn due(&self) -> Option<SimTime> {
        let (offset, _) = self.order.next()?;
        let start = self.cfg.period.as_nanos().checked_mul(self.period)?;
        Some(SimTime::from_nanos(start.checked_add(offset.as_nanos())?))
    }
}

/// What a delete leaves besides the row: the trigger's change-table entry
/// and the commit-log record, for a database that keeps them.
fn record_delete(changes: &mut Option<Vec<CustomerId>>, log: &mut Option<CommitLog>, c: CustomerId, now: SimTime) {
    if let Some(changes) = changes.as_mut() {
        changes.push(c);
    }
    if let Some(log) = log.as_mut() {
        log.append(now, LogRecord { customer: c, update: None });
    }
}

/// The source database's commit log: every delete in commit order, kept
/// for `retention` after its commit (a write-ahead log read by change data
/// capture). Durable: it survives the service's crashes.
#[derive(Debug)]
struct CommitLog {
    retention: SimDuration,
    /// The log sequence number of `entries[0]`.
    first: u64,
    /// `(commit time, what was committed)`.
    entries: VecDeque<(SimTime, LogRecord)>,
}

impl CommitLog {
    /// Drops the entries older than the retention.
    fn truncate(&mut self, now: SimTime) {
        while self.entries.front().is_some_and(|&(t, _)| now.saturating_since(t) > self.retention) {
            self.entries.pop_front();
            self.first += 1;
        }
    }

    /// Appends a commit and returns its sequence number.
    fn append(&mut self, now: SimTime, record: LogRecord) -> u64 {
        self.truncate(now);
        self.entries.push_back((now, record));
        self.first + self.entries.len() as u64 - 1
    }

    /// Up to `max` entries from `from` on: the first sequence number still
    /// held at or after `from`, and the customers.
    fn read(&mut self, now: SimTime, from: u64, max: u32) -> (u64, Arc<[LogRecord]>) {
        self.truncate(now);
        let start = from.max(self.first);
        let skip = usize::try_from(start - self.first).unwrap_or(usize::MAX);
        (start, self.entries.iter().skip(skip).take(max as usize).map(|&(_, r)| r).collect())
    }

    /// Entries a read from `from` would find, up to `max`.
    fn available(&self, from: u64, max: u32) -> usize {
        let end = self.first + self.entries.len() as u64;
        (end.saturating_sub(from.max(self.first)) as usize).min(max as usize)
    }
}

/// What every data service has: its table, its workers, its consumers' memory.
#[derive(Debug)]
pub struct DataCore {
    table: TableId,
    name: String,
    cfg: ServiceConfig,
    workers: Workers,
    /// Durable: events already applied, by id (idempotent consumer). A bit
    /// each: it grows with the run (one per unsubscribe), and a byte each
    /// took 2 bytes per request over the two subscribers, 100 MB of a
    /// 30-day run's peak.
    processed: FixedBitSet,
    /// Durable: the change table a delete trigger fills, if one is installed.
    changes: Option<Vec<CustomerId>>,
    /// Durable: the commit log change data capture reads, if kept.
    log: Option<CommitLog>,
    /// Durable: per customer, the newest fencing token applied (fenced
    /// sagas only; a customer appears once a fenced operation reached it).
    fences: std::collections::BTreeMap<CustomerId, u64>,
    side_effect: Option<SideEffectCycle>,
    /// The common factors of correlated request times, by unit of work
    /// (the same stream in every service, so they share them).
    shared: KeyedDraws,
}

/// A data service (the source or a follower), with the pattern's hook.
#[derive(Debug)]
pub struct DataService {
    core: DataCore,
    source: Box<dyn Source>,
}

/// The name of the stream of shared factors of correlated times
/// ([`ServiceConfig::time_correlation`]): every service and the broker
/// draw theirs from it, so the steps of one unsubscribe share them.
pub const SHARED_TIMES: &str = "services/shared-times";

/// A time from `dist` for `work`, correlated by `c` with the other steps of
/// the same unsubscribe through `shared` (one-factor Gaussian copula, see
/// [`ServiceConfig::time_correlation`]).
pub(crate) fn correlated_time(
    dist: &Dist,
    c: f64,
    work: &Work,
    shared: &mut KeyedDraws,
    rng: &mut SimRng,
) -> SimDuration {
    // Only a correlated step draws a score: with c = 0 a run makes exactly
    // the draws it made before the setting existed.
    let key = if c > 0.0 { work.correlation_key() } else { None };
    match key {
        Some(key) => {
            let z = c.sqrt() * shared.std_normal(key) + (1.0 - c).sqrt() * draw::std_normal(rng);
            dist.sample_at_normal(z, rng)
        }
        None => dist.sample(rng),
    }
}

impl DataCore {
    /// The service's configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.cfg
    }

    fn service_time(&mut self, ctx: &mut Ctx<'_>, work: &Work) -> SimDuration {
        let base =
            correlated_time(&self.cfg.request_time, self.cfg.time_correlation, work, &mut self.shared, ctx.rng());
        let per_row = |n: usize, t: SimDuration| t * n as u64;
        let extra = match work {
            Work::Call { op: Op::DeleteMany(ids), .. } | Work::Call { op: Op::ClearChanges(ids), .. } => {
                per_row(ids.len(), self.cfg.write_time_per_row)
            }
            Work::Call { op: Op::ScanAbsent, .. } | Work::Call { op: Op::ScanPresent(_), .. } => {
                // A full scan reads every customer's slot in the table.
                per_row(ctx.state().customers() as usize, self.cfg.scan_time_per_row)
            }
            Work::Call { op: Op::ReadChanges, .. } => per_row(self.pending_changes(), self.cfg.scan_time_per_row),
            Work::Call { op: Op::ReadLog { from, max }, .. } => {
                let n = self.log.as_ref().map_or(0, |l| l.available(*from, *max));
                per_row(n, self.cfg.scan_time_per_row)
            }
            _ => SimDuration::ZERO,
        };
        ctx.stretch(base + extra)
    }

    fn start(&mut self, ctx: &mut Ctx<'_>, work: Work) {
        let d = self.service_time(ctx, &work);
        crate::workers::begin(ctx, work, d);
    }

    fn submit(&mut self, ctx: &mut Ctx<'_>, work: Work) {
        if let Some(w) = self.workers.submit(work, ctx.now()) {
            self.start(ctx, w);
        }
    }

    /// Frees the worker of the unit just finished; the next in line takes it.
    pub fn release(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(next) = self.workers.finish(ctx.now()) {
            self.start(ctx, next);
        }
    }

    /// Draws whether this operation fails with an injected error.
    pub fn fails(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let fail = self.cfg.error_rate > 0.0 && ctx.rng().random_bool(self.cfg.error_rate);
        if fail {
            ctx.state_mut().counters.service_errors += 1;
        }
        fail
    }

    /// Deletes the customer's row as one database operation. Returns
    /// whether there was a row.
    pub fn commit_delete(&mut self, ctx: &mut Ctx<'_>, customer: CustomerId) -> bool {
        let now = ctx.now();
        let w = ctx.state_mut();
        w.counters.db_ops += 1;
        self.delete_row(w, customer, now)
    }

    /// Deletes a row; the trigger, if installed, records it, and so does
    /// the commit log, if kept.
    fn delete_row(&mut self, w: &mut World, c: CustomerId, now: SimTime) -> bool {
        let deleted = w.delete(self.table, c, now);
        if deleted {
            record_delete(&mut self.changes, &mut self.log, c, now);
        }
        deleted
    }

    /// The newest commit-log entry, with its sequence number, if any.
    pub fn last_log_entry(&self) -> Option<(u64, LogRecord)> {
        let log = self.log.as_ref()?;
        let (_, record) = *log.entries.back()?;
        Some((log.first + log.entries.len() as u64 - 1, record))
    }

    /// The sequence number of the newest commit-log entry, if any.
    pub fn last_lsn(&self) -> Option<u64> {
        let log = self.log.as_ref()?;
        (log.first + log.entries.len() as u64).checked_sub(1)
    }

    /// The change table's current length (0 without a trigger).
    pub fn pending_changes(&self) -> usize {
        self.changes.as_ref().map_or(0, Vec::len)
    }

    /// The user's delete: fails with the service's error rate (answering
    /// the user and freeing the worker) or deletes the row. Returns whether
    /// the row was deleted and the request is still the caller's to finish.
    pub fn delete_for_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        req: RequestId,
        customer: CustomerId,
        client: NodeId,
    ) -> bool {
        if self.fails(ctx) {
            self.finish_request(ctx, client, req, false);
            return false;
        }
        self.commit_delete(ctx, customer);
        true
    }

    /// Answers the user and frees the request's worker.
    pub fn finish_request(&mut self, ctx: &mut Ctx<'_>, client: NodeId, req: RequestId, ok: bool) {
        ctx.send(client, Msg::Answer { req, ok });
        self.release(ctx);
    }

    /// Executes a database operation on the own table.
    fn apply(&mut self, w: &mut World, op: &Op, now: SimTime) -> Option<Arc<[CustomerId]>> {
        let table = self.table;
        w.counters.db_ops += 1;
        match op {
            Op::Delete(c) => {
                self.delete_row(w, *c, now);
                None
            }
            Op::Restore(c) => {
                w.restore(table, *c, now);
                None
            }
            Op::FencedDelete { customer, token } => {
                let fence = self.fences.entry(*customer).or_default();
                if *fence > *token {
                    // A compensation with a newer token came first: this
                    // delete is the late one the fence exists to stop.
                    w.counters.fenced_rejections += 1;
                } else {
                    *fence = *token;
                    self.delete_row(w, *customer, now);
                }
                None
            }
            Op::FencedRestore { customer, token } => {
                let fence = self.fences.entry(*customer).or_default();
                *fence = (*fence).max(*token);
                w.restore(table, *customer, now);
                None
            }
            Op::DeleteMany(ids) => {
                // One operation per row written (the call itself was counted above).
                w.counters.db_ops += (ids.len() as u64).saturating_sub(1);
                let (changes, log) = (&mut self.changes, &mut self.log);
                w.delete_many(table, ids, now, |c| record_delete(changes, log, c, now));
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
                let changes = self.changes.as_deref().unwrap_or_default();
                w.counters.rows_scanned += changes.len() as u64;
                Some(changes.iter().copied().collect())
            }
            Op::ReadLog { .. } => unreachable!("answered by DataCore::read_log"),
            Op::ClearChanges(ids) => {
                // Entries are appended in order and read as a prefix, so the
                // processed ones are exactly the first `ids.len()`.
                if let Some(changes) = self.changes.as_mut() {
                    let n = ids.len().min(changes.len());
                    debug_assert_eq!(&changes[..n], &ids[..n]);
                    changes.drain(..n);
                }
                None
            }
        }
    }

    fn consume(&mut self, ctx: &mut Ctx<'_>, delivery: crate::msg::Delivery, broker: NodeId) {
        if self.fails(ctx) {
            ctx.send(broker, Msg::Nack(delivery));
        } else if delivery.update {
            // A profile update: applying it again changes nothing.
            let w = ctx.state_mut();
            w.counters.db_ops += 1;
            w.counters.update_events_applied += 1;
            ctx.send(broker, Msg::Ack(delivery));
        } else {
            let i = delivery.event as usize;
            if self.processed.len() <= i {
                self.processed.grow(i + 1);
            }
            if self.processed.put(i) {
                ctx.state_mut().counters.duplicates += 1;
            } else {
                self.commit_delete(ctx, delivery.customer);
            }
            ctx.send(broker, Msg::Ack(delivery));
        }
        self.release(ctx);
    }

    fn charge_due(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now();
        let table = self.table;
        let Some(b) = self.side_effect.as_mut() else { return };
        let w = ctx.state_mut();
        while let Some(due) = b.due() {
            if due > now {
                break;
            }
            let Some((_, c)) = b.order.next() else { break };
            if w.present(table, c) {
                let double = b.charged.put(c as usize);
                let anomaly = w.told_unsubscribed(c, now);
                let cost = if anomaly { b.cfg.cost_cents } else { 0 };
                let tally = &mut w.side_effects[table.index()];
                tally.actions += 1;
                tally.doubles += u64::from(double);
                tally.after_unsubscribe += u64::from(anomaly);
                tally.cost_cents += cost;
                let counters = &mut w.counters;
                counters.charges += 1;
                counters.double_charges += u64::from(double);
                counters.charges_after_unsubscribe += u64::from(anomaly);
                counters.charged_after_unsubscribe_cents += cost;
            }
            if b.order.advance() {
                b.period += 1;
                b.charged.clear();
            }
        }
        if let Some(next) = b.due() {
            ctx.schedule_at(next, Msg::BillingRun);
        }
    }
}

impl DataService {
    /// A service called `name` owning `table`, with the pattern's hook `source`.
    ///
    /// `shared` holds the common factors of correlated request times
    /// ([`ServiceConfig::time_correlation`]): give every service of a
    /// simulation the same stream.
    pub fn new(name: &str, table: TableId, cfg: ServiceConfig, source: Box<dyn Source>, shared: KeyedDraws) -> Self {
        let name = name.to_string();
        let workers = Workers::new(cfg.workers);
        let core = DataCore {
            table,
            name,
            cfg,
            workers,
            processed: FixedBitSet::new(),
            changes: None,
            log: None,
            fences: Default::default(),
            side_effect: None,
            shared,
        };
        DataService { core, source }
    }

    /// Installs a delete trigger that records every deleted customer in a
    /// change table, which `Op::ReadChanges` reads and `Op::ClearChanges`
    /// trims.
    pub fn with_change_table(mut self) -> Self {
        self.core.changes = Some(Vec::new());
        self
    }

    /// The change table's current length (0 without a trigger).
    pub fn pending_changes(&self) -> usize {
        self.core.pending_changes()
    }

    /// Keeps a commit log of every delete for `retention`, which
    /// `Op::ReadLog` reads (change data capture).
    pub fn with_commit_log(mut self, retention: SimDuration) -> Self {
        self.core.log = Some(CommitLog { retention, first: 0, entries: VecDeque::new() });
        self
    }

    /// Makes this service act on every customer's row once per period (the
    /// book's Billing charge), at offsets drawn uniformly within the period
    /// from `rng`.
    pub fn with_side_effect(mut self, cfg: SideEffectConfig, customers: u32, rng: &mut SimRng) -> Self {
        let order = ChargeOrder::draw(customers, cfg.period, rng);
        self.core.side_effect =
            Some(SideEffectCycle { cfg, order, period: 0, charged: FixedBitSet::with_capacity(customers as usize) });
        self
    }

    /// The worker pool (for Little's-law checks).
    pub fn workers(&self) -> &Workers {
        &self.core.workers
    }

    /// The pattern's hook.
    pub fn source(&self) -> &dyn Source {
        &*self.source
    }

    fn on_done(&mut self, ctx: &mut Ctx<'_>, work: Work) {
        let now = ctx.now();
        let DataService { core, source } = self;
        match work {
            Work::Unsubscribe { req, customer, client } => source.on_unsubscribe(core, ctx, req, customer, client),
            Work::Call { call, op: Op::ReadLog { from, max }, caller, .. } => {
                let msg = if core.fails(ctx) {
                    Msg::Reply { call, ok: false, rows: None }
                } else {
                    let w = ctx.state_mut();
                    w.counters.db_ops += 1;
                    let (first, entries) = match core.log.as_mut() {
                        Some(log) => log.read(now, from, max),
                        None => (from, Arc::from(Vec::new())),
                    };
                    w.counters.rows_scanned += entries.len() as u64;
                    Msg::LogRead { call, first, entries }
                };
                ctx.send(caller, msg);
                core.release(ctx);
            }
            Work::Call { call, op, caller, inline } => {
                let (ok, rows) =
                    if core.fails(ctx) { (false, None) } else { (true, core.apply(ctx.state_mut(), &op, now)) };
                if inline {
                    source.on_inline_reply(core, ctx, call, ok);
                } else {
                    ctx.send(caller, Msg::Reply { call, ok, rows });
                    core.release(ctx);
                }
            }
            Work::Consume { delivery, broker } => core.consume(ctx, delivery, broker),
            Work::Update { customer } => {
                // A profile update writes one row, if the customer still has it.
                if !core.fails(ctx) && ctx.state().present(core.table, customer) {
                    let w = ctx.state_mut();
                    w.counters.db_ops += 1;
                    let update = w.next_update_id();
                    if let Some(log) = core.log.as_mut() {
                        log.append(now, LogRecord { customer, update: Some(update) });
                    }
                    source.on_update(core, ctx, update, customer);
                }
                core.release(ctx);
            }
            Work::Persist { .. } => unexpected(&core.name, &Msg::Done(work)),
        }
    }
}

impl Component<World> for DataService {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        if self.core.side_effect.is_some() {
            self.core.charge_due(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: Msg) {
        let core = &mut self.core;
        match msg {
            Msg::Unsubscribe { req, customer } => core.submit(ctx, Work::Unsubscribe { req, customer, client: from }),
            Msg::Call { call, op } => core.submit(ctx, Work::Call { call, op, caller: from, inline: false }),
            Msg::Deliver(delivery) => core.submit(ctx, Work::Consume { delivery, broker: from }),
            Msg::Update { customer } => core.submit(ctx, Work::Update { customer }),
            Msg::Done(work) => self.on_done(ctx, work),
            Msg::BillingRun => core.charge_due(ctx),
            // Everything else belongs to the pattern's part of the service.
            other => self.source.on_message(core, ctx, from, other),
        }
    }

    fn on_crash(&mut self, at: SimTime, _world: &mut World) {
        self.core.workers.clear(at);
        self.source.on_crash();
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        self.source.on_restart(&mut self.core, ctx);
        if self.core.side_effect.is_some() {
            // The service catches up on the actions it missed while it was down.
            self.core.charge_due(ctx);
        }
    }
}

impl crate::node::Service for DataService {
    fn workers(&self) -> Option<&Workers> {
        Some(&self.core.workers)
    }
}
