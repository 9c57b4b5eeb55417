//! Pattern 3: event-based.
//!
//! The Profile service deletes its row, publishes `CustomerUnsubscribed` to
//! a broker topic and answers the user. Contract and Billing are durable
//! subscribers: the broker persists each event per subscription and
//! delivers it at least once, redelivering on a negative acknowledgement or
//! an acknowledgement timeout, with backoff, up to `max_deliveries`; then
//! the message goes to a dead-letter queue, which an automated repair job
//! retries. What still fails needs manual repair. Consumers are idempotent:
//! they remember applied events and count duplicates.
//!
//! **The dual-write gap.** Without an outbox, the delete commits and the
//! publish follows `publish_gap` later, from process memory. A crash in
//! between (a scheduled crash, or `dual_write_crash_prob` per request)
//! loses the event: Profile says the customer is gone, Contract and Billing
//! never hear of it. With `outbox = true` the event is written in the same
//! transaction as the delete, and a relay re-sends it until the broker
//! confirms, across crashes.
//!
//! Knobs ([`EventConfig`]): `outbox`, `publish_gap`, `dual_write_crash_prob`,
//! `restart_after`, `publish_timeout`, `outbox_poll`; the broker's own
//! knobs are under `services.broker`.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use crate::config::{ConfigError, PatternConfig};

/// Knobs of the event-based pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventConfig {
    /// A name for outputs (default `event_based`).
    pub name: Option<String>,
    /// Write the event to a transactional outbox with the delete.
    pub outbox: bool,
    /// Time between the delete's commit and the publish (no outbox).
    pub publish_gap: SimDuration,
    /// Probability that the Profile process dies inside that gap.
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
        PatternConfig::prob(&format!("{key}.dual_write_crash_prob"), self.dual_write_crash_prob)?;
        if self.publish_timeout.is_zero() {
            return PatternConfig::err(&format!("{key}.publish_timeout"), "must be above zero");
        }
        if self.outbox_poll.is_zero() {
            return PatternConfig::err(&format!("{key}.outbox_poll"), "must be above zero");
        }
        Ok(())
    }
}
