//! Distributions of latencies and service times.
//!
//! A [`Dist`] is plain data (serde, TOML) and samples a [`SimDuration`]
//! from the portable variates of [`crate::draw`], so the same seed gives the
//! same durations on every platform. Parameters are durations in the human form, e.g.
//!
//! ```toml
//! latency = { kind = "lognormal", median = "2ms", sigma = 0.5 }
//! ```
//!
//! Samples are rounded to whole nanoseconds and never negative.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::draw;
use crate::time::SimDuration;

/// A distribution of non-negative durations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Dist {
    /// Always `value`.
    Constant {
        /// The value.
        value: SimDuration,
    },
    /// Uniform on `[low, high]`.
    Uniform {
        /// Lower bound.
        low: SimDuration,
        /// Upper bound.
        high: SimDuration,
    },
    /// Exponential with the given mean.
    Exponential {
        /// The mean.
        mean: SimDuration,
    },
    /// Normal, truncated at zero by resampling (not by clamping, which
    /// would pile mass on zero).
    Normal {
        /// Mean of the untruncated normal.
        mean: SimDuration,
        /// Standard deviation of the untruncated normal.
        std_dev: SimDuration,
    },
    /// Log-normal: `median * exp(sigma * Z)`.
    Lognormal {
        /// The median (`exp(mu)`).
        median: SimDuration,
        /// The shape, sigma of the underlying normal.
        sigma: f64,
    },
    /// Pareto (heavy tail) with minimum `scale` and tail index `shape`.
    Pareto {
        /// The minimum value.
        scale: SimDuration,
        /// The tail index alpha; the mean is finite for alpha > 1.
        shape: f64,
    },
    /// Piecewise-linear inverse CDF through measured percentiles, e.g.
    /// `points = [[0.0, "1ms"], [0.5, "2ms"], [0.99, "20ms"], [1.0, "50ms"]]`.
    Empirical {
        /// `(quantile, value)` pairs, quantiles rising from 0 to 1.
        points: Vec<(f64, SimDuration)>,
    },
}

/// Why a distribution's parameters are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// A parameter is out of its domain.
    #[error("{0}")]
    Invalid(String),
}

impl Default for Dist {
    fn default() -> Self {
        Dist::Constant { value: SimDuration::ZERO }
    }
}

impl Dist {
    /// A constant distribution.
    pub const fn constant(value: SimDuration) -> Self {
        Dist::Constant { value }
    }

    /// An exponential distribution with the given mean.
    pub const fn exponential(mean: SimDuration) -> Self {
        Dist::Exponential { mean }
    }

