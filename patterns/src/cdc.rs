//! Pattern 4: change data capture.
//!
//! The Profile service deletes its row and answers, as in background
//! sync; nothing else happens in the request. Profile's database keeps a
//! commit log of every delete, for `retention`. A log tailer (a
//! Debezium-style connector, on its own node) reads the log and publishes
//! `CustomerUnsubscribed` for each entry to the broker, whose durable
//! subscriptions deliver it to every follower as in the event-based
//! pattern (redelivery, dead letters, idempotent consumers).
//!
//! There is no dual-write gap by construction: the event *is* the commit,
//! so a Profile crash after its commit loses nothing. The pattern has its
//! own failure modes instead:
//! - **the tailer crashes** and resumes from its last committed offset (it
//!   commits every `offset_commit_interval`), so the events it published
//!   after that offset are published again: the followers see duplicates,
//!   which their idempotency absorbs;
//! - **the tailer stays behind longer than the log's retention** (down, cut
//!   off, or slow): the entries it never read are gone. It notices the gap
//!   on its next read and counts it (`log_entries_lost`); those customers
//!   are deleted at Profile and nowhere else, and `events_lost` counts them.
//!
//! The tailer reads in one of two ways ([`TailMode`]):
//! - `poll`: every `poll_interval` it reads up to `batch_size` entries from
//!   its position, and, while batches come back full, the next one as soon
//!   as the broker has confirmed the last (at most a batch unconfirmed, so
//!   catching up after an outage does not bury the broker);
//! - `stream`: the database ships each commit to the tailer after a
//!   replication lag drawn from `stream_lag`; the tailer still reads every
//!   `poll_interval` to catch up after a gap (a crash, a lost message).
//!
//! Knobs ([`CdcConfig`]): `mode`, `poll_interval`, `stream_lag`,
//! `retention`, `batch_size`, `offset_commit_interval`, `call_timeout`,
//! `publish_timeout`; the broker's own knobs are under `services.broker`.

use serde::{Deserialize, Serialize};
use sim_core::{Component, Dist, NodeId, SimDuration, SimTime, Simulation, TimerId};

use crate::broker::{self, Broker};
use crate::config::{self, ConfigError, Scenario};
use crate::ctx::Ctx;
use crate::id_window::IdWindow;
use crate::msg::{unexpected, CallId, CustomerId, LogRecord, Msg, Op, RequestId, UpdateId};
use crate::node::Node;
use crate::plugin::{Env, Pattern};
use crate::service::{DataCore, Source};
use crate::topology::Role;
use crate::world::World;

/// How the tailer learns of new commits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TailMode {
    /// Read the log every `poll_interval`.
    #[default]
    Poll,
    /// The database ships each commit after a replication lag.
    Stream,
}

/// Knobs of change data capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct CdcConfig {
    /// A name for outputs (default `cdc`).
    pub name: Option<String>,
    /// Polling or streaming.
    pub mode: TailMode,
    /// How often the tailer reads the log (in `stream` mode: how often it
    /// checks for a gap).
    pub poll_interval: SimDuration,
    /// The replication lag of a streamed commit (`stream` mode).
    pub stream_lag: Dist,
    /// How long the log keeps an entry after its commit.
    pub retention: SimDuration,
    /// Entries per read.
    pub batch_size: u32,
    /// How often the tailer records how far it has published (durably).
    pub offset_commit_interval: SimDuration,
    /// Give up on a read that has not answered within this time.
    pub call_timeout: SimDuration,
    /// Re-send a publish the broker has not confirmed within this time.
    pub publish_timeout: SimDuration,
}

impl Default for CdcConfig {
    fn default() -> Self {
        CdcConfig {
            name: None,
            mode: TailMode::Poll,
            poll_interval: SimDuration::from_millis(500),
            stream_lag: Dist::Lognormal { median: SimDuration::from_millis(10), sigma: 0.5 },
            retention: SimDuration::from_hours(24),
            batch_size: 500,
            offset_commit_interval: SimDuration::from_secs(10),
            call_timeout: SimDuration::from_secs(5),
            publish_timeout: SimDuration::from_secs(2),
        }
    }
}

impl CdcConfig {
    pub(crate) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        for (field, d) in [
            ("poll_interval", self.poll_interval),
            ("retention", self.retention),
            ("offset_commit_interval", self.offset_commit_interval),
            ("call_timeout", self.call_timeout),
            ("publish_timeout", self.publish_timeout),
        ] {
            if d.is_zero() {
                return config::err(&format!("{key}.{field}"), "must be above zero");
            }
        }
        if self.batch_size == 0 {
            return config::err(&format!("{key}.batch_size"), "must be at least 1");
        }
        self.stream_lag.validate().map_err(|e| ConfigError { key: format!("{key}.stream_lag"), problem: e.to_string() })
    }
}

