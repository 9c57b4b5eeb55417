//! A run's sample of durations (response times, lags), in memory that does
//! not grow past a bound.
//!
//! Up to [`EXACT_LIMIT`] values are kept exactly, and the percentiles are
//! the exact nearest-rank ones: every bundled experiment stays within it,
//! so its results do not depend on the streaming estimate. Past the limit
//! the values move into an HDR histogram (the `hdrhistogram` crate) at
//! four significant digits: each quantile is then the top of the bucket
//! holding the exact nearest-rank value, at most 1/16384 (0.006%)
//! above it, and never above the true maximum. The count, the maximum and
//! the mean stay exact (the mean from an integer sum of nanoseconds).

use hdrhistogram::Histogram;
use sim_core::SimDuration;

use serde::{Deserialize, Serialize};

/// Summary statistics of a sample, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Sample size.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// The cumulative probabilities at which a run's distributions are kept
/// ([`RunReport::response_cdf`](crate::RunReport::response_cdf), [`RunReport::lag_cdf`](crate::RunReport::lag_cdf)): every 0.5% from
/// 0.5% to 100%, and every 0.1% in the tail from 99.1% to 99.9%, ascending.
pub fn cdf_probabilities() -> Vec<f64> {
    // In thousandths, so every probability is exact to the last digit.
    let mut k: Vec<u32> = (1..=200).map(|i| 5 * i).chain(991..=999).collect();
    k.sort_unstable();
    k.dedup();
    k.into_iter().map(|k| f64::from(k) / 1000.0).collect()
}

impl Percentiles {
    /// Nearest-rank percentiles of `xs` (sorted in place); all zero if empty.
    pub fn of(xs: &mut [f64]) -> Self {
        if xs.is_empty() {
            return Percentiles::default();
        }
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let rank = |q: f64| xs[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        Percentiles {
            count: n as u64,
            mean: xs.iter().sum::<f64>() / n as f64,
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: xs[n - 1],
        }
    }
}

/// Values kept exactly before the sample turns to a histogram: 8 bytes
/// each, so 8 MiB per sample at most.
pub const EXACT_LIMIT: usize = 1 << 20;

/// Significant decimal digits the histogram keeps: 3 gives buckets at most
/// 1/16384 of their values wide (3 would give 1/1024, under 0.1% but
/// close to it: 0.094% measured on a day-long run).
const SIGNIFICANT_DIGITS: u8 = 4;

/// The largest duration the histogram tells apart (292 years); longer ones
/// count as this.
const HIGHEST_NS: u64 = i64::MAX as u64;

/// Durations, exactly up to a bound and as a histogram past it.
#[derive(Clone, Debug)]
pub struct Samples {
    limit: usize,
    /// In nanoseconds, unsorted; emptied when the histogram takes over.
    exact: Vec<u64>,
    histogram: Option<Histogram<u32>>,
    count: u64,
    sum_ns: u128,
    max_ns: u64,
}

impl Default for Samples {
    fn default() -> Self {
        Samples::with_limit(EXACT_LIMIT)
    }
}

impl Samples {
    /// An empty sample that keeps `limit` values exactly.
    pub fn with_limit(limit: usize) -> Self {
        Samples { limit, exact: Vec::new(), histogram: None, count: 0, sum_ns: 0, max_ns: 0 }
    }

    /// Adds one duration.
    pub fn push(&mut self, d: SimDuration) {
        let ns = d.as_nanos();
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
        if let Some(h) = &mut self.histogram {
            h.saturating_record(ns);
        } else if self.exact.len() < self.limit {
            self.exact.push(ns);
        } else {
            // The full range up front (3.1 MiB of 32-bit counts): the largest
            // value is not known in advance, and a fixed size bounds the
            // memory. A run has fewer than 2^32 requests, so no count overflows.
            let mut h = Histogram::new_with_bounds(1, HIGHEST_NS, SIGNIFICANT_DIGITS).expect("valid bounds");
            for &v in self.exact.iter().chain([&ns]) {
                h.saturating_record(v);
            }
            self.exact = Vec::new();
            self.histogram = Some(h);
        }
    }

    /// The number of values.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the sample is still exact.
    pub fn is_exact(&self) -> bool {
        self.histogram.is_none()
    }

    /// The summary statistics and the quantiles at [`cdf_probabilities`]
    /// (empty without values), in seconds.
    pub fn summarize(&self) -> (Percentiles, Vec<f64>) {
        let secs = |ns: u64| SimDuration::from_nanos(ns).as_secs_f64();
        let Some(h) = &self.histogram else {
            // Exact: sorted nanoseconds map to sorted seconds.
            let mut xs: Vec<u64> = self.exact.clone();
            xs.sort_unstable();
            let mut xs: Vec<f64> = xs.into_iter().map(secs).collect();
            let p = Percentiles::of(&mut xs);
            return (p, quantiles_of_sorted(&xs));
        };
        // One pass over the counts per list of ascending quantiles.
        let at = |qs: Vec<f64>| -> Vec<f64> { h.value_at_quantiles(qs).map(|v| secs(v.min(self.max_ns))).collect() };
        let [p50, p95, p99] = at(vec![0.50, 0.95, 0.99])[..] else { unreachable!("three quantiles asked") };
        let p = Percentiles {
            count: self.count,
            mean: self.sum_ns as f64 / self.count as f64 / 1e9,
            p50,
            p95,
            p99,
            max: secs(self.max_ns),
        };
        (p, at(cdf_probabilities()))
    }
}

/// Nearest-rank quantiles of a sorted sample at [`cdf_probabilities`];
/// empty if the sample is.
pub(crate) fn quantiles_of_sorted(sorted: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    cdf_probabilities().into_iter().map(|q| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(values: &[u64], limit: usize) -> ((Percentiles, Vec<f64>), (Percentiles, Vec<f64>)) {
        let mut exact = Samples::with_limit(usize::MAX);
        let mut streamed = Samples::with_limit(limit);
        for &v in values {
            exact.push(SimDuration::from_nanos(v));
            streamed.push(SimDuration::from_nanos(v));
        }
        assert!(exact.is_exact());
        (exact.summarize(), streamed.summarize())
    }

    proptest! {
        /// Past the limit, every quantile is within 1/16384 above the exact
        /// nearest-rank value (never below it, never above the maximum), and
        /// the count, maximum and mean are exact.
        #[test]
        fn the_histogram_is_within_a_tenth_of_a_percent(
            values in proptest::collection::vec(0u64..(1u64 << 45), 2..2_000),
        ) {
            let ((p, q), (hp, hq)) = both(&values, 1);
            let close = |exact: f64, est: f64| est >= exact && est - exact <= exact / 16384.0 + 1e-18;
            for (e, s) in [(p.p50, hp.p50), (p.p95, hp.p95), (p.p99, hp.p99)].into_iter().chain(q.into_iter().zip(hq)) {
                prop_assert!(close(e, s), "exact {e}, estimate {s}");
            }
            prop_assert_eq!((p.count, p.max), (hp.count, hp.max));
            prop_assert!((p.mean - hp.mean).abs() <= p.mean * 1e-12);
        }
    }

    #[test]
    fn below_the_limit_it_is_exact_nearest_rank() {
        let values: Vec<u64> = (1..=100).rev().map(|s| s * 1_000_000_000).collect();
        let ((p, q), (sp, sq)) = both(&values, 100);
        assert_eq!((p, q.clone()), (sp, sq));
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(q.last(), Some(&100.0));
        assert!(Samples::default().summarize().1.is_empty());
    }
}