    /// Checks the parameters, so that sampling can never fail later.
    pub fn validate(&self) -> Result<(), DistError> {
        let bad = |m: &str| Err(DistError::Invalid(m.to_string()));
        match self {
            Dist::Uniform { low, high } if low > high => bad("uniform: low is above high"),
            Dist::Lognormal { sigma, .. } if !(sigma.is_finite() && *sigma >= 0.0) => {
                bad("lognormal: sigma must be a finite number >= 0")
            }
            Dist::Pareto { shape, .. } if !(shape.is_finite() && *shape > 0.0) => {
                bad("pareto: shape must be a finite number > 0")
            }
            Dist::Pareto { scale, .. } if scale.is_zero() => bad("pareto: scale must be above zero"),
            Dist::Empirical { points } => {
                if points.len() < 2 {
                    return bad("empirical: give at least two (quantile, value) points");
                }
                if points.first().map(|p| p.0) != Some(0.0) || points.last().map(|p| p.0) != Some(1.0) {
                    return bad("empirical: quantiles must start at 0.0 and end at 1.0");
                }
                if points.windows(2).any(|w| w[0].0 >= w[1].0 || w[0].1 > w[1].1) {
                    return bad("empirical: quantiles must rise strictly and values must not fall");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The analytic mean in seconds, where it is finite.
    pub fn mean_secs(&self) -> Option<f64> {
        Some(match self {
            Dist::Constant { value } => value.as_secs_f64(),
            Dist::Uniform { low, high } => (low.as_secs_f64() + high.as_secs_f64()) / 2.0,
            Dist::Exponential { mean } => mean.as_secs_f64(),
            Dist::Normal { .. } => return None,
            Dist::Lognormal { median, sigma } => median.as_secs_f64() * draw::exp(sigma * sigma / 2.0),
            Dist::Pareto { scale, shape } if *shape > 1.0 => shape * scale.as_secs_f64() / (shape - 1.0),
            Dist::Pareto { .. } => return None,
            Dist::Empirical { points } => {
                points.windows(2).map(|w| (w[1].0 - w[0].0) * (w[0].1.as_secs_f64() + w[1].1.as_secs_f64()) / 2.0).sum()
            }
        })
    }

    /// Draws one duration.
    ///
    /// ```
    /// use sim_core::{Dist, RngFactory, SimDuration};
    /// let d = Dist::exponential(SimDuration::from_millis(10));
    /// let mut rng = RngFactory::new(1).stream("example");
    /// let x = d.sample(&mut rng);
    /// assert!(x < SimDuration::from_secs(10));
    /// ```
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        match self {
            Dist::Constant { value } => *value,
            _ => SimDuration::from_secs_f64(self.sample_secs(rng)),
        }
    }

    /// Draws one value in seconds (for statistics and tests).
    pub fn sample_secs<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Dist::Constant { value } => value.as_secs_f64(),
            Dist::Uniform { low, high } => {
                let (l, h) = (low.as_secs_f64(), high.as_secs_f64());
                if l == h {
                    l
                } else {
                    rng.random_range(l..=h)
                }
            }
            Dist::Exponential { mean } => mean.as_secs_f64() * draw::exp1(rng),
            Dist::Normal { mean, std_dev } => {
                let (m, sd) = (mean.as_secs_f64(), std_dev.as_secs_f64());
                // Resampling keeps the shape of the truncated normal; the
                // bound stops a pathological (mean << 0) setting from spinning.
                for _ in 0..1000 {
                    let x = m + sd * draw::std_normal(rng);
                    if x >= 0.0 {
                        return x;
                    }
                }
                0.0
            }
            // median * e^(sigma Z): no ln of the median needed.
            Dist::Lognormal { median, sigma } => median.as_secs_f64() * draw::exp(sigma * draw::std_normal(rng)),
            // Inversion, (1 - U)^(-1/alpha) = e^(E/alpha) with E ~ Exp(1).
            Dist::Pareto { scale, shape } => scale.as_secs_f64() * draw::exp(draw::exp1(rng) / shape),
            Dist::Empirical { points } => empirical_at(points, rng.random()),
        }
    }

    /// Draws one duration at a given standard normal score `z`: the
    /// distribution's value at quantile `Phi(z)`.
    ///
    /// With `z` standard normal, the draw has exactly the distribution
    /// [`Dist::sample`] gives. Fed correlated normal scores, two
    /// distributions give correlated draws, each with its own marginal (a
    /// Gaussian copula): how services that share a host or a database slow
    /// down together. `rng` is used only by the truncated normal, when `z`
    /// falls below the truncation: it then draws anew, as [`Dist::sample`]
    /// does, which keeps the marginal exact.
    ///
    /// ```
    /// use sim_core::{Dist, RngFactory, SimDuration};
    /// let d = Dist::Lognormal { median: SimDuration::from_millis(4), sigma: 0.5 };
    /// let mut rng = RngFactory::new(1).stream("example");
    /// // The median at z = 0, and a slower draw for a higher score.
    /// assert_eq!(d.sample_at_normal(0.0, &mut rng), SimDuration::from_millis(4));
    /// assert!(d.sample_at_normal(1.0, &mut rng) > d.sample_at_normal(0.5, &mut rng));
    /// ```
    pub fn sample_at_normal<R: Rng + ?Sized>(&self, z: f64, rng: &mut R) -> SimDuration {
        let secs = match self {
            Dist::Constant { value } => return *value,
            Dist::Uniform { low, high } => {
                let (l, h) = (low.as_secs_f64(), high.as_secs_f64());
                l + (h - l) * draw::std_normal_cdf(z)
            }
            // The upper tail probability Phi(-z) directly, not 1 - Phi(z),
            // which loses the digits the logarithm needs for large z.
            Dist::Exponential { mean } => -mean.as_secs_f64() * libm::log(draw::std_normal_cdf(-z)),
            Dist::Normal { mean, std_dev } => {
                let x = mean.as_secs_f64() + std_dev.as_secs_f64() * z;
                // Below zero, a fresh draw from the truncated normal: the
                // mass below zero is spread over the rest in proportion,
                // which is the truncated distribution.
                if x >= 0.0 {
                    x
                } else {
                    self.sample_secs(rng)
                }
            }
            Dist::Lognormal { median, sigma } => median.as_secs_f64() * draw::exp(sigma * z),
            Dist::Pareto { scale, shape } => {
                scale.as_secs_f64() * draw::exp(-libm::log(draw::std_normal_cdf(-z)) / shape)
            }
            Dist::Empirical { points } => empirical_at(points, draw::std_normal_cdf(z)),
        };
        SimDuration::from_secs_f64(secs)
    }
}

/// The piecewise-linear inverse CDF through `points` at quantile `u`, in
/// seconds.
fn empirical_at(points: &[(f64, SimDuration)], u: f64) -> f64 {
    let i = points.partition_point(|p| p.0 <= u).clamp(1, points.len() - 1);
    let (q0, v0) = (points[i - 1].0, points[i - 1].1.as_secs_f64());
    let (q1, v1) = (points[i].0, points[i].1.as_secs_f64());
    v0 + (v1 - v0) * ((u - q0) / (q1 - q0)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RngFactory;

    const N: usize = 200_000;

    /// Sample mean and variance of N draws, by [`Dist::sample`] or, with
    /// `at_normal`, by [`Dist::sample_at_normal`] at standard normal scores.
    fn moments(d: &Dist, at_normal: bool) -> (f64, f64) {
        let mut rng = RngFactory::new(2024).stream("dist-test");
        let mut scores = RngFactory::new(2024).stream("dist-test/scores");
        let xs: Vec<f64> = (0..N)
            .map(|_| {
                let x = if at_normal {
                    d.sample_at_normal(draw::std_normal(&mut scores), &mut rng)
                } else {
                    d.sample(&mut rng)
                };
                x.as_secs_f64()
            })
            .collect();
        let m = xs.iter().sum::<f64>() / N as f64;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (N as f64 - 1.0);
        (m, v)
    }

    /// Checks the sample mean and variance against analytic values with
    /// 4.5-sigma tolerances from the sample size: the standard error of the
    /// mean is sqrt(var/N), that of the variance sqrt((mu4 - var^2)/N).
    /// Both ways of drawing are checked: at a normal score, a draw must
    /// have the same distribution as a plain one.
    fn check(d: Dist, mean: f64, var: f64, mu4: f64) {
        for at_normal in [false, true] {
            let (m, v) = moments(&d, at_normal);
            let se_m = (var / N as f64).sqrt();
            let se_v = ((mu4 - var * var) / N as f64).sqrt();
            assert!((m - mean).abs() < 4.5 * se_m, "{d:?} ({at_normal}): mean {m} vs {mean} (se {se_m})");
            assert!((v - var).abs() < 4.5 * se_v, "{d:?} ({at_normal}): var {v} vs {var} (se {se_v})");
        }
    }

    #[test]
    fn constant_is_constant() {
        let d = Dist::constant(SimDuration::from_millis(3));
        let mut rng = RngFactory::new(1).stream("c");
        assert!((0..100).all(|_| d.sample(&mut rng) == SimDuration::from_millis(3)));
    }

    #[test]
    fn uniform_moments() {
        let (a, b) = (1.0, 3.0);
        let var = (b - a) * (b - a) / 12.0;
        check(
            Dist::Uniform { low: SimDuration::from_secs(1), high: SimDuration::from_secs(3) },
            2.0,
            var,
            (b - a).powi(4) / 80.0,
        );
    }

    #[test]
    fn exponential_moments() {
        let mu = 0.5f64;
        check(Dist::exponential(SimDuration::from_millis(500)), mu, mu * mu, 9.0 * mu.powi(4));
    }

    #[test]
    fn truncated_normal_moments() {
        // mean 2s, sd 1s, truncated at 0: alpha = -2.
        let (mu, s) = (2.0f64, 1.0f64);
        let alpha: f64 = -mu / s;
        let phi = (-alpha * alpha / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let z = 1.0 - 0.5 * erfc(-alpha / std::f64::consts::SQRT_2);
        let lambda = phi / z;
        let mean = mu + s * lambda;
        let var = s * s * (1.0 + alpha * lambda - lambda * lambda);
        // The fourth central moment of a lightly truncated normal is close to
        // 3 var^2; use that (a slight over-estimate widens the bound a little).
        check(
            Dist::Normal { mean: SimDuration::from_secs(2), std_dev: SimDuration::from_secs(1) },
            mean,
            var,
            3.2 * var * var,
        );
    }

    #[test]
    fn lognormal_moments() {
        let (med, s) = (1.0f64, 0.4f64);
        let mu = med.ln();
        let mean = (mu + s * s / 2.0).exp();
        let var = ((s * s).exp() - 1.0) * (2.0 * mu + s * s).exp();
        // Raw moments E[X^k] = exp(k mu + k^2 s^2 / 2) give the central fourth moment.
        let r = |k: f64| (k * mu + k * k * s * s / 2.0).exp();
        let mu4 = r(4.0) - 4.0 * mean * r(3.0) + 6.0 * mean * mean * r(2.0) - 3.0 * mean.powi(4);
        check(Dist::Lognormal { median: SimDuration::from_secs(1), sigma: s }, mean, var, mu4);
    }

    #[test]
    fn pareto_moments() {
        // shape 5: finite fourth moment, so the variance check is meaningful.
        let (xm, a) = (1.0f64, 5.0f64);
        let r = |k: f64| a * xm.powf(k) / (a - k);
        let mean = r(1.0);
        let var = r(2.0) - mean * mean;
        let mu4 = r(4.0) - 4.0 * mean * r(3.0) + 6.0 * mean * mean * r(2.0) - 3.0 * mean.powi(4);
        check(Dist::Pareto { scale: SimDuration::from_secs(1), shape: a }, mean, var, mu4);
    }

    #[test]
    fn empirical_matches_its_percentiles() {
        let d = Dist::Empirical {
            points: vec![
                (0.0, SimDuration::from_secs(0)),
                (0.5, SimDuration::from_secs(1)),
                (1.0, SimDuration::from_secs(3)),
            ],
        };
        d.validate().unwrap();
        let mut rng = RngFactory::new(5).stream("emp");
        let below_one = (0..N).filter(|_| d.sample(&mut rng) <= SimDuration::from_secs(1)).count() as f64 / N as f64;
        let se = (0.25 / N as f64).sqrt();
        assert!((below_one - 0.5).abs() < 4.5 * se, "{below_one}");
        assert!((d.mean_secs().unwrap() - 1.25).abs() < 1e-12);
    }

    #[test]
    fn empirical_at_a_normal_score_matches_its_percentiles() {
        let d = Dist::Empirical {
            points: vec![
                (0.0, SimDuration::from_secs(0)),
                (0.5, SimDuration::from_secs(1)),
                (1.0, SimDuration::from_secs(3)),
            ],
        };
        let mut rng = RngFactory::new(5).stream("emp");
        // The quantile at Phi(z): z = 0 is the median, and Phi(1) = 0.8413
        // lies 68.3% of the way from quantile 0.5 (1 s) to 1.0 (3 s).
        assert_eq!(d.sample_at_normal(0.0, &mut rng), SimDuration::from_secs(1));
        let at_one = d.sample_at_normal(1.0, &mut rng).as_secs_f64();
        assert!((at_one - (1.0 + 2.0 * (0.841_344_746_068_543 - 0.5) / 0.5)).abs() < 1e-9, "{at_one}");
    }

    #[test]
    fn a_higher_normal_score_never_gives_a_shorter_draw() {
        // Otherwise a shared score would correlate services negatively.
        let s = SimDuration::from_secs;
        let kinds = [
            Dist::Uniform { low: s(1), high: s(3) },
            Dist::exponential(s(1)),
            Dist::Normal { mean: s(5), std_dev: s(1) },
            Dist::Lognormal { median: s(1), sigma: 0.5 },
            Dist::Pareto { scale: s(1), shape: 2.0 },
            Dist::Empirical { points: vec![(0.0, s(0)), (0.3, s(1)), (1.0, s(4))] },
        ];
        let mut rng = RngFactory::new(6).stream("monotone");
        for d in kinds {
            let draws: Vec<SimDuration> =
                (-40..=40).map(|i| d.sample_at_normal(f64::from(i) / 10.0, &mut rng)).collect();
            assert!(draws.windows(2).all(|w| w[0] <= w[1]), "{d:?}: {draws:?}");
            assert!(draws[0] < draws[80], "{d:?} does not rise");
        }
    }

    #[test]
    fn shared_normal_scores_correlate_the_draws_as_asked() {
        // Two log-normal services whose scores share a factor with weight
        // sqrt(rho): their logarithms are bivariate normal with correlation
        // rho. Fisher's z of the sample correlation has standard error
        // 1/sqrt(N - 3); 5 of them are missed with probability below 1e-6.
        let rho = 0.6f64;
        let d = Dist::Lognormal { median: SimDuration::from_millis(3), sigma: 0.4 };
        let e = Dist::Lognormal { median: SimDuration::from_millis(5), sigma: 0.7 };
        let mut rng = RngFactory::new(8).stream("copula");
        let pairs: Vec<(f64, f64)> = (0..N)
            .map(|_| {
                let shared = draw::std_normal(&mut rng);
                let score = |rng: &mut crate::SimRng| rho.sqrt() * shared + (1.0 - rho).sqrt() * draw::std_normal(rng);
                let (z1, z2) = (score(&mut rng), score(&mut rng));
                let x = d.sample_at_normal(z1, &mut rng).as_secs_f64().ln();
                let y = e.sample_at_normal(z2, &mut rng).as_secs_f64().ln();
                (x, y)
            })
            .collect();
        let n = N as f64;
        let (mx, my) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
        let cov = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>();
        let vx = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
        let vy = pairs.iter().map(|p| (p.1 - my).powi(2)).sum::<f64>();
        let r = cov / (vx * vy).sqrt();
        let fisher = |r: f64| 0.5 * ((1.0 + r) / (1.0 - r)).ln();
        assert!((fisher(r) - fisher(rho)).abs() < 5.0 / (n - 3.0).sqrt(), "correlation {r}, asked {rho}");
    }

    #[test]
    fn validation_rejects_bad_parameters() {
        assert!(Dist::Uniform { low: SimDuration::from_secs(2), high: SimDuration::from_secs(1) }.validate().is_err());
        assert!(Dist::Pareto { scale: SimDuration::from_secs(1), shape: -1.0 }.validate().is_err());
        assert!(Dist::Empirical { points: vec![(0.0, SimDuration::ZERO)] }.validate().is_err());
    }

    #[test]
    fn parses_from_toml() {
        #[derive(Deserialize)]
        struct W {
            d: Dist,
        }
        let w: W = toml::from_str(r#"d = { kind = "lognormal", median = "2ms", sigma = 0.5 }"#).unwrap();
        assert_eq!(w.d, Dist::Lognormal { median: SimDuration::from_millis(2), sigma: 0.5 });
        assert!(toml::from_str::<W>(r#"d = { kind = "exponential", mean = "2ms", oops = 1 }"#).is_err());
    }

    /// Complementary error function (Abramowitz-Stegun 7.1.26 is too coarse
    /// for a reference value; this uses the continued-fraction-free series
    /// through erf's Taylor expansion, accurate for |x| < 3).
    fn erfc(x: f64) -> f64 {
        let mut sum = 0.0;
        let mut term = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
    }
}
