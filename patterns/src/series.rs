//! The inconsistency time series, kept on a fixed grid as the run goes, so
//! that it takes the same memory in a 30-day run as in a 1-hour one.
//!
//! The grid has [`SERIES_STEPS`] steps over the run's horizon. The point at
//! each grid time is the most customers inconsistent at any instant of the
//! step that ends there (the value at time 0 for the first), so a peak
//! shorter than a step (a 1-minute sync's saw tooth in a day-long run)
//! still shows, where sampling the value at each grid time would alias it.
//!
//! Only the value an instant ends with counts: several changes at one
//! virtual instant (a customer inconsistent and consistent again within one
//! handler's batch) are one change, as a viewer of the tables would see.

use sim_core::SimTime;

/// Steps of the grid over the run: a series has `SERIES_STEPS + 1` points.
pub const SERIES_STEPS: u64 = 600;

/// One grid step's changes.
#[derive(Clone, Copy, Debug, Default)]
struct Step {
    /// The largest value set in the step (0 when none was).
    peak: u32,
    /// The value the step ended with, if any was set in it.
    last: Option<u32>,
}

/// The `(time, inconsistent customers)` series of one run, on its grid.
#[derive(Clone, Debug)]
pub struct Series {
    /// Nanoseconds per grid step.
    step: u64,
    /// Step `k` holds the changes in `((k - 1) step, k step]` (step 0: at time 0).
    steps: Vec<Step>,
    /// The latest change: it stands until the clock moves on.
    pending: (SimTime, u32),
}

impl Series {
    /// An empty series (0 inconsistent at time 0) on the grid over `horizon`.
    pub fn new(horizon: SimTime) -> Self {
        Series {
            step: (horizon.as_nanos() / SERIES_STEPS).max(1),
            steps: vec![Step::default(); SERIES_STEPS as usize + 1],
            pending: (SimTime::ZERO, 0),
        }
    }

    /// The value is `value` from `now` on. `now` never decreases.
    pub fn set(&mut self, now: SimTime, value: u32) {
        if self.pending.0 != now {
            let done = std::mem::replace(&mut self.pending, (now, value));
            self.commit(done);
        } else {
            self.pending.1 = value;
        }
    }

    fn commit(&mut self, (t, value): (SimTime, u32)) {
        // Changes after the last grid time are past the run's end.
        if let Some(s) = self.steps.get_mut(t.as_nanos().div_ceil(self.step) as usize) {
            s.peak = s.peak.max(value);
            s.last = Some(value);
        }
    }

    /// The grid points: at each grid time, the largest value in force at
    /// any instant of the step that ends there.
    pub fn points(&self) -> Vec<(SimTime, u32)> {
        let mut all = self.clone();
        all.commit(all.pending);
        let mut out = Vec::with_capacity(all.steps.len());
        // The value in force as each step begins.
        let mut carry = 0;
        for (k, s) in all.steps.iter().enumerate() {
            out.push((SimTime::from_nanos(k as u64 * all.step), carry.max(s.peak)));
            carry = s.last.unwrap_or(carry);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, on the full list of changes: what the runner did
    /// before the series was binned as it went.
    fn resample(changes: &[(SimTime, u32)], horizon: SimTime) -> Vec<(SimTime, u32)> {
        let step = (horizon.as_nanos() / SERIES_STEPS).max(1);
        let mut i = 0;
        let mut out = Vec::new();
        for k in 0..=SERIES_STEPS {
            let t = SimTime::from_nanos(k * step);
            let mut peak = changes.get(i).map_or(0, |p| p.1);
            while i + 1 < changes.len() && changes[i + 1].0 <= t {
                i += 1;
                peak = peak.max(changes[i].1);
            }
            out.push((t, peak));
        }
        out
    }

    proptest! {
        /// Binning as the run goes gives exactly the resampled full list,
        /// with same-instant changes collapsed to the last.
        #[test]
        fn matches_the_resampled_list(
            horizon in 1u64..5_000,
            gaps in proptest::collection::vec((0u64..40, 0u32..50), 0..300),
        ) {
            let horizon = SimTime::from_nanos(horizon);
            let mut s = Series::new(horizon);
            let mut list = vec![(SimTime::ZERO, 0)];
            let mut now = 0;
            for (gap, v) in gaps {
                now += gap;
                let t = SimTime::from_nanos(now);
                s.set(t, v);
                match list.last_mut() {
                    Some(last) if last.0 == t => last.1 = v,
                    _ => list.push((t, v)),
                }
            }
            prop_assert_eq!(s.points(), resample(&list, horizon));
        }
    }

    #[test]
    fn a_short_peak_shows_on_a_coarse_grid() {
        let mut s = Series::new(SimTime::from_nanos(600));
        s.set(SimTime::from_nanos(3), 7);
        s.set(SimTime::from_nanos(4), 0);
        let p = s.points();
        assert_eq!(p.len(), 601);
        assert_eq!(&p[..6], &[0, 1, 2, 3, 4, 5].map(|t| (SimTime::from_nanos(t), [0, 0, 0, 7, 7, 0][t as usize])));
    }
}
