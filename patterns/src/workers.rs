//! A service's worker pool: thread per request, with a FIFO wait queue.
//!
//! A unit of work holds a worker from the moment it starts until the
//! service calls [`Workers::finish`]. A synchronous chain (an orchestrator
//! waiting on its calls) therefore keeps its worker busy for the whole
//! wait, which is how synchronous chains cost capacity.

use std::collections::VecDeque;

use sim_core::{SimDuration, SimTime};

use crate::ctx::Ctx;
use crate::msg::{Msg, Work};
use crate::world::TimelineEvent;

/// Starts `work` on a worker of the current node for `d`: records the span on the
/// timeline (when one is kept) and schedules the work's completion.
pub fn begin(ctx: &mut Ctx<'_>, work: Work, d: SimDuration) {
    let start = ctx.now();
    let node = ctx.id();
    ctx.state_mut().log(|| TimelineEvent::Span { node, name: work.label(), customer: work.customer(), start, dur: d });
    ctx.schedule_after(d, Msg::Done(work));
}

/// Time-weighted occupancy of one pool, kept in integer nanoseconds so that
/// Little's law can be checked exactly at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Integral of the number in the system (busy + waiting), ns.
    area: u128,
    last: SimTime,
    in_system: u64,
    /// Units that entered the system.
    pub arrivals: u64,
    /// Units that left it (finished, or lost in a crash).
    pub departures: u64,
    sum_arrival_ns: u128,
    sum_departure_ns: u128,
}

impl QueueStats {
    fn advance(&mut self, now: SimTime) {
        self.area += u128::from(self.in_system) * u128::from(now.saturating_since(self.last).as_nanos());
        self.last = now;
    }

    fn arrive(&mut self, now: SimTime) {
        self.advance(now);
        self.in_system += 1;
        self.arrivals += 1;
        self.sum_arrival_ns += u128::from(now.as_nanos());
    }

    fn depart(&mut self, now: SimTime, n: u64) {
        self.advance(now);
        self.in_system -= n;
        self.departures += n;
        self.sum_departure_ns += u128::from(now.as_nanos()) * u128::from(n);
    }

    /// `(L, lambda, W)` over `[0, end]`: the mean number in the system, the
    /// arrival rate per second and the mean time in the system in seconds,
    /// counting units still inside at `end` up to `end`.
    pub fn little(&self, end: SimTime) -> (f64, f64, f64) {
        let (area, sojourn) = self.integrals(end);
        let t = end.as_secs_f64();
        if self.arrivals == 0 || t == 0.0 {
            return (0.0, 0.0, 0.0);
        }
        (area as f64 / 1e9 / t, self.arrivals as f64 / t, sojourn as f64 / 1e9 / self.arrivals as f64)
    }

    /// The occupancy integral, and the summed time in system of every unit,
    /// both over `[0, end]` in ns. Little's law says they are equal.
    pub fn integrals(&self, end: SimTime) -> (u128, u128) {
        let area = self.area + u128::from(self.in_system) * u128::from(end.saturating_since(self.last).as_nanos());
        let sojourn =
            self.sum_departure_ns + u128::from(self.in_system) * u128::from(end.as_nanos()) - self.sum_arrival_ns;
        (area, sojourn)
    }
}

/// A pool of identical workers.
#[derive(Debug)]
pub struct Workers {
    capacity: u32,
    busy: u32,
    waiting: VecDeque<Work>,
    stats: QueueStats,
}

impl Workers {
    /// A pool of `capacity` workers.
    pub fn new(capacity: u32) -> Self {
        Workers { capacity, busy: 0, waiting: VecDeque::new(), stats: QueueStats::default() }
    }

    /// Offers work. Returns it back if a worker is free to start it now;
    /// otherwise it waits in line.
    pub fn submit(&mut self, work: Work, now: SimTime) -> Option<Work> {
        self.stats.arrive(now);
        if self.busy < self.capacity {
            self.busy += 1;
            Some(work)
        } else {
            self.waiting.push_back(work);
            None
        }
    }

