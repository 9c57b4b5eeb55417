//! Seeded random streams.
//!
//! One master seed feeds every stream. A stream is keyed by a name such as
//! `"node/billing"`, `"link/profile->broker"`, `"faults"` or `"workload"`:
//! ChaCha's 64-bit stream number is a stable hash of that name, so streams
//! are independent, and adding a component (a new name) never changes the
//! draws of the others. Two simulations that differ only in their models but
//! share a seed therefore see the same workload and the same fault draws
//! (common random numbers).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random number generator every stream uses.
pub type SimRng = ChaCha8Rng;

/// Derives named, independent streams from one master seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngFactory {
    master: u64,
}

impl RngFactory {
    /// A factory for the given master seed.
    pub const fn new(master: u64) -> Self {
        RngFactory { master }
    }

    /// The master seed.
    pub const fn master(&self) -> u64 {
        self.master
    }

    /// The stream named `name`. Calling twice gives two identical streams.
    ///
    /// ```
    /// use rand::RngCore;
    /// let f = sim_core::RngFactory::new(42);
    /// assert_eq!(f.stream("workload").next_u64(), f.stream("workload").next_u64());
    /// assert_ne!(f.stream("workload").next_u64(), f.stream("faults").next_u64());
    /// ```
    pub fn stream(&self, name: &str) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.master);
        rng.set_stream(stable_hash(name.as_bytes()));
        rng
    }

    /// A child seed, e.g. for replication `index` of an experiment: the same
    /// master and index always give the same child, and distinct indices give
    /// unrelated children.
    pub fn child_seed(&self, purpose: &str, index: u64) -> u64 {
        use rand::RngCore;
        let mut rng = self.stream(purpose);
        rng.set_word_pos(u128::from(index) * 2);
        rng.next_u64()
    }
}

/// FNV-1a, 64-bit: stable across Rust releases and platforms, unlike the
/// standard library's hasher, which is why names hash through it.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    fnv_fold(0xcbf2_9ce4_8422_2325, bytes)
}

/// Continues an FNV-1a hash `h` over more bytes.
pub(crate) fn fnv_fold(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn a_new_stream_leaves_the_others_alone() {
        let f = RngFactory::new(7);
        let before: Vec<u64> = (0..4).map(|_| 0).scan(f.stream("a"), |r, _| Some(r.next_u64())).collect();
        let _unrelated = f.stream("b");
        let after: Vec<u64> = (0..4).map(|_| 0).scan(f.stream("a"), |r, _| Some(r.next_u64())).collect();
        assert_eq!(before, after);
    }

    #[test]
    fn seeds_and_names_both_matter() {
        assert_ne!(RngFactory::new(1).stream("x").next_u64(), RngFactory::new(2).stream("x").next_u64());
        assert_ne!(RngFactory::new(1).stream("x").next_u64(), RngFactory::new(1).stream("y").next_u64());
    }

    #[test]
    fn child_seeds_are_stable_and_distinct() {
        let f = RngFactory::new(99);
        let a: Vec<u64> = (0..100).map(|i| f.child_seed("rep", i)).collect();
        let b: Vec<u64> = (0..100).map(|i| f.child_seed("rep", i)).collect();
        assert_eq!(a, b);
        let mut s = a.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), a.len());
    }
}
