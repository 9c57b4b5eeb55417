//! Draws addressed by a key rather than by their order.
//!
//! A named stream hands out draws in sequence, so the draw a component gets
//! depends on everything it drew before. Some draws must instead be shared
//! by components that meet the same thing in any order: two services
//! handling the same event should see the same common slowdown, whichever
//! handles it first. [`KeyedDraws`] gives the draw for a key directly.
//! ChaCha is a counter-mode generator, so it seeks to a position derived
//! from the key and draws there: the same factory, name and key give the
//! same draw in any order, in any component, on any platform.

use std::f64::consts::TAU;

use rand::Rng;

use crate::rng::{RngFactory, SimRng};

/// Standard normal draws by key, from one named stream.
///
/// ```
/// use sim_core::RngFactory;
/// let f = RngFactory::new(7);
/// let (mut a, mut b) = (f.keyed("shared"), f.keyed("shared"));
/// let z = a.std_normal(12);
/// a.std_normal(3);
/// // Another holder of the same stream, another order: the same draw.
/// assert_eq!(b.std_normal(12), z);
/// assert_ne!(b.std_normal(13), z);
/// ```
#[derive(Clone, Debug)]
pub struct KeyedDraws {
    rng: SimRng,
}

/// 32-bit words of the stream reserved for each key: two `f64` uniforms.
const WORDS_PER_KEY: u128 = 4;

impl KeyedDraws {
    pub(crate) fn new(rng: SimRng) -> Self {
        KeyedDraws { rng }
    }

    /// The standard normal draw of `key`.
    ///
    /// Box-Muller rather than the polar method of [`crate::draw::std_normal`]:
    /// it never rejects, so each key uses exactly its own two uniforms and
    /// never reads into the next key's. `libm` keeps it the same on every
    /// platform.
    pub fn std_normal(&mut self, key: u64) -> f64 {
        self.rng.set_word_pos(u128::from(key) * WORDS_PER_KEY);
        let u1: f64 = self.rng.random();
        let u2: f64 = self.rng.random();
        // 1 - u1 lies in (0, 1]: the logarithm is finite.
        libm::sqrt(-2.0 * libm::log1p(-u1)) * libm::cos(TAU * u2)
    }
}

impl RngFactory {
    /// Draws by key from the stream named `name` (see [`KeyedDraws`]).
    pub fn keyed(&self, name: &str) -> KeyedDraws {
        KeyedDraws::new(self.stream(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: u64 = 200_000;

    #[test]
    fn keyed_normals_are_standard_and_independent_of_their_neighbours() {
        let mut k = RngFactory::new(3).keyed("test");
        let z: Vec<f64> = (0..N).map(|i| k.std_normal(i)).collect();
        let n = N as f64;
        let mean = z.iter().sum::<f64>() / n;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        // Standard errors of the mean (1/sqrt n), of the variance
        // (sqrt(2/n) for a normal) and of a correlation near zero
        // (1/sqrt n); 5 of them are missed with probability below 1e-6.
        assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "var {var}");
        let lag1 = z.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / (n - 1.0);
        assert!(lag1.abs() < 5.0 / n.sqrt(), "neighbouring keys correlate: {lag1}");
        // The tails too: P(Z > 2) = 0.02275.
        let above = z.iter().filter(|&&x| x > 2.0).count() as f64 / n;
        let p = 0.022_750_131_948_179;
        assert!((above - p).abs() < 5.0 * (p * (1.0 - p) / n).sqrt(), "P(Z > 2) = {above}");
    }

    #[test]
    fn the_draw_of_a_key_does_not_depend_on_order_or_holder() {
        let f = RngFactory::new(9);
        let mut forward = f.keyed("s");
        let ahead: Vec<f64> = (0..100).map(|i| forward.std_normal(i)).collect();
        let mut backward = f.keyed("s");
        let behind: Vec<f64> = (0..100).rev().map(|i| backward.std_normal(i)).collect();
        assert!(ahead.iter().eq(behind.iter().rev()));
        // Another name or seed: other draws.
        assert_ne!(f.keyed("t").std_normal(0), ahead[0]);
        assert_ne!(RngFactory::new(10).keyed("s").std_normal(0), ahead[0]);
        // The largest keys are addressable too.
        assert!(f.keyed("s").std_normal(u64::MAX).is_finite());
    }
}
