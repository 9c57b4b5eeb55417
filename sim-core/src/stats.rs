//! Counters the kernel keeps for every run.

use serde::Serialize;

use crate::net::DropReason;

/// Kernel counters: messages, timers and faults.
///
/// Invariant, checked by [`Stats::messages_balance`]: every message sent
/// over the network (plus every duplicate the network made) is delivered,
/// dropped, or still in flight.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Stats {
    /// Events processed.
    pub events: u64,
    /// Messages handed to the network (self-sends excluded).
    pub messages_sent: u64,
    /// Messages delivered to a live node.
    pub messages_delivered: u64,
    /// Extra copies the network made.
    pub messages_duplicated: u64,
    /// Messages dropped because a partition cut the link.
    pub dropped_partition: u64,
    /// Messages lost by the link.
    pub dropped_loss: u64,
    /// Messages that reached a crashed node.
    pub dropped_node_down: u64,
    /// Messages (and copies) on the wire now.
    pub in_flight: u64,
    /// Cancellable timers set.
    pub timers_set: u64,
    /// Timers cancelled before they fired.
    pub timers_cancelled: u64,
    /// Timers that died with their node's crash.
    pub timers_lost_to_crash: u64,
    /// Events held back by a pause.
    pub deferred_by_pause: u64,
    /// Crashes.
    pub crashes: u64,
    /// Restarts.
    pub restarts: u64,
    /// Pauses.
    pub pauses: u64,
    /// Slowdowns started.
    pub slowdowns: u64,
    /// Partitions started.
    pub partitions_started: u64,
    /// Partitions healed.
    pub partitions_healed: u64,
    /// Latency spikes started.
    pub latency_spikes: u64,
}

impl Stats {
    #[inline]
    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        match reason {
            DropReason::Partition => self.dropped_partition += 1,
            DropReason::Loss => self.dropped_loss += 1,
            DropReason::NodeDown => self.dropped_node_down += 1,
        }
    }

    /// All dropped messages.
    pub fn dropped(&self) -> u64 {
        self.dropped_partition + self.dropped_loss + self.dropped_node_down
    }

    /// Whether sent + duplicated == delivered + dropped + in flight.
    pub fn messages_balance(&self) -> bool {
        self.messages_sent + self.messages_duplicated == self.messages_delivered + self.dropped() + self.in_flight
    }
}
