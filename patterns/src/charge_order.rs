//! The order in which a periodic side effect (the book's Billing charge)
//! reaches every customer within a period: each customer at an offset drawn
//! uniformly within the period, earliest first, ties by customer id.
//!
//! Held compactly because it holds every customer: a 30-day run at 20
//! requests per second has 52 M of them. Sorted `(offset, customer)` pairs
//! took 16 bytes each. Here an offset is split at bit 32: the entries keep
//! `(low 32 bits, customer)`, 8 bytes, and the high bits are kept once per
//! run of entries that share them (`2^32` ns is 4.3 s, so a 30-day period
//! has about a million runs, 8 MB, whatever the population).
//!
//! Building it for a large population never holds the pairs either: the
//! offsets are drawn twice from the same stream, once on a copy to learn
//! each run's size, once to put each entry in its run (small populations
//! sort the pairs, which is faster). Either way the stream ends where
//! drawing the pairs left it, and the order is the pairs' order, entry for
//! entry: every committed result is unchanged.

use rand::Rng;
use sim_core::{SimDuration, SimRng};

use crate::msg::CustomerId;

/// Bits of an offset kept in an entry; the rest are its run's.
const LOW_BITS: u32 = 32;

/// The entries whose offsets share their high bits: `entries[..end]` past
/// the previous run's end.
#[derive(Clone, Copy, Debug)]
struct Run {
    high: u32,
    end: u32,
}

/// Every customer, by their offset within the period, with a position
/// that walks them in order and wraps at the period's end.
#[derive(Debug)]
pub(crate) struct ChargeOrder {
    runs: Vec<Run>,
    /// `(low bits of the offset, customer)`, sorted within each run.
    entries: Vec<(u32, CustomerId)>,
    /// The next entry, and the run it is in.
    pos: usize,
    run: usize,
}

impl ChargeOrder {
    /// Draws customer `c`'s offset uniformly in `[0, period)` from `rng`,
    /// for `c` in `0..customers` in turn (the draws a sorted list of
    /// pairs took), and orders them.
    ///
    /// # Panics
    /// If the period is zero (configs refuse it).
    pub(crate) fn draw(customers: u32, period: SimDuration, rng: &mut SimRng) -> Self {
        Self::draw_with(customers, period, rng, PAIRS_UP_TO)
    }

    /// [`ChargeOrder::draw`], sorting pairs up to `pairs_up_to` customers
    /// and in two passes past that (a parameter so that tests reach both).
    fn draw_with(customers: u32, period: SimDuration, rng: &mut SimRng, pairs_up_to: u32) -> Self {
        let period = period.as_nanos();
        assert!(period > 0, "a side effect's period must be above zero");
        let (runs, entries) = if customers <= pairs_up_to {
            by_pairs(customers, period, rng)
        } else {
            in_two_passes(customers, period, rng)
        };
        ChargeOrder { runs, entries, pos: 0, run: 0 }
    }

    /// The next customer and their offset within the period; `None` only
    /// when there are no customers.
    pub(crate) fn next(&self) -> Option<(SimDuration, CustomerId)> {
        let &(low, customer) = self.entries.get(self.pos)?;
        let offset = (u64::from(self.runs[self.run].high) << LOW_BITS) | u64::from(low);
        Some((SimDuration::from_nanos(offset), customer))
    }

    /// Moves past the next customer. Returns true when that was the
    /// period's last, and the order starts again from its first.
    pub(crate) fn advance(&mut self) -> bool {
        self.pos += 1;
        if self.pos == self.entries.len() {
            self.pos = 0;
            self.run = 0;
            return true;
        }
        if self.pos == self.runs[self.run].end as usize {
            self.run += 1;
        }
        false
    }
}

/// Populations up to this many customers are ordered by sorting 16-byte
/// pairs (16 MB at most, for a moment): faster than two passes, which
/// search each entry's run; the patterns bench (100,000 customers) spent 4%
/// of its time there.
const PAIRS_UP_TO: u32 = 1 << 20;

/// An offset's high bits, its run's. They fit in 32 bits: a period is
/// below 2^64 ns.
fn high(offset: u64) -> u32 {
    (offset >> LOW_BITS) as u32
}

