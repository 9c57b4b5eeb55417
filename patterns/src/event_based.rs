//! Pattern 3: event-based.
//!
//! The Profile service deletes its row, publishes `CustomerUnsubscribed` to
//! a broker topic and answers the user. Every follower (the book's Contract
//! and Billing) is a durable subscriber with its own subscription, queue,
//! redelivery and dead-letter entries: the broker persists each event per subscription and
//! delivers it at least once, redelivering on a negative acknowledgement or
//! an acknowledgement timeout, with backoff, up to `max_deliveries`; then
//! the message goes to a dead-letter queue, which an automated repair job
//! retries. What still fails needs manual repair. Consumers are idempotent:
//! they remember applied events and count duplicates.
//!
//! **The dual-write gap.** Without an outbox, the delete commits and the
//! publish follows `publish_gap` later, from process memory. A crash in
//! between (a scheduled crash, or `dual_write_crash_prob` per request)
//! loses the event: Profile says the customer is gone, the followers never
//! hear of it. With `outbox = true` the event is written in the same
//! transaction as the delete, and a relay re-sends it until the broker
//! confirms, across crashes.
//!
//! Knobs ([`EventConfig`]): `outbox`, `publish_gap`, `dual_write_crash_prob`,
//! `restart_after`, `publish_timeout`, `outbox_poll`; the broker's own
//! knobs are under `services.broker`.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sim_core::{NodeId, SimDuration, SimTime, Simulation, TimerId};

use crate::broker::Broker;
use crate::config::{self, ConfigError, Scenario};
use crate::ctx::Ctx;
use crate::id_window::IdWindow;
use crate::msg::{unexpected, CustomerId, Msg, RequestId, UpdateId};
use crate::node::Node;
use crate::plugin::{Env, Pattern};
use crate::service::{DataCore, Source};
use crate::topology::Role;
use crate::world::World;

/// Knobs of the event-based pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct EventConfig {
    /// A name for outputs (default `event_based`).
    pub name: Option<String>,
    /// Write the event to a transactional outbox with the delete.
    pub outbox: bool,
    /// Time between the delete's commit and the publish (no outbox).
    pub publish_gap: SimDuration,
    /// Probability that the Profile process dies inside that gap.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub dual_write_crash_prob: f64,
    /// How long such a crashed Profile process stays down.
    pub restart_after: SimDuration,
    /// Re-send a publish the broker has not confirmed within this time.
    pub publish_timeout: SimDuration,
    /// How often the outbox relay looks for unconfirmed events.
    pub outbox_poll: SimDuration,
}

impl Default for EventConfig {
    fn default() -> Self {
        EventConfig {
            name: None,
            outbox: false,
            publish_gap: SimDuration::from_millis(1),
            dual_write_crash_prob: 0.0,
            restart_after: SimDuration::from_secs(30),
            publish_timeout: SimDuration::from_secs(2),
            outbox_poll: SimDuration::from_millis(500),
        }
    }
}

impl EventConfig {
    pub(crate) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        config::check_prob(&format!("{key}.dual_write_crash_prob"), self.dual_write_crash_prob)?;
        if self.publish_timeout.is_zero() {
            return config::err(&format!("{key}.publish_timeout"), "must be above zero");
        }
        if self.outbox_poll.is_zero() {
            return config::err(&format!("{key}.outbox_poll"), "must be above zero");
        }
        Ok(())
    }
}

/// The Profile's publishing side: delete, publish `CustomerUnsubscribed`,
/// answer, across the dual-write gap or through an outbox.
#[derive(Debug)]
pub struct Publisher {
    cfg: EventConfig,
    broker: NodeId,
    /// Durable: events committed with the delete, not yet confirmed by the
    /// broker, with when each was last sent (`None`: not since the last start).
    outbox: IdWindow<RequestId, (CustomerId, Option<SimTime>)>,
    /// Volatile: publishes sent but not yet confirmed (no outbox).
    unconfirmed: IdWindow<RequestId, (CustomerId, TimerId)>,
    /// Volatile: whether the outbox relay's retry poll is scheduled.
    relay_armed: bool,
}

impl Publisher {
    /// A publisher sending to `broker`.
    pub fn new(cfg: EventConfig, broker: NodeId) -> Self {
        Publisher { cfg, broker, outbox: IdWindow::new(), unconfirmed: IdWindow::new(), relay_armed: false }
    }

