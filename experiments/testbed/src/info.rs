//! A run's parameters and counters (`run.json`): what calibration reads
//! to give ecsim the same workers, rates and timeouts.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The pattern a run exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Pattern {
    /// A periodic job diffs the tables and deletes directly.
    BackgroundSync,
    /// The user waits while an orchestrator calls every service.
    Orchestrated,
    /// Profile publishes; durable subscribers act.
    EventBased,
}

impl Pattern {
    /// Every pattern, in the book's order.
    pub const ALL: [Pattern; 3] = [Pattern::BackgroundSync, Pattern::Orchestrated, Pattern::EventBased];

    /// The name ecsim uses (`kind`).
    pub fn kind(self) -> &'static str {
        match self {
            Pattern::BackgroundSync => "background_sync",
            Pattern::Orchestrated => "orchestrated",
            Pattern::EventBased => "event_based",
        }
    }
}

/// Everything a run is given; written to `run.json` with its counters, so
/// calibration reads the same workers, rates and timeouts the run used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// The pattern.
    pub pattern: Pattern,
    /// Customers at the start.
    pub customers: i32,
    /// Mean unsubscribes per second.
    pub rate_per_s: f64,
    /// How long requests arrive (s).
    pub duration_s: f64,
    /// Seed of the arrivals and the customers' order.
    pub seed: u64,
    /// How long a user waits for an answer (s).
    pub client_timeout_s: f64,
    /// Workers per service.
    pub workers: usize,
    /// The follower tables.
    pub followers: Vec<String>,
    /// Background sync: seconds between runs.
    pub sync_interval_s: f64,
    /// Background sync: rows per delete batch.
    pub batch_size: usize,
    /// Orchestrated: seconds to wait for a reply.
    pub call_timeout_s: f64,
    /// Orchestrated: retries per call.
    pub max_retries: u32,
    /// Orchestrated: first backoff (s).
    pub backoff_s: f64,
    /// Event-based: transactional outbox.
    pub outbox: bool,
    /// Event-based: unacknowledged deliveries per subscriber.
    pub prefetch: u16,
    /// Event-based: deliveries before the dead-letter queue.
    pub max_deliveries: u32,
    /// Event-based: re-send an unconfirmed publish after this long (s).
    pub publish_timeout_s: f64,
    /// The broker's application stopped this many seconds after the load
    /// starts (event-based; none: no outage).
    #[serde(default)]
    pub broker_outage_at_s: Option<f64>,
    /// For this many seconds.
    #[serde(default)]
    pub broker_outage_for_s: f64,
    /// Measured: when the outage's steps began and ended.
    #[serde(default)]
    pub outage: Option<Outage>,
    /// When the load started, on the run's clock (ns).
    #[serde(default)]
    pub load_start_ns: u64,
    /// Measured: network messages sent (ecsim's count).
    #[serde(default)]
    pub messages: u64,
    /// Measured: publishes re-sent.
    #[serde(default)]
    pub publish_retries: u64,
    /// Measured: drain time until converged (s).
    #[serde(default)]
    pub drain_s: f64,
    /// After the drain: customers told "unsubscribed" with a follower row left.
    #[serde(default)]
    pub told_ok_not_converged: u64,
    /// After the drain: customers answered with an error whose rows are not
    /// all back (a failed compensation).
    #[serde(default)]
    pub error_not_restored: u64,
    /// After the drain: messages left in the followers' queues.
    #[serde(default)]
    pub queued_at_end: u64,
    /// After the drain: messages in the dead-letter queue.
    #[serde(default)]
    pub dead_lettered: u64,
}

/// A broker outage as it happened, in seconds from the load's start.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Outage {
    /// `rabbitmqctl stop_app` issued.
    pub stop_begin_s: f64,
    /// It returned: the broker is down.
    pub stop_end_s: f64,
    /// `rabbitmqctl start_app` issued.
    pub start_begin_s: f64,
    /// It returned: the broker is back.
    pub start_end_s: f64,
}

impl RunInfo {
    /// Reads `run.json` from a run's folder.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("run.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a testbed run.json", path.display()))
    }
}
