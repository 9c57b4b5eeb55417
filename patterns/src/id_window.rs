//! A map over ids that a counter hands out in increasing order, each live
//! for a while: the client's waiting requests, the saga engine's sagas and
//! calls, the broker's deliveries in flight.
//!
//! Such ids are dense, so the values sit in a deque indexed by `id - base`
//! that slides forward as the oldest ones go: insert, look up and remove
//! are O(1), where a `BTreeMap` walked a tree and moved keys on every
//! remove (5% of a background-sync run). Memory follows the span from the
//! oldest live id to the newest, so it suits ids that are issued in order
//! and each released within a bounded time (a timeout, an acknowledgement);
//! an id inserted far from the others would cost a slot for every id
//! between. Iteration is in ascending id order, as the map's was.

use std::collections::VecDeque;
use std::marker::PhantomData;

/// Values by id, for ids issued in increasing order and released soon.
#[derive(Clone, Debug)]
pub(crate) struct IdWindow<K, V> {
    /// The id of `slots[0]`.
    base: u64,
    /// Values of ids `base..`; the first and last are always `Some`.
    slots: VecDeque<Option<V>>,
    len: usize,
    key: PhantomData<K>,
}

impl<K, V> Default for IdWindow<K, V> {
    fn default() -> Self {
        IdWindow { base: 0, slots: VecDeque::new(), len: 0, key: PhantomData }
    }
}

impl<K: Copy + Into<u64> + TryFrom<u64>, V> IdWindow<K, V> {
    /// An empty window.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The number of values.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, id: K) -> Option<usize> {
        let i = id.into().checked_sub(self.base)?;
        usize::try_from(i).ok().filter(|&i| i < self.slots.len())
    }

    /// Stores `value` at `id`, returning the value it replaces.
    pub(crate) fn insert(&mut self, id: K, value: V) -> Option<V> {
        let id = id.into();
        if self.slots.is_empty() {
            self.base = id;
        } else if id < self.base {
            // A late id (a duplicate, say) below the window: grow it down.
            for _ in id..self.base {
                self.slots.push_front(None);
            }
            self.base = id;
        }
        let i = usize::try_from(id - self.base).expect("an id window spans less than the address space");
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let old = self.slots[i].replace(value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The value at `id`.
    pub(crate) fn get(&self, id: K) -> Option<&V> {
        self.slots[self.slot(id)?].as_ref()
    }

    /// The value at `id`, to change.
    pub(crate) fn get_mut(&mut self, id: K) -> Option<&mut V> {
        let i = self.slot(id)?;
        self.slots[i].as_mut()
    }

    /// Whether `id` has a value.
    pub(crate) fn contains_key(&self, id: K) -> bool {
        self.get(id).is_some()
    }

    /// Removes and returns the value at `id`.
    pub(crate) fn remove(&mut self, id: K) -> Option<V> {
        let i = self.slot(id)?;
        let value = self.slots[i].take()?;
        self.len -= 1;
        // Keep both ends live, so the span is that of the live ids.
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.base += 1;
        }
        while let Some(None) = self.slots.back() {
            self.slots.pop_back();
        }
        Some(value)
    }

    /// Removes every value.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }

    /// The ids and values to change, in ascending id order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (K, &mut V)> {
        let base = self.base;
        self.slots.iter_mut().enumerate().filter_map(move |(i, v)| Some((key_at(base, i), v.as_mut()?)))
    }

    /// The values, in ascending id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flatten()
    }

    /// The values, taken, in ascending id order.
    pub(crate) fn into_values(self) -> impl Iterator<Item = V> {
        self.slots.into_iter().flatten()
    }

    /// The values to change, in ascending id order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slots.iter_mut().flatten()
    }
}

/// The id of slot `i` of a window at `base`.
fn key_at<K: TryFrom<u64>>(base: u64, i: usize) -> K {
    match K::try_from(base + i as u64) {
        Ok(k) => k,
        // Every slot's id was inserted as a K.
        Err(_) => unreachable!("an id in the window fits its type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u32, u8),
        Remove(u32),
        Get(u32),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Ids near each other, as a counter's are, with some below and
        // above the live ones.
        prop_oneof![
            6 => (0u32..64, any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            6 => (0u32..64).prop_map(Op::Remove),
            3 => (0u32..64).prop_map(Op::Get),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// Every operation answers as a `BTreeMap` does, iteration included,
        /// and the window spans only the live ids.
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec(op(), 0..300)) {
            let mut w: IdWindow<u32, u8> = IdWindow::new();
            let mut m: BTreeMap<u32, u8> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(w.insert(k, v), m.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(w.remove(k), m.remove(&k)),
                    Op::Get(k) => {
                        prop_assert_eq!(w.get(k), m.get(&k));
                        prop_assert_eq!(w.contains_key(k), m.contains_key(&k));
                        if let (Some(a), Some(b)) = (w.get_mut(k), m.get_mut(&k)) {
                            *a = a.wrapping_add(1);
                            *b = b.wrapping_add(1);
                        }
                    }
                    Op::Clear => {
                        w.clear();
                        m.clear();
                    }
                }
                prop_assert_eq!(w.len(), m.len());
                prop_assert_eq!(w.is_empty(), m.is_empty());
                let got: Vec<(u32, u8)> = w.iter_mut().map(|(k, v)| (k, *v)).collect();
                let want: Vec<(u32, u8)> = m.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(w.values().copied().collect::<Vec<_>>(), m.values().copied().collect::<Vec<_>>());
                prop_assert_eq!(w.clone().into_values().collect::<Vec<_>>(), m.clone().into_values().collect::<Vec<_>>());
                let span = match (m.keys().next(), m.keys().next_back()) {
                    (Some(lo), Some(hi)) => (hi - lo + 1) as usize,
                    _ => 0,
                };
                prop_assert_eq!(w.slots.len(), span);
            }
        }
    }

    #[test]
    fn values_mut_changes_in_place() {
        let mut w: IdWindow<u64, u32> = IdWindow::new();
        w.insert(10, 1);
        w.insert(12, 2);
        w.values_mut().for_each(|v| *v *= 10);
        assert_eq!(w.iter_mut().map(|(k, v)| (k, *v)).collect::<Vec<_>>(), vec![(10, 10), (12, 20)]);
    }
}
