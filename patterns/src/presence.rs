//! Which rows exist: one bit per customer and table.
//!
//! The world asks two things of a customer's rows, whether one table
//! still has its row and how many of its rows exist, and it asks for
//! every customer: a 30-day run at 20 requests per second has 52 M of
//! them. A byte per row and a count byte per customer took 4 bytes per
//! customer with the book's three tables (210 MB at 52 M); a bit per row,
//! the table count rounded up to a power of two, takes 4 bits (26 MB), and
//! the count is the number of the customer's bits that are set.
//!
//! It is not free: the patterns bench's background sync ran 3% to 4%
//! slower than with the bytes (interleaved runs; the same interface over
//! bytes ran as fast as before, so the bits cost it, though no profile
//! pinned where).

use fixedbitset::FixedBitSet;

use crate::msg::CustomerId;
use crate::topology::TableId;

/// One bit per (customer, table), customer-major: customer `c`'s bits
/// start at `c * stride`, where the stride is the table count rounded up
/// to a power of two, so that a customer's bits never straddle two blocks
/// (up to 64 tables) and one load reads them all.
#[derive(Debug)]
pub(crate) struct Presence {
    tables: usize,
    stride: usize,
    bits: FixedBitSet,
}

impl Presence {
    /// `customers` customers, each with a row in every one of `tables` tables.
    pub(crate) fn full(customers: u32, tables: usize) -> Self {
        let stride = tables.next_power_of_two();
        // The bits repeat every block (or every stride, past 64 tables):
        // built from that pattern a block at a time.
        let mut pattern = Presence { tables, stride, bits: FixedBitSet::new() };
        let customers_per_pattern = (usize::BITS as usize / stride).max(1);
        for c in 0..customers_per_pattern {
            pattern.push_full();
            debug_assert_eq!(pattern.bits.len(), (c + 1) * stride);
        }
        let len = customers as usize * stride;
        let blocks = pattern.bits.as_slice().iter().copied().cycle().take(len.div_ceil(usize::BITS as usize));
        Presence { tables, stride, bits: FixedBitSet::with_capacity_and_blocks(len, blocks) }
    }

    fn bit(&self, c: CustomerId, t: TableId) -> usize {
        c as usize * self.stride + t.index()
    }

    /// Whether customer `c` has a row in table `t`.
    #[inline]
    pub(crate) fn has(&self, c: CustomerId, t: TableId) -> bool {
        self.bits.contains(self.bit(c, t))
    }

    /// Gives or takes customer `c`'s row in table `t`. Returns how many
    /// of the customer's rows existed before and after, or `None` if the
    /// row already was as asked (nothing changed).
    #[inline]
    pub(crate) fn change(&mut self, c: CustomerId, t: TableId, present: bool) -> Option<(usize, usize)> {
        let mine = self.bits_of(c);
        if (mine >> t.index()) & 1 == u128::from(present) {
            return None;
        }
        self.bits.set(self.bit(c, t), present);
        let before = mine.count_ones() as usize;
        Some((before, if present { before + 1 } else { before - 1 }))
    }

    /// How many of customer `c`'s rows exist.
    #[inline]
    pub(crate) fn rows_of(&self, c: CustomerId) -> usize {
        self.bits_of(c).count_ones() as usize
    }

    /// Customer `c`'s bits, table 0 lowest.
    ///
    /// The world reads them twice per row it changes and once per request
    /// it retires. `FixedBitSet::count_ones` over the range walks it block
    /// by block through a generic iterator, which made the background-sync
    /// bench 8% slower than the count byte this replaced (3% to 4% now);
    /// with the stride,
    /// a customer's bits are one block's slice (or, past 64 tables, whole
    /// blocks), read here at once.
    #[inline]
    fn bits_of(&self, c: CustomerId) -> u128 {
        const BITS: usize = usize::BITS as usize;
        let first = self.bit(c, TableId::from_index(0));
        let (block, shift) = (first / BITS, first % BITS);
        let blocks = self.bits.as_slice();
        let mut read = 0u128;
        for k in 0..self.stride.div_ceil(BITS) {
            read |= (blocks[block + k] as u128) << (k * BITS);
        }
        (read >> shift) & ((1u128 << self.tables) - 1)
    }

    /// Adds the next customer, with a row in every table.
    pub(crate) fn push_full(&mut self) {
        let first = self.bits.len();
        self.bits.grow(first + self.stride);
        self.bits.insert_range(first..first + self.tables);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a plain table of booleans, for every table count the
        /// world allows (2 to 65: a customer's bits may straddle words).
        #[test]
        fn matches_a_table_of_booleans(
            tables in 2usize..=65,
            customers in 1u32..40,
            ops in prop::collection::vec((any::<u32>(), any::<u8>(), any::<bool>()), 0..300),
            signups in 0u32..5,
        ) {
            let mut p = Presence::full(customers, tables);
            let mut model = vec![vec![true; tables]; customers as usize];
            for _ in 0..signups {
                p.push_full();
                model.push(vec![true; tables]);
            }
            for (c, t, present) in ops {
                let c = c % model.len() as u32;
                let t = usize::from(t) % tables;
                let before = model[c as usize].iter().filter(|&&r| r).count();
                let changed = model[c as usize][t] != present;
                model[c as usize][t] = present;
                let after = model[c as usize].iter().filter(|&&r| r).count();
                prop_assert_eq!(p.change(c, TableId::from_index(t), present), changed.then_some((before, after)));
            }
            for (c, rows) in model.iter().enumerate() {
                let c = c as u32;
                prop_assert_eq!(p.rows_of(c), rows.iter().filter(|&&r| r).count());
                for (t, &r) in rows.iter().enumerate() {
                    prop_assert_eq!(p.has(c, TableId::from_index(t)), r);
                }
            }
        }
    }
}
