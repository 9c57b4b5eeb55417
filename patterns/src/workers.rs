//! A service's worker pool: thread per request, with a FIFO wait queue.
//!
//! A unit of work holds a worker from the moment it starts until the
//! service calls [`Workers::finish`]. A synchronous chain (an orchestrator
//! waiting on its calls) therefore keeps its worker busy for the whole
//! wait, which is how synchronous chains cost capacity.

use std::collections::VecDeque;

use sim_core::SimTime;

use crate::msg::Work;

/// A pool of identical workers.
#[derive(Debug)]
pub struct Workers {
    capacity: u32,
    busy: u32,
    waiting: VecDeque<(Work, SimTime)>,
    /// Time-weighted number of units in the system (busy + waiting), for Little's law.
    area: u128,
    last: SimTime,
    completed: u64,
}

impl Workers {
    /// A pool of `capacity` workers.
    pub fn new(capacity: u32) -> Self {
        Workers { capacity, busy: 0, waiting: VecDeque::new(), area: 0, last: SimTime::ZERO, completed: 0 }
    }

    fn advance(&mut self, now: SimTime) {
        let n = u128::from(self.busy) + self.waiting.len() as u128;
        self.area += n * u128::from(now.saturating_since(self.last).as_nanos());
        self.last = now;
    }

    /// Offers work. Returns it back if a worker is free to start it now;
    /// otherwise it waits in line.
    pub fn submit(&mut self, work: Work, now: SimTime) -> Option<Work> {
        self.advance(now);
        if self.busy < self.capacity {
            self.busy += 1;
            Some(work)
        } else {
            self.waiting.push_back((work, now));
            None
        }
    }

    /// A worker is done. Returns the next waiting unit, which takes that
    /// worker over, if any.
    pub fn finish(&mut self, now: SimTime) -> Option<Work> {
        self.advance(now);
        self.completed += 1;
        match self.waiting.pop_front() {
            Some((w, _)) => Some(w),
            None => {
                self.busy = self.busy.saturating_sub(1);
                None
            }
        }
    }

    /// Forgets every unit (a crash: threads and in-memory queues are volatile).
    pub fn clear(&mut self, now: SimTime) {
        self.advance(now);
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

    /// Units finished.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Mean number of units in the system from the start to `now`.
    pub fn mean_in_system(&self, now: SimTime) -> f64 {
        let area = self.area
            + (u128::from(self.busy) + self.waiting.len() as u128)
                * u128::from(now.saturating_since(self.last).as_nanos());
        if now == SimTime::ZERO {
            0.0
        } else {
            area as f64 / now.as_nanos() as f64
        }
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
        // 4 in system for 10 ns, then 2 for 10 ns, over 20 ns.
        assert!((w.mean_in_system(t(20)) - 3.0).abs() < 1e-9);
    }
}
