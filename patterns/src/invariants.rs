//! The end-of-run invariants: what must hold after any run, whatever the
//! faults. A broken one is a typed [`Violation`], mapped to the promise it
//! breaks.

use std::fmt;

use serde::{Deserialize, Serialize};
use sim_core::{SimTime, Stats};

use crate::workers::QueueStats;
use crate::world::World;

/// A promise of every pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Promise {
    /// No customer who did not unsubscribe lost a row.
    NoDataLoss,
    /// Every customer who unsubscribed is consistently gone, consistently
    /// restored by compensation, or counted as needing manual repair.
    Convergence,
    /// Every request is answered, failed or timed out, and every message is
    /// delivered, dropped or in flight.
    Accounting,
    /// No customer is charged twice for one period.
    NoDoubleHandling,
}

impl Promise {
    /// Every promise.
    pub const ALL: [Promise; 4] =
        [Promise::NoDataLoss, Promise::Convergence, Promise::Accounting, Promise::NoDoubleHandling];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Promise::NoDataLoss => "no_data_loss",
            Promise::Convergence => "convergence",
            Promise::Accounting => "accounting",
            Promise::NoDoubleHandling => "no_double_handling",
        }
    }
}

/// A broken end-of-run invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Violation {
    /// Network messages that are neither delivered, dropped nor in flight.
    MessagesUnaccounted {
        /// Sent.
        sent: u64,
        /// Duplicated by the network.
        duplicated: u64,
        /// Delivered.
        delivered: u64,
        /// Dropped.
        dropped: u64,
        /// Still in flight.
        in_flight: u64,
    },
    /// Customers who never unsubscribed lost a row.
    DataLoss {
        /// How many.
        customers: u64,
        /// The first few.
        examples: Vec<u32>,
    },
    /// A worker pool's occupancy integral differs from its units' summed
    /// time in the system.
    LittlesLaw {
        /// The service.
        service: String,
        /// The occupancy integral, ns.
        area_ns: u128,
        /// The summed time in the system, ns.
        sojourn_ns: u128,
    },
    /// Changes reached requests already retired
    /// ([`workload.retire_after`](crate::config::WorkloadConfig::retire_after)):
    /// the run's totals may miss them.
    RetiredTooEarly {
        /// How many changes.
        touches: u64,
    },
}

impl Violation {
    /// The promise this breaks.
    pub fn promise(&self) -> Promise {
        match self {
            Violation::MessagesUnaccounted { .. }
            | Violation::LittlesLaw { .. }
            | Violation::RetiredTooEarly { .. } => Promise::Accounting,
            Violation::DataLoss { .. } => Promise::NoDataLoss,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::MessagesUnaccounted { sent, duplicated, delivered, dropped, in_flight } => write!(
                f,
                "messages unaccounted: sent {sent} + duplicated {duplicated} != delivered {delivered} + dropped {dropped} + in flight {in_flight}"
            ),
            Violation::DataLoss { customers, examples } => {
                write!(f, "data loss: {customers} customers who never unsubscribed lost rows, e.g. {examples:?}")
            }
            Violation::LittlesLaw { service, area_ns, sojourn_ns } => write!(
                f,
                "Little's law broken at {service}: occupancy integral {area_ns} ns != summed time in system {sojourn_ns} ns"
            ),
            Violation::RetiredTooEarly { touches } => write!(
                f,
                "{touches} changes reached requests already retired (workload.retire_after): the totals may miss them; lengthen the window"
            ),
        }
    }
}

/// Customers who never unsubscribed but lost a row.
pub fn lost_customers(w: &World) -> Vec<u32> {
    (0..w.customers()).filter(|&c| !w.has_requested(c) && w.any_absent(c)).collect()
}

/// Checks every invariant of a finished run. `pools` are the worker pools
/// by service, `end` the instant the run stopped.
pub fn check<'a>(
    w: &World,
    stats: &Stats,
    pools: impl IntoIterator<Item = (&'a str, &'a QueueStats)>,
    end: SimTime,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if !stats.messages_balance() {
        out.push(Violation::MessagesUnaccounted {
            sent: stats.messages_sent,
            duplicated: stats.messages_duplicated,
            delivered: stats.messages_delivered,
            dropped: stats.dropped(),
            in_flight: stats.in_flight,
        });
    }
    let lost = lost_customers(w);
    if !lost.is_empty() {
        out.push(Violation::DataLoss { customers: lost.len() as u64, examples: lost[..lost.len().min(5)].to_vec() });
    }
    if w.retired_touches() > 0 {
        out.push(Violation::RetiredTooEarly { touches: w.retired_touches() });
    }
    for (service, q) in pools {
        let (area_ns, sojourn_ns) = q.integrals(end);
        if area_ns != sojourn_ns {
            out.push(Violation::LittlesLaw { service: service.to_string(), area_ns, sojourn_ns });
        }
    }
    out
}