    /// A worker is done. Returns the next waiting unit, which takes that
    /// worker over, if any.
    pub fn finish(&mut self, now: SimTime) -> Option<Work> {
        self.stats.depart(now, 1);
        match self.waiting.pop_front() {
            Some(w) => Some(w),
            None => {
                self.busy = self.busy.saturating_sub(1);
                None
            }
        }
    }

    /// Forgets every unit (a crash: threads and in-memory queues are volatile).
    pub fn clear(&mut self, now: SimTime) {
        let n = u64::from(self.busy) + self.waiting.len() as u64;
        self.stats.depart(now, n);
        self.busy = 0;
        self.waiting.clear();
    }

    /// Busy workers.
    pub fn busy(&self) -> u32 {
        self.busy
    }

    /// Units waiting for a worker.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The occupancy record.
    pub fn stats(&self) -> &QueueStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::NodeId;

    fn work(i: u32) -> Work {
        Work::Unsubscribe { req: i, customer: i, client: NodeId::from_index(0) }
    }

    #[test]
    fn queues_beyond_capacity_and_hands_over_in_order() {
        let t = SimTime::from_nanos;
        let mut w = Workers::new(2);
        assert!(w.submit(work(0), t(0)).is_some());
        assert!(w.submit(work(1), t(0)).is_some());
        assert!(w.submit(work(2), t(0)).is_none());
        assert!(w.submit(work(3), t(0)).is_none());
        assert_eq!((w.busy(), w.waiting()), (2, 2));
        assert_eq!(w.finish(t(10)), Some(work(2)));
        assert_eq!(w.finish(t(10)), Some(work(3)));
        assert_eq!(w.finish(t(20)), None);
        assert_eq!(w.finish(t(20)), None);
        assert_eq!(w.busy(), 0);
        // 4 in system for 10 ns, then 2 for 10 ns: 60 ns of occupancy, and
        // four units that stayed 10, 10, 20 and 20 ns.
        let st = w.stats();
        assert_eq!(st.integrals(t(20)), (60, 60));
        // Over 20 ns: L = 60/20 = 3 in the system, lambda = 4 arrivals per
        // 20 ns, W = 60/4 = 15 ns each.
        let (l, lambda, wait) = st.little(t(20));
        assert!((l - 3.0).abs() < 1e-12 && (lambda - 2e8).abs() < 1e-3 && (wait - 15e-9).abs() < 1e-20);
    }

    #[test]
    fn a_corrupted_occupancy_record_breaks_littles_law() {
        let t = SimTime::from_nanos;
        let mut w = Workers::new(1);
        w.submit(work(0), t(0));
        w.finish(t(10));
        let mut q = w.stats().clone();
        assert_eq!(
            crate::invariants::check(&crate::World::new(1, 3, t(10), t(10)), &Default::default(), [("p", &q)], t(10)),
            vec![]
        );
        // An arrival recorded 3 ns late: the unit's time in system shrinks,
        // the occupancy integral does not.
        q.sum_arrival_ns += 3;
        let v =
            crate::invariants::check(&crate::World::new(1, 3, t(10), t(10)), &Default::default(), [("p", &q)], t(10));
        assert_eq!(v, vec![crate::Violation::LittlesLaw { service: "p".into(), area_ns: 10, sojourn_ns: 7 }]);
        assert_eq!(v[0].promise(), crate::promises::Promise::Accounting);
    }

    #[test]
    fn little_counts_units_still_inside_and_crash_losses() {
        let t = SimTime::from_nanos;
        let mut w = Workers::new(1);
        w.submit(work(0), t(0));
        w.submit(work(1), t(5));
        assert_eq!(w.stats().integrals(t(8)), (8 + 3, 8 + 3));
        w.clear(t(10));
        assert_eq!(w.stats().departures, 2);
        assert_eq!(w.stats().integrals(t(30)), (15, 15));
    }
}
