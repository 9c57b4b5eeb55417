//! Quantiles, as ecsim takes them.

/// The nearest-rank quantile of sorted `xs` (`q` in 0..=1); NaN if empty.
/// ecsim reports its percentiles the same way, so the two sides compare
/// like with like.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sorts a sample (NaN last).
pub fn sorted(mut xs: Vec<f64>) -> Vec<f64> {
    xs.sort_by(f64::total_cmp);
    xs
}

/// A distribution-free confidence interval for the `q`-quantile of the
/// population behind a sorted sample of size n: the order statistics at
/// ranks n q -/+ z sqrt(n q (1 - q)) (normal approximation to the
/// binomial count of samples below the quantile).
pub fn quantile_interval(sorted: &[f64], q: f64, z: f64) -> (f64, f64) {
    let n = sorted.len() as f64;
    if sorted.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let half = z * (n * q * (1.0 - q)).sqrt();
    let lo = ((n * q - half).floor() as isize).clamp(1, sorted.len() as isize) as usize;
    let hi = ((n * q + half).ceil() as isize).clamp(1, sorted.len() as isize) as usize;
    (sorted[lo - 1], sorted[hi - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&xs, 0.5), 2.0);
        assert_eq!(quantile(&xs, 0.51), 3.0);
        assert_eq!(quantile(&xs, 1.0), 4.0);
        assert_eq!(quantile(&xs, 0.0), 1.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn the_median_interval_covers_the_median_and_narrows_with_n() {
        let small: Vec<f64> = (0..100).map(f64::from).collect();
        let large: Vec<f64> = (0..10_000).map(|i| f64::from(i) / 100.0).collect();
        let (a, b) = quantile_interval(&small, 0.5, 1.96);
        assert!(a < 49.5 && 49.5 < b, "{a} {b}");
        let (c, d) = quantile_interval(&large, 0.5, 1.96);
        assert!(c < 50.0 && 50.0 < d);
        assert!((d - c) < (b - a), "wider with more samples: {c}..{d} vs {a}..{b}");
    }
}