/// Profile's side in `stream` mode: after each commit, ship it to the
/// tailer once the replication lag has passed. (In `poll` mode Profile
/// does nothing beyond deleting and answering.)
#[derive(Debug)]
pub struct LogShipper {
    lag: Option<Dist>,
    tailer: NodeId,
}

impl Source for LogShipper {
    fn on_unsubscribe(
        &mut self,
        svc: &mut DataCore,
        ctx: &mut Ctx<'_>,
        req: RequestId,
        customer: CustomerId,
        client: NodeId,
    ) {
        if !svc.delete_for_request(ctx, req, customer, client) {
            return;
        }
        self.ship(svc, ctx);
        svc.finish_request(ctx, client, req, true);
    }

    fn on_update(&mut self, svc: &mut DataCore, ctx: &mut Ctx<'_>, _update: UpdateId, _customer: CustomerId) {
        // Every change is captured, not just deletes.
        self.ship(svc, ctx);
    }

    fn on_message(&mut self, _svc: &mut DataCore, ctx: &mut Ctx<'_>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::ShipLog { lsn, record } => ctx.send(self.tailer, Msg::LogEntry { lsn, record }),
            other => unexpected("the Profile service under change data capture", &other),
        }
    }
}

impl LogShipper {
    /// Streams the commit just made, after the replication lag.
    fn ship(&self, svc: &DataCore, ctx: &mut Ctx<'_>) {
        if let (Some(lag), Some((lsn, record))) = (&self.lag, svc.last_log_entry()) {
            let d = lag.sample(ctx.rng());
            ctx.schedule_after(d, Msg::ShipLog { lsn, record });
        }
    }
}

/// A publish the broker has not confirmed yet.
#[derive(Debug)]
struct Unconfirmed {
    lsn: u64,
    customer: CustomerId,
    timer: TimerId,
}

/// The log tailer's node.
#[derive(Debug)]
pub struct Tailer {
    cfg: CdcConfig,
    source: NodeId,
    broker: NodeId,
    /// Durable: the offset last committed; a restart resumes here.
    committed: u64,
    /// Volatile: the next log sequence number to publish.
    position: u64,
    /// Volatile: the read in flight and its timeout.
    reading: Option<(CallId, TimerId)>,
    next_call: CallId,
    /// Volatile: publishes awaiting the broker's confirmation, by event.
    unconfirmed: IdWindow<RequestId, Unconfirmed>,
    /// Volatile: the last read came back full, so more is waiting; it is
    /// read once the broker has confirmed the batch.
    behind: bool,
}

impl Tailer {
    /// A tailer reading `source`'s log and publishing to `broker`.
    pub fn new(cfg: CdcConfig, source: NodeId, broker: NodeId) -> Self {
        Tailer {
            cfg,
            source,
            broker,
            committed: 0,
            position: 0,
            reading: None,
            next_call: 0,
            unconfirmed: IdWindow::new(),
            behind: false,
        }
    }

    /// The offset a restart would resume from.
    pub fn committed_offset(&self) -> u64 {
        self.committed
    }

    fn read(&mut self, ctx: &mut Ctx<'_>) {
        if self.reading.is_some() {
            return;
        }
        let call = self.next_call;
        self.next_call += 1;
        ctx.send(self.source, Msg::Call { call, op: Op::ReadLog { from: self.position, max: self.cfg.batch_size } });
        let timer = ctx.set_timer(self.cfg.call_timeout, Msg::CallTimeout { call });
        self.reading = Some((call, timer));
    }

    fn publish(&mut self, ctx: &mut Ctx<'_>, lsn: u64, customer: CustomerId) {
        // The event is the customer's unsubscribe, numbered like its request
        // so that the followers' idempotency recognises a re-publish.
        let Some(event) = ctx.state().request_id_of(customer) else { return };
        ctx.send(self.broker, Msg::Publish { event, customer });
        let timer = ctx.set_timer(self.cfg.publish_timeout, Msg::PublishRetry { event });
        if let Some(old) = self.unconfirmed.insert(event, Unconfirmed { lsn, customer, timer }) {
            ctx.cancel_timer(old.timer);
        }
    }

    /// Entries from `first` on arrived: count a gap the retention opened,
    /// then publish each entry not yet published. A delete is published
    /// until the broker confirms it; a profile update is sent once (it
    /// carries no consistency promise).
    fn entries(&mut self, ctx: &mut Ctx<'_>, first: u64, records: &[LogRecord]) {
        if first > self.position {
            ctx.state_mut().counters.log_entries_lost += first - self.position;
            self.position = first;
        }
        for (i, r) in records.iter().enumerate() {
            let lsn = first + i as u64;
            if lsn == self.position {
                match r.update {
                    None => self.publish(ctx, lsn, r.customer),
                    Some(update) => ctx.send(self.broker, Msg::PublishUpdate { update, customer: r.customer }),
                }
                self.position += 1;
            }
        }
    }

