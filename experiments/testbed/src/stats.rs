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

/// Ranks 1..=n of `xs` in their order, ties sharing their average rank.
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = average;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation of paired samples (NaN with fewer than 3
/// pairs or a constant side): Pearson's correlation of the ranks.
pub fn spearman(pairs: &[(f64, f64)]) -> f64 {
    if pairs.len() < 3 {
        return f64::NAN;
    }
    let a = ranks(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let b = ranks(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let mean = (pairs.len() as f64 + 1.0) / 2.0;
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        ab += (x - mean) * (y - mean);
        aa += (x - mean).powi(2);
        bb += (y - mean).powi(2);
    }
    ab / (aa * bb).sqrt()
}

/// The correlation of a Gaussian copula whose rank correlation is
/// `spearman`: `2 sin(pi rho_s / 6)` (Pearson, 1907). It is what ecsim's
/// `time_correlation` takes, and ranks see it whatever the marginals are.
pub fn copula_correlation(spearman: f64) -> f64 {
    2.0 * (std::f64::consts::PI * spearman / 6.0).sin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_sees_ranks_only_and_shares_ties() {
        // Any increasing map of one side leaves it at 1; reversing, -1.
        let up: Vec<(f64, f64)> = (1..=50).map(|i| (f64::from(i), f64::from(i).powi(3))).collect();
        assert!((spearman(&up) - 1.0).abs() < 1e-12);
        let down: Vec<(f64, f64)> = up.iter().map(|&(x, y)| (x, -y)).collect();
        assert!((spearman(&down) + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // A textbook case: ranks (1..5) against (2, 1, 4, 3, 5): 1 - 6 * 4 / 120.
        let t = [(1.0, 2.0), (2.0, 1.0), (3.0, 4.0), (4.0, 3.0), (5.0, 5.0)];
        assert!((spearman(&t) - 0.8).abs() < 1e-12);
        assert!(spearman(&t[..2]).is_nan());
        // The copula's correlation inverts the rank correlation of a
        // bivariate normal, (6 / pi) asin(rho / 2); 0 and 1 are fixed points.
        let rank_of = |rho: f64| 6.0 / std::f64::consts::PI * (rho / 2.0).asin();
        for rho in [0.0, 0.3, 0.5, 0.78, 1.0] {
            assert!((copula_correlation(rank_of(rho)) - rho).abs() < 1e-12, "{rho}");
        }
    }

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
