//! What a testbed run measured, read back from its folder: the user's
//! response times, the consistency lag, messages per request, and the
//! samples calibration needs.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::info::RunInfo;
use crate::record::{read_csv, Call, Deletion, Delivery, Request, SyncPass, Work};
use crate::stats::sorted;

/// One run's records.
#[derive(Debug)]
pub struct Records {
    /// Its parameters and counters.
    pub info: RunInfo,
    /// The user's requests.
    pub requests: Vec<Request>,
    /// Units of work.
    pub work: Vec<Work>,
    /// HTTP calls.
    pub calls: Vec<Call>,
    /// Deletions.
    pub deletions: Vec<Deletion>,
    /// Event deliveries.
    pub deliveries: Vec<Delivery>,
    /// Sync passes.
    pub sync: Vec<SyncPass>,
}

impl Records {
    /// Reads the folder a run wrote.
    pub fn read(dir: &Path) -> Result<Self> {
        Ok(Self {
            info: RunInfo::read(dir)?,
            requests: read_csv(&dir.join("requests.csv"))?,
            work: read_csv(&dir.join("work.csv"))?,
            calls: read_csv(&dir.join("calls.csv"))?,
            deletions: read_csv(&dir.join("deletions.csv"))?,
            deliveries: read_csv(&dir.join("deliveries.csv"))?,
            sync: read_csv(&dir.join("sync.csv"))?,
        })
    }

    /// Response times of the requests answered OK (s), sorted.
    pub fn response(&self) -> Vec<f64> {
        sorted(
            self.requests
                .iter()
                .filter(|r| r.outcome == "ok")
                .map(|r| secs(r.answered_ns.saturating_sub(r.sent_ns)))
                .collect(),
        )
    }

    /// Each follower table's first deletion of each customer (ns).
    fn follower_deletions(&self) -> BTreeMap<i32, Vec<u64>> {
        let mut by: BTreeMap<i32, BTreeMap<&str, u64>> = BTreeMap::new();
        for d in self.deletions.iter().filter(|d| d.table != "profile") {
            let e = by.entry(d.customer).or_default().entry(d.table.as_str()).or_insert(d.at_ns);
            *e = (*e).min(d.at_ns);
        }
        by.into_iter().map(|(c, m)| (c, m.into_values().collect())).collect()
    }

    /// The lag of every customer told "unsubscribed" whose follower rows
    /// all went (s), sorted, and how many such customers still had a row:
    /// ecsim's `lag = max(0, last follower deletion - answer)`.
    pub fn lag(&self) -> (Vec<f64>, usize) {
        let followers = self.info.followers.len();
        let dels = self.follower_deletions();
        let mut lag = Vec::new();
        let mut not_converged = 0;
        for r in self.requests.iter().filter(|r| r.outcome == "ok") {
            match dels.get(&r.customer) {
                Some(ts) if ts.len() == followers => {
                    let last = ts.iter().copied().max().unwrap_or(0);
                    lag.push(secs(last.saturating_sub(r.answered_ns)));
                }
                _ => not_converged += 1,
            }
        }
        (sorted(lag), not_converged)
    }

    /// Network messages per request, counted as ecsim counts them.
    pub fn messages_per_request(&self) -> f64 {
        self.info.messages as f64 / self.requests.len().max(1) as f64
    }

    /// Service times (s) of `service`'s units of work doing `op`: from a
    /// worker taking it to its end, less the time spent waiting on others.
    pub fn service_times(&self, service: &str, op: &str) -> Vec<f64> {
        sorted(
            self.work
                .iter()
                .filter(|w| w.service == service && w.op == op)
                .map(|w| secs(w.end_ns.saturating_sub(w.start_ns).saturating_sub(w.waited_ns)))
                .collect(),
        )
    }

    /// Round trips (s) of the answered calls `caller` made to `callee`:
    /// from sending the call to reading the reply.
    pub fn round_trips(&self, caller: &str, callee: &str) -> Vec<f64> {
        sorted(
            self.calls
                .iter()
                .filter(|c| c.caller == caller && c.callee == callee && c.replied_ns > 0)
                .map(|c| secs(c.replied_ns.saturating_sub(c.sent_ns)))
                .collect(),
        )
    }

    /// Round trips (s) of `caller`'s calls to `a` and to `b` for the same
    /// customer, paired: each customer's first answered call to each.
    pub fn paired_round_trips(&self, caller: &str, a: &str, b: &str) -> Vec<(f64, f64)> {
        let first = |callee: &str| {
            first_per_customer(
                self.calls
                    .iter()
                    .filter(|c| c.caller == caller && c.callee == callee && c.replied_ns > 0)
                    .map(|c| (c.customer, c.sent_ns, secs(c.replied_ns.saturating_sub(c.sent_ns)))),
            )
        };
        pair(&first(a), &first(b))
    }

    /// The times (s) of two steps of the same customer's unsubscribe,
    /// paired by customer: each customer's first such step at each (a
    /// redelivery or a retry is a unit of its own, left out).
    pub fn paired_steps(&self, a: Step<'_>, b: Step<'_>) -> Vec<(f64, f64)> {
        pair(&self.first_step(a), &self.first_step(b))
    }