    /// The offset it is safe to resume from: the oldest unconfirmed
    /// publish, or everything read.
    fn safe_offset(&self) -> u64 {
        self.unconfirmed.values().map(|u| u.lsn).min().unwrap_or(self.position)
    }

    fn arm(&mut self, ctx: &mut Ctx<'_>) {
        ctx.schedule_after(self.cfg.poll_interval, Msg::TailTick);
        ctx.schedule_after(self.cfg.offset_commit_interval, Msg::OffsetCommit);
    }
}

impl Component<World> for Tailer {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.arm(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::TailTick => {
                ctx.schedule_after(self.cfg.poll_interval, Msg::TailTick);
                if self.unconfirmed.len() < self.cfg.batch_size as usize {
                    self.read(ctx);
                }
            }
            Msg::OffsetCommit => {
                ctx.schedule_after(self.cfg.offset_commit_interval, Msg::OffsetCommit);
                self.committed = self.safe_offset();
            }
            Msg::LogRead { call, first, entries } => {
                let Some((current, timer)) = self.reading else { return };
                if current != call {
                    return; // an answer to a read that timed out
                }
                ctx.cancel_timer(timer);
                self.reading = None;
                self.entries(ctx, first, &entries);
                // More is waiting. Flow control: read it once the broker
                // has confirmed this batch, so that catching up after an
                // outage does not flood the broker into a retry storm.
                self.behind = entries.len() == self.cfg.batch_size as usize;
                if self.behind && self.unconfirmed.is_empty() {
                    self.read(ctx);
                }
            }
            // The read failed: the next tick reads again.
            Msg::Reply { call, .. } | Msg::CallTimeout { call } => {
                if let Some((current, timer)) = self.reading {
                    if current == call {
                        ctx.cancel_timer(timer);
                        self.reading = None;
                    }
                }
            }
            Msg::LogEntry { lsn, record } => {
                if self.reading.is_none() && lsn == self.position {
                    self.entries(ctx, lsn, &[record]);
                } else if lsn > self.position && !self.behind && self.unconfirmed.len() < self.cfg.batch_size as usize {
                    // A gap (an entry shipped while this tailer was down, or
                    // lost on the way): read it from the log, unless a
                    // catch-up is already under way.
                    self.read(ctx);
                }
            }
            Msg::PublishAck { event } => {
                if let Some(u) = self.unconfirmed.remove(event) {
                    ctx.cancel_timer(u.timer);
                }
                if self.behind && self.unconfirmed.is_empty() {
                    self.read(ctx);
                }
            }
            Msg::UpdateAck { .. } => {}
            Msg::PublishRetry { event } => {
                if let Some(u) = self.unconfirmed.remove(event) {
                    ctx.state_mut().counters.publish_retries += 1;
                    self.publish(ctx, u.lsn, u.customer);
                }
            }
            other => unexpected("the log tailer", &other),
        }
    }

    fn on_crash(&mut self, _at: SimTime, _world: &mut World) {
        self.reading = None;
        self.unconfirmed.clear();
        self.behind = false;
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        // Everything after the committed offset is read, and published, again.
        self.position = self.committed;
        self.arm(ctx);
        self.read(ctx);
    }
}

impl crate::node::Service for Tailer {}

impl Pattern for CdcConfig {
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "cdc".into())
    }

    fn validate(&self, key: &str, _scenario: &Scenario) -> Result<(), ConfigError> {
        CdcConfig::validate(self, key)
    }

    fn source(&self, env: &Env<'_>) -> Box<dyn Source> {
        let lag = (self.mode == TailMode::Stream).then(|| self.stream_lag.clone());
        Box::new(LogShipper { lag, tailer: env.topology.id(Role::Tailer) })
    }

    fn commit_log(&self) -> Option<SimDuration> {
        Some(self.retention)
    }

    fn component(&self, role: Role, env: &Env<'_>) -> Option<Node> {
        let t = env.topology;
        match role {
            Role::Broker => Some(broker::for_followers(env)),
            Role::Tailer => Some(Node::new(Tailer::new(self.clone(), t.id(Role::Source), t.id(Role::Broker)))),
            _ => None,
        }
    }

    /// Customers Profile deleted whose event the broker never persisted.
    fn events_lost(&self, sim: &Simulation<Node, World>) -> u64 {
        Broker::unpublished(sim)
    }
}