/// Customer `c`'s offset, for `c` in `0..customers` in turn.
fn offsets(rng: &mut SimRng, customers: u32, period: u64) -> impl Iterator<Item = u64> + '_ {
    (0..customers).map(move |_| rng.random_range(0..period))
}

/// Counts entry `i`, the next in order, whose high bits are `high`, in
/// the last run, or starts a run for it.
fn extend_runs(runs: &mut Vec<Run>, i: usize, high: u32) {
    match runs.last_mut() {
        Some(r) if r.high == high => r.end = i as u32 + 1,
        _ => runs.push(Run { high, end: i as u32 + 1 }),
    }
}

/// Orders the customers by sorting `(offset, customer)` pairs, then
/// splits the offsets.
fn by_pairs(customers: u32, period: u64, rng: &mut SimRng) -> (Vec<Run>, Vec<(u32, CustomerId)>) {
    let mut pairs: Vec<(u64, CustomerId)> = offsets(rng, customers, period).zip(0..).collect();
    pairs.sort_unstable();
    let mut runs: Vec<Run> = Vec::new();
    let mut entries = Vec::with_capacity(pairs.len());
    for (i, &(offset, c)) in pairs.iter().enumerate() {
        extend_runs(&mut runs, i, high(offset));
        entries.push((offset as u32, c));
    }
    (runs, entries)
}

/// Orders the customers without ever holding the pairs: the offsets are
/// drawn twice from the same stream, once on a copy to learn each run's
/// size (through a sorted list of 4-byte high parts, dropped before the
/// entries are made), and once to put each entry in its run, which is
/// then sorted.
fn in_two_passes(customers: u32, period: u64, rng: &mut SimRng) -> (Vec<Run>, Vec<(u32, CustomerId)>) {
    let mut highs: Vec<u32> = offsets(&mut rng.clone(), customers, period).map(high).collect();
    highs.sort_unstable();
    let mut runs: Vec<Run> = Vec::new();
    for (i, &h) in highs.iter().enumerate() {
        extend_runs(&mut runs, i, h);
    }
    drop(highs);
    runs.shrink_to_fit();
    let mut fill: Vec<u32> = std::iter::once(0).chain(runs.iter().map(|r| r.end)).collect();
    fill.pop();
    let mut entries = vec![(0u32, 0 as CustomerId); customers as usize];
    for (c, offset) in offsets(rng, customers, period).enumerate() {
        let run = runs.partition_point(|r| r.high < high(offset));
        entries[fill[run] as usize] = (offset as u32, c as CustomerId);
        fill[run] += 1;
    }
    let mut start = 0;
    for r in &runs {
        entries[start..r.end as usize].sort_unstable();
        start = r.end as usize;
    }
    (runs, entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::Rng;
    use sim_core::RngFactory;

    proptest! {
        /// Against the sorted pairs it replaces, built either way: the same
        /// order, entry for entry, twice round (the wrap), and the stream
        /// left where the pairs' draws left it. Periods from 1 ns to far past 2^32 ns, so
        /// that runs range from one for all to one per customer.
        #[test]
        fn walks_the_sorted_pairs_and_leaves_the_stream_as_they_did(
            customers in 0u32..300,
            period in prop_oneof![1u64..1_000, 1u64..(1 << 40), 1u64..u64::MAX],
            seed in any::<u64>(),
            two_passes in any::<bool>(),
        ) {
            let mut rng = RngFactory::new(seed).stream("charge-order-test");
            let mut pairs_rng = rng.clone();
            let mut pairs: Vec<(u64, CustomerId)> =
                (0..customers).map(|c| (pairs_rng.random_range(0..period), c)).collect();
            pairs.sort_unstable();

            let pairs_up_to = if two_passes { 0 } else { u32::MAX };
            let mut order = ChargeOrder::draw_with(customers, SimDuration::from_nanos(period), &mut rng, pairs_up_to);
            prop_assert_eq!(rng.random::<u64>(), pairs_rng.random::<u64>());
            if customers == 0 {
                prop_assert_eq!(order.next(), None);
                return Ok(());
            }
            for round in 0..2 {
                for (i, &(offset, c)) in pairs.iter().enumerate() {
                    prop_assert_eq!(order.next(), Some((SimDuration::from_nanos(offset), c)), "round {} entry {}", round, i);
                    prop_assert_eq!(order.advance(), i + 1 == pairs.len());
                }
            }
        }
    }
}