    /// Each customer's first `step`: (when it began, its time in s).
    fn first_step(&self, step: Step<'_>) -> BTreeMap<i32, (u64, f64)> {
        match step {
            Step::Work { service, op } => {
                first_per_customer(self.work.iter().filter(|w| w.service == service && w.op == op).map(|w| {
                    (w.customer, w.start_ns, secs(w.end_ns.saturating_sub(w.start_ns).saturating_sub(w.waited_ns)))
                }))
            }
            // The first delivery of each customer's event, as the model's
            // one persist that every subscription then delivers.
            Step::Transit => first_per_customer(
                self.transits()
                    .map(|d| (d.customer, d.delivered_ns, secs(d.delivered_ns.saturating_sub(d.published_ns)))),
            ),
        }
    }

    /// The time spent waiting on others in `service`'s `op` (s): Profile's
    /// publish after its commit.
    pub fn waited(&self, service: &str, op: &str) -> Vec<f64> {
        sorted(self.work.iter().filter(|w| w.service == service && w.op == op).map(|w| secs(w.waited_ns)).collect())
    }

    /// The user's two hops (s) around `service`'s `op` (its entry: Profile's
    /// `unsubscribe`, the orchestrator's `saga`), each direction on its
    /// own: request sent to the unit of work's arrival, and the unit's end
    /// to the answer. Half a round trip each would be wrong: on the
    /// testbed the way there takes about twice the way back (HTTP parsing
    /// and the connection's wake-up on one side, a small reply on the
    /// other), and the event-based lag counts from the answer. Answered
    /// requests only, each with its customer's first such unit of work.
    pub fn user_hops(&self, service: &str, op: &str) -> (Vec<f64>, Vec<f64>) {
        let mut first: BTreeMap<i32, &Work> = BTreeMap::new();
        for w in self.work.iter().filter(|w| w.service == service && w.op == op) {
            let e = first.entry(w.customer).or_insert(w);
            if w.arrived_ns < e.arrived_ns {
                *e = w;
            }
        }
        let (mut to, mut back) = (Vec::new(), Vec::new());
        for r in self.requests.iter().filter(|r| r.outcome == "ok") {
            if let Some(w) = first.get(&r.customer) {
                to.push(secs(w.arrived_ns.saturating_sub(r.sent_ns)));
                back.push(secs(r.answered_ns.saturating_sub(w.end_ns)));
            }
        }
        (sorted(to), sorted(back))
    }

    /// One-way network latency samples (s): each answered call's round trip
    /// less the callee's own time, halved.
    pub fn hop_latency(&self) -> Vec<f64> {
        self.hop_latency_from(None)
    }

    /// [`Records::hop_latency`] of the calls `caller` made only, or of
    /// every call.
    pub fn hop_latency_from(&self, caller: Option<&str>) -> Vec<f64> {
        sorted(
            self.calls
                .iter()
                .filter(|c| c.replied_ns > 0 && c.server_ns > 0 && caller.is_none_or(|x| c.caller == x))
                .map(|c| secs(c.replied_ns.saturating_sub(c.sent_ns).saturating_sub(c.server_ns)) / 2.0)
                .collect(),
        )
    }

    /// Publish to delivery (s): the broker's persist and both hops. Events
    /// in flight across a broker outage are left out: their wait is the
    /// outage's, which ecsim models as the fault itself.
    pub fn broker_transit(&self) -> Vec<f64> {
        sorted(self.transits().map(|d| secs(d.delivered_ns.saturating_sub(d.published_ns))).collect())
    }

    /// The deliveries [`Records::broker_transit`] measures: first
    /// deliveries, none across a broker outage.
    fn transits(&self) -> impl Iterator<Item = &Delivery> {
        let window = self.info.outage.map(|o| {
            let at = |s: f64| self.info.load_start_ns + (s * 1e9) as u64;
            (at(o.stop_begin_s), at(o.start_end_s))
        });
        self.deliveries
            .iter()
            .filter(|d| !d.redelivered)
            .filter(move |d| window.is_none_or(|(down, up)| d.delivered_ns < down || d.published_ns > up))
    }
}

/// One measured step of an unsubscribe ([`Records::paired_steps`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// `service`'s unit of work doing `op`: its service time, less the
    /// time spent waiting on others.
    Work {
        /// The service.
        service: &'a str,
        /// Its operation (`unsubscribe`, `deliver`).
        op: &'a str,
    },
    /// The broker: publish to the event's first delivery.
    Transit,
}

/// Each customer's value of its earliest `(customer, start, value)`.
fn first_per_customer(items: impl Iterator<Item = (i32, u64, f64)>) -> BTreeMap<i32, (u64, f64)> {
    let mut first = BTreeMap::new();
    for (customer, start, value) in items {
        let e = first.entry(customer).or_insert((start, value));
        if start < e.0 {
            *e = (start, value);
        }
    }
    first
}

/// The values of the customers in both, paired, in customer order.
fn pair(x: &BTreeMap<i32, (u64, f64)>, y: &BTreeMap<i32, (u64, f64)>) -> Vec<(f64, f64)> {
    x.iter().filter_map(|(c, &(_, a))| y.get(c).map(|&(_, b)| (a, b))).collect()
}

/// Nanoseconds as seconds.
pub fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_pair_by_customer_taking_each_customers_first() {
        // Customer 1's redelivery (start 50) comes before its first
        // delivery in the file; the first by start time counts.
        let a = first_per_customer([(1, 90, 1.0), (2, 10, 2.0), (1, 50, 3.0), (3, 5, 4.0)].into_iter());
        let b = first_per_customer([(2, 12, 20.0), (1, 55, 30.0), (4, 1, 40.0)].into_iter());
        // Customers 3 and 4 were seen by one step only: not paired.
        assert_eq!(pair(&a, &b), vec![(3.0, 30.0), (2.0, 20.0)]);
    }
}
