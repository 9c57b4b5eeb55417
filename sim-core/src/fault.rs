//! Faults as data.
//!
//! A [`FaultPlan`] is a serde list of scheduled faults plus random fault
//! rates. [`Simulation::install_faults`](crate::Simulation::install_faults)
//! turns it into kernel events ([`Fault`]) that sort like any other event,
//! and every toggle is counted and traced.
//!
//! ```toml
//! [[faults]]
//! kind = "partition"
//! at = "30m"
//! duration = "10m"
//! groups = [["billing"], ["profile", "contract", "broker"]]
//!
//! [[random_faults]]
//! kind = "crashes"
//! node = "billing"
//! mtbf = "2h"
//! mean_downtime = "1m"
//! ```

use serde::{Deserialize, Serialize};

use crate::time::{SimDuration, SimTime};
use crate::NodeId;

/// One scheduled fault, as written in a config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultSpec {
    /// Cuts the links between the first group and the rest.
    Partition {
        /// When the cut starts.
        at: SimTime,
        /// How long it lasts.
        duration: SimDuration,
        /// Two groups of node names. With one group, the other side is
        /// every node not in it.
        groups: Vec<Vec<String>>,
        /// If true, only messages from the first group to the second are cut.
        #[serde(default)]
        one_way: bool,
    },
    /// Crashes a node: volatile state and pending timers are lost.
    Crash {
        /// The node.
        node: String,
        /// When.
        at: SimTime,
        /// Restart after this long; never restarts if absent.
        #[serde(default)]
        restart_after: Option<SimDuration>,
    },
    /// Freezes a node (a GC pause): events addressed to it wait until the end.
    Pause {
        /// The node.
        node: String,
        /// When.
        at: SimTime,
        /// How long.
        duration: SimDuration,
    },
    /// Degrades a node: its service times are multiplied by `factor`.
    Slow {
        /// The node.
        node: String,
        /// When.
        at: SimTime,
        /// How long.
        duration: SimDuration,
        /// The multiplier on service times, >= 1.
        factor: f64,
    },
    /// Adds latency to every link to or from a node.
    LatencySpike {
        /// The node.
        node: String,
        /// When.
        at: SimTime,
        /// How long.
        duration: SimDuration,
        /// Extra one-way latency.
        extra: SimDuration,
    },
}

/// Faults drawn at random from rates, from the `"faults/<node>"` stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RandomFault {
    /// Crashes with exponential times between failures and exponential downtimes.
    Crashes {
        /// The node.
        node: String,
        /// Mean time between crashes.
        mtbf: SimDuration,
        /// Mean time until restart.
        mean_downtime: SimDuration,
    },
    /// Pauses with exponential gaps and exponential lengths.
    Pauses {
        /// The node.
        node: String,
        /// Mean time between pauses.
        mean_gap: SimDuration,
        /// Mean pause length.
        mean_length: SimDuration,
    },
}

impl RandomFault {
    /// The node this fault hits.
    pub fn node(&self) -> &str {
        match self {
            RandomFault::Crashes { node, .. } | RandomFault::Pauses { node, .. } => node,
        }
    }
}

/// Scheduled and random faults together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Faults at fixed times.
    pub faults: Vec<FaultSpec>,
    /// Faults drawn from rates.
    pub random_faults: Vec<RandomFault>,
}

/// A fault the kernel applies at an instant. Scheduled like any event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The node stops: volatile state and timers are lost.
    Crash(NodeId),
    /// The node comes back with its durable state.
    Restart(NodeId),
    /// The node freezes for the given span.
    Pause(NodeId, SimDuration),
    /// A pause ends (recorded for the trace; deferred events are already due).
    Resume(NodeId),
    /// The node's service times are multiplied by `percent / 100`.
    Slow(NodeId, u32),
    /// Starts the partition registered under this key.
    StartPartition(u32),
    /// Heals the partition registered under this key.
    HealPartition(u32),
    /// Adds latency to every link of the node.
    SpikeStart(NodeId, SimDuration),
    /// Removes that latency again.
    SpikeEnd(NodeId, SimDuration),
}

impl Fault {
    /// A short name for traces and counters.
    pub fn label(&self) -> &'static str {
        match self {
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::Pause(..) => "pause",
            Fault::Resume(_) => "resume",
            Fault::Slow(..) => "slow",
            Fault::StartPartition(_) => "partition",
            Fault::HealPartition(_) => "heal",
            Fault::SpikeStart(..) => "latency_spike",
            Fault::SpikeEnd(..) => "latency_spike_end",
        }
    }
}

/// Why a fault plan cannot be installed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// A fault names a node the simulation does not have.
    #[error("fault {index}: unknown node {name:?} (known: {known})")]
    UnknownNode {
        /// Which fault (0-based, scheduled faults first, then random ones).
        index: usize,
        /// The name.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A parameter is out of range.
    #[error("fault {index}: {problem}")]
    Invalid {
        /// Which fault.
        index: usize,
        /// What is wrong.
        problem: String,
    },
}

/// A fault window for charts: what, where, from when to when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The fault's label.
    pub kind: String,
    /// A description of where (node names).
    pub target: String,
    /// Start.
    pub from: SimTime,
    /// End, or `None` if it never ends.
    pub to: Option<SimTime>,
}