    /// Events waiting in the outbox.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    fn publish(&mut self, ctx: &mut Ctx<'_>, event: RequestId, customer: CustomerId) {
        ctx.send(self.broker, Msg::Publish { event, customer });
        let timer = ctx.set_timer(self.cfg.publish_timeout, Msg::PublishRetry { event });
        if let Some((_, old)) = self.unconfirmed.insert(event, (customer, timer)) {
            ctx.cancel_timer(old);
        }
    }

    fn relay(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now();
        self.relay_armed = false;
        let mut resent = 0;
        for (event, (customer, sent)) in self.outbox.iter_mut() {
            // Send what was never sent, and re-send what the broker has
            // not confirmed within the timeout.
            if sent.is_none_or(|t| now.saturating_since(t) >= self.cfg.publish_timeout) {
                resent += u64::from(sent.is_some());
                *sent = Some(now);
                ctx.send(self.broker, Msg::Publish { event, customer: *customer });
            }
        }
        if !self.outbox.is_empty() {
            self.relay_armed = true;
            ctx.schedule_after(self.cfg.outbox_poll, Msg::OutboxPoll);
        }
        ctx.state_mut().counters.publish_retries += resent;
    }
}

impl Source for Publisher {
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
        if self.cfg.outbox {
            // The event is written in the same transaction as the delete.
            self.outbox.insert(req, (customer, None));
        }
        if self.cfg.dual_write_crash_prob > 0.0 && ctx.rng().random_bool(self.cfg.dual_write_crash_prob) {
            // The process dies right after the commit: no publish from
            // memory, no answer. Only an outbox remembers.
            ctx.crash_self(Some(self.cfg.restart_after));
            return;
        }
        if self.cfg.outbox {
            // The relay sends at once and re-sends until confirmed.
            self.outbox.insert(req, (customer, Some(ctx.now())));
            ctx.send(self.broker, Msg::Publish { event: req, customer });
            if !self.relay_armed {
                self.relay_armed = true;
                ctx.schedule_after(self.cfg.outbox_poll, Msg::OutboxPoll);
            }
            svc.finish_request(ctx, client, req, true);
        } else {
            // Committed, not yet published: the dual-write gap.
            ctx.schedule_after(self.cfg.publish_gap, Msg::PublishNow { event: req, customer, client });
        }
    }

    fn on_update(&mut self, _svc: &mut DataCore, ctx: &mut Ctx<'_>, update: UpdateId, customer: CustomerId) {
        // The followers hear of every change; an update carries no
        // consistency promise, so it is sent once, without an outbox.
        ctx.send(self.broker, Msg::PublishUpdate { update, customer });
    }

    fn on_message(&mut self, svc: &mut DataCore, ctx: &mut Ctx<'_>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::UpdateAck { .. } => {}
            Msg::PublishNow { event, customer, client } => {
                self.publish(ctx, event, customer);
                svc.finish_request(ctx, client, event, true);
            }
            Msg::PublishRetry { event } => {
                if let Some(&(customer, _)) = self.unconfirmed.get(event) {
                    ctx.state_mut().counters.publish_retries += 1;
                    self.publish(ctx, event, customer);
                }
            }
            Msg::PublishAck { event } => {
                self.outbox.remove(event);
                if let Some((_, timer)) = self.unconfirmed.remove(event) {
                    ctx.cancel_timer(timer);
                }
            }
            Msg::OutboxPoll => self.relay(ctx),
            other => unexpected("the publishing Profile service", &other),
        }
    }

    fn on_crash(&mut self) {
        self.unconfirmed.clear();
        self.relay_armed = false;
        // Durable outbox rows survive, but whether they were sent is
        // process memory: send them all again after the restart.
        for (_, sent) in self.outbox.values_mut() {
            *sent = None;
        }
    }

    fn on_restart(&mut self, _svc: &mut DataCore, ctx: &mut Ctx<'_>) {
        if !self.outbox.is_empty() {
            self.relay_armed = true;
            ctx.schedule_after(SimDuration::ZERO, Msg::OutboxPoll);
        }
    }
}

impl Pattern for EventConfig {
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "event_based".into())
    }

    fn validate(&self, key: &str, _scenario: &Scenario) -> Result<(), ConfigError> {
        EventConfig::validate(self, key)
    }

    fn source(&self, env: &Env<'_>) -> Box<dyn Source> {
        Box::new(Publisher::new(self.clone(), env.topology.id(Role::Broker)))
    }

    fn component(&self, role: Role, env: &Env<'_>) -> Option<Node> {
        (role == Role::Broker).then(|| crate::broker::for_followers(env))
    }

    /// Customers Profile deleted whose event the broker never persisted.
    fn events_lost(&self, sim: &Simulation<Node, World>) -> u64 {
        Broker::unpublished(sim)
    }
}
