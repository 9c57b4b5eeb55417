//! Faults as data.
//!
//! A [`FaultPlan`] is a serde list of scheduled faults plus random fault
//! rates. A pure compiler turns it into kernel events, which
//! [`Simulation::install_faults`](crate::Simulation::install_faults) schedules ([`Fault`]) that sort like any other event,
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

use crate::net::Partition;
use crate::node::NodeId;
use crate::rng::RngFactory;
use crate::time::{SimDuration, SimTime};

/// One scheduled fault, as written in a config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The node stops: volatile state and timers are lost. A crash while
    /// the node is already down opens a second outage over the first.
    Crash(NodeId),
    /// An outage ends. The node comes back, with its durable state, when
    /// every outage it is in has ended: overlapping crash windows keep it
    /// down for their union.
    Restart(NodeId),
    /// The node freezes for the given span.
    Pause(NodeId, SimDuration),
    /// A pause ends (recorded for the trace; deferred events are already due).
    Resume(NodeId),
    /// A slowdown starts: the node's service times are multiplied by
    /// `percent / 100` while it lasts. Overlapping slowdowns do not add up:
    /// the strongest active one applies.
    SlowStart(NodeId, u32),
    /// The slowdown of `percent` that started earlier ends.
    SlowEnd(NodeId, u32),
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
            Fault::SlowStart(..) => "slow",
            Fault::SlowEnd(..) => "slow_end",
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

/// A fault plan compiled against a simulation's nodes: kernel events in the
/// order they must be scheduled, partitions to register, and the windows
/// to chart.
#[derive(Debug, Default)]
pub(crate) struct CompiledFaults {
    /// Every fault event but the partitions', in plan order.
    pub(crate) events: Vec<(SimTime, Fault)>,
    /// Each partition with its start and end.
    pub(crate) partitions: Vec<(Partition, SimTime, SimTime)>,
    /// What happened where and when, for charts.
    pub(crate) windows: Vec<FaultWindow>,
}

/// Compiles `plan` for the nodes `names` (in id order), drawing random
/// faults up to `horizon` from the stream `"faults/<node>"` of `factory`.
/// A pure function: the same plan, names and seed give the same events.
pub(crate) fn compile(
    plan: &FaultPlan,
    horizon: SimTime,
    names: &[String],
    factory: &RngFactory,
) -> Result<CompiledFaults, FaultError> {
    let known = names.join(", ");
    let lookup = |index: usize, name: &str| {
        names.iter().position(|n| n == name).map(NodeId::from_index).ok_or_else(|| FaultError::UnknownNode {
            index,
            name: name.to_string(),
            known: known.clone(),
        })
    };
    let mut events: Vec<(SimTime, Fault)> = Vec::new();
    let mut windows = Vec::new();
    let mut partitions = Vec::new();
    for (index, spec) in plan.faults.iter().enumerate() {
        match spec {
            FaultSpec::Partition { at, duration, groups, one_way } => {
                let side = |g: &Vec<String>| g.iter().map(|n| lookup(index, n)).collect::<Result<Vec<_>, _>>();
                let (a, b) = match groups.as_slice() {
                    [a] => {
                        let a = side(a)?;
                        let b = (0..names.len() as u32).map(NodeId).filter(|n| !a.contains(n)).collect();
                        (a, b)
                    }
                    [a, b] => (side(a)?, side(b)?),
                    _ => {
                        return Err(FaultError::Invalid {
                            index,
                            problem: "groups must hold one or two lists of node names".into(),
                        })
                    }
                };
                if a.is_empty() || b.is_empty() {
                    return Err(FaultError::Invalid { index, problem: "a partition needs nodes on both sides".into() });
                }
                let target = format!(
                    "{} | {}",
                    groups[0].join(","),
                    groups.get(1).map(|g| g.join(",")).unwrap_or_else(|| "rest".into())
                );
                partitions.push((Partition { a, b, one_way: *one_way }, *at, *at + *duration));
                windows.push(FaultWindow { kind: "partition".into(), target, from: *at, to: Some(*at + *duration) });
            }
            FaultSpec::Crash { node, at, restart_after } => {
                let n = lookup(index, node)?;
                events.push((*at, Fault::Crash(n)));
                let end = restart_after.map(|d| *at + d);
                if let Some(end) = end {
                    events.push((end, Fault::Restart(n)));
                }
                windows.push(FaultWindow { kind: "crash".into(), target: node.clone(), from: *at, to: end });
            }
            FaultSpec::Pause { node, at, duration } => {
                let n = lookup(index, node)?;
                events.push((*at, Fault::Pause(n, *duration)));
                events.push((*at + *duration, Fault::Resume(n)));
                windows.push(FaultWindow {
                    kind: "pause".into(),
                    target: node.clone(),
                    from: *at,
                    to: Some(*at + *duration),
                });
            }
            FaultSpec::Slow { node, at, duration, factor } => {
                let n = lookup(index, node)?;
                if !(factor.is_finite() && *factor >= 1.0 && *factor <= 1e6) {
                    return Err(FaultError::Invalid {
                        index,
                        problem: format!("slow: factor must be between 1 and 1e6, got {factor}"),
                    });
                }
                let pct = (factor * 100.0).round() as u32;
                events.push((*at, Fault::SlowStart(n, pct)));
                events.push((*at + *duration, Fault::SlowEnd(n, pct)));
                windows.push(FaultWindow {
                    kind: "slow".into(),
                    target: node.clone(),
                    from: *at,
                    to: Some(*at + *duration),
                });
            }
            FaultSpec::LatencySpike { node, at, duration, extra } => {
                let n = lookup(index, node)?;
                events.push((*at, Fault::SpikeStart(n, *extra)));
                events.push((*at + *duration, Fault::SpikeEnd(n, *extra)));
                windows.push(FaultWindow {
                    kind: "latency_spike".into(),
                    target: node.clone(),
                    from: *at,
                    to: Some(*at + *duration),
                });
            }
        }
    }
    for (i, rf) in plan.random_faults.iter().enumerate() {
        let index = plan.faults.len() + i;
        let n = lookup(index, rf.node())?;
        let mut rng = factory.stream(&format!("faults/{}", rf.node()));
        let (gap, len, kind) = match rf {
            RandomFault::Crashes { mtbf, mean_downtime, .. } => (*mtbf, *mean_downtime, "crash"),
            RandomFault::Pauses { mean_gap, mean_length, .. } => (*mean_gap, *mean_length, "pause"),
        };
        if gap.is_zero() {
            return Err(FaultError::Invalid {
                index,
                problem: "the mean time between faults must be above zero".into(),
            });
        }
        let mut t = SimTime::ZERO;
        loop {
            t = t.saturating_add(SimDuration::from_secs_f64(gap.as_secs_f64() * crate::draw::exp1(&mut rng)));
            if t >= horizon {
                break;
            }
            let d = SimDuration::from_secs_f64(len.as_secs_f64() * crate::draw::exp1(&mut rng))
                .max(SimDuration::from_nanos(1));
            match rf {
                RandomFault::Crashes { .. } => {
                    events.push((t, Fault::Crash(n)));
                    events.push((t + d, Fault::Restart(n)));
                }
                RandomFault::Pauses { .. } => {
                    events.push((t, Fault::Pause(n, d)));
                    events.push((t + d, Fault::Resume(n)));
                }
            }
            windows.push(FaultWindow { kind: kind.into(), target: rf.node().to_string(), from: t, to: Some(t + d) });
            t += d;
        }
    }
    Ok(CompiledFaults { events, partitions, windows })
}
