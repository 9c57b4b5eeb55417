//! The pending-event set: a 4-ary min-heap ordered by `(time, sequence)`.
//!
//! Guarantees:
//! - **Total order.** Events leave in non-decreasing time; events at the same
//!   instant leave in the order they were pushed (first in, first out), because
//!   every push takes the next value of a global sequence counter.
//! - **O(1) cancellation.** A cancellable entry owns a slot in a small side
//!   table; cancelling clears the slot, and the entry is skipped when it
//!   reaches the top. No scan of the heap ever happens. Cancelling an entry
//!   that already fired (or was cancelled) is a harmless no-op, because a slot
//!   remembers the sequence number of its owner.
//! - **Replace-top.** [`EventQueue::pop_deferred`] leaves the fired entry's
//!   husk at the root; the next push then overwrites the root and sifts down
//!   once, instead of a pop's sift-down plus a push's sift-up. This is the
//!   common case in a simulation, where handling an event schedules another.

use crate::time::SimTime;

const NO_SLOT: u32 = MAX_SLOTS;
const ARITY: usize = 4;

/// Handle to a cancellable entry, returned by [`EventQueue::push_cancellable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    slot: u32,
    seq: u64,
}

/// Bits of `Entry::seq_slot` that hold the cancellation slot; the sequence
/// number sits above them, so comparing the packed word compares sequences.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// The most cancellable entries pending at once (16.7 million).
const MAX_SLOTS: u32 = (1 << SLOT_BITS) - 1;
/// The most pushes over a queue's life (2^40, about 10^12).
const MAX_SEQ: u64 = 1 << (64 - SLOT_BITS);

#[derive(Debug)]
struct Entry<T> {
    time: SimTime,
    /// `seq << SLOT_BITS | slot`: packed so that an entry stays small.
    seq_slot: u64,
    payload: Option<T>,
}

impl<T> Entry<T> {
    #[inline(always)]
    fn key(&self) -> u128 {
        (u128::from(self.time.as_nanos()) << 64) | u128::from(self.seq_slot)
    }
    #[inline(always)]
    fn seq(&self) -> u64 {
        self.seq_slot >> SLOT_BITS
    }
    #[inline(always)]
    fn slot(&self) -> u32 {
        (self.seq_slot & SLOT_MASK) as u32
    }
}

/// A deterministic priority queue of timed payloads.
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: Vec<Entry<T>>,
    /// For each cancellation slot, the sequence number of the live entry that
    /// owns it, or `CANCELLED`.
    slots: Vec<u64>,
    free_slots: Vec<u32>,
    next_seq: u64,
    cancelled_pending: usize,
    /// True while the root is the husk of an entry handed out by `pop_deferred`.
    root_is_husk: bool,
}

const CANCELLED: u64 = u64::MAX;

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            next_seq: 0,
            cancelled_pending: 0,
            root_is_husk: false,
        }
    }

    /// An empty queue with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        let mut q = Self::new();
        q.heap.reserve(n);
        q
    }

    /// Live (not cancelled, not yet popped) entries.
    pub fn len(&self) -> usize {
        self.heap.len() - usize::from(self.root_is_husk) - self.cancelled_pending
    }

    /// Whether no live entry remains.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many pushes the queue has seen; the next push gets this sequence number.
    pub fn pushed(&self) -> u64 {
        self.next_seq
    }

    /// Adds an entry that cannot be cancelled.
    #[inline]
    pub fn push(&mut self, time: SimTime, payload: T) {
        self.insert(time, NO_SLOT, payload);
    }

    /// Adds an entry and returns a handle that can cancel it in O(1).
    pub fn push_cancellable(&mut self, time: SimTime, payload: T) -> EventId {
        let seq = self.next_seq;
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slots[s as usize] = seq;
                s
            }
            None => {
                self.slots.push(seq);
                let s = self.slots.len() as u32 - 1;
                assert!(s < MAX_SLOTS, "more than {MAX_SLOTS} cancellable events pending at once");
                s
            }
        };
        self.insert(time, slot, payload);
        EventId { slot, seq }
    }

    /// Cancels a pending entry. Returns false if it already fired or was
    /// already cancelled.
    pub fn cancel(&mut self, id: EventId) -> bool {
        match self.slots.get_mut(id.slot as usize) {
            Some(owner) if *owner == id.seq => {
                *owner = CANCELLED;
                self.cancelled_pending += 1;
                true
            }
            _ => false,
        }
    }

    /// The time of the earliest live entry, if any.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.settle();
        self.skip_cancelled();
        self.heap.first().map(|e| e.time)
    }

    /// Removes and returns the earliest live entry.
    pub fn pop(&mut self) -> Option<(SimTime, T)> {
        let out = self.pop_deferred();
        self.settle();
        out
    }

    /// Like [`pop`](Self::pop), but leaves the entry's husk at the root so that
    /// the next [`push`](Self::push) can replace it with a single sift-down.
    /// Call [`settle`](Self::settle) when the caller is done pushing.
    #[inline]
    pub fn pop_deferred(&mut self) -> Option<(SimTime, T)> {
        self.settle();
        self.skip_cancelled();
        let root = self.heap.first_mut()?;
        let time = root.time;
        let payload = root.payload.take().expect("live heap entry without payload");
        self.release_slot(0);
        self.root_is_husk = true;
        Some((time, payload))
    }

    /// Removes a husk left by [`pop_deferred`](Self::pop_deferred), if no push replaced it.
    #[inline]
    pub fn settle(&mut self) {
        if self.root_is_husk {
            self.root_is_husk = false;
            self.remove_root();
        }
    }

    #[inline]
    fn insert(&mut self, time: SimTime, slot: u32, payload: T) {
        let seq = self.next_seq;
        assert!(seq < MAX_SEQ, "the event queue ran out of sequence numbers ({MAX_SEQ} pushes)");
        self.next_seq += 1;
        let entry = Entry { time, seq_slot: (seq << SLOT_BITS) | u64::from(slot), payload: Some(payload) };
        if self.root_is_husk {
            self.root_is_husk = false;
            self.heap[0] = entry;
            self.sift_down(0);
        } else {
            self.heap.push(entry);
            self.sift_up(self.heap.len() - 1);
        }
    }

    fn release_slot(&mut self, idx: usize) {
        let slot = self.heap[idx].slot();
        if slot != NO_SLOT {
            if self.slots[slot as usize] == CANCELLED {
                self.cancelled_pending -= 1;
            }
            self.slots[slot as usize] = CANCELLED;
            self.free_slots.push(slot);
            self.heap[idx].seq_slot |= SLOT_MASK;
        }
    }

    fn skip_cancelled(&mut self) {
        while self.cancelled_pending > 0 {
            match self.heap.first() {
                Some(e) if e.slot() != NO_SLOT && self.slots[e.slot() as usize] != e.seq() => {
                    self.release_slot(0);
                    self.remove_root();
                }
                _ => break,
            }
        }
    }

    fn remove_root(&mut self) {
        let last = self.heap.pop().expect("remove_root on an empty heap");
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.sift_down(0);
        }
    }

    // The sifts move a "hole" instead of swapping: each step copies one
    // entry instead of three, which matters because entries carry their
    // payload inline. The unsafe blocks are sound because every index is
    // below `len`, key comparisons cannot panic, and the element read out at
    // the start is written back exactly once at the end.
    #[inline]
    fn sift_up(&mut self, pos: usize) {
        self.sift_up_to(pos, 0);
    }

    /// Sifts the entry at `pos` up, but not above `top`.
    #[inline]
    #[allow(unsafe_code)] // the one place, with `sift_down`, that needs it
    fn sift_up_to(&mut self, pos: usize, top: usize) {
        debug_assert!(pos < self.heap.len() && top <= pos, "sift_up_to({pos}, {top}) on {}", self.heap.len());
        let base = self.heap.as_mut_ptr();
        // SAFETY: see the comment above; `pos < len` is the caller's contract.
        unsafe {
            let elem = std::ptr::read(base.add(pos));
            let key = elem.key();
            let mut hole = pos;
            while hole > top {
                let parent = (hole - 1) / ARITY;
                if key < (*base.add(parent)).key() {
                    std::ptr::copy_nonoverlapping(base.add(parent), base.add(hole), 1);
                    hole = parent;
                } else {
                    break;
                }
            }
            std::ptr::write(base.add(hole), elem);
        }
    }

    /// Floyd's bottom-up sift: walk the hole down along the smallest
    /// children to a leaf without comparing against the moving element, then
    /// sift it up from there. An element that replaces the root usually
    /// belongs near the bottom, so this saves a comparison per level.
    #[inline]
    #[allow(unsafe_code)] // the one place, with `sift_up_to`, that needs it
    fn sift_down(&mut self, pos: usize) {
        let n = self.heap.len();
        debug_assert!(pos < n, "sift_down({pos}) on {n}");
        let base = self.heap.as_mut_ptr();
        // SAFETY: see the comment above `sift_up`; every child index is < n.
        unsafe {
            let elem = std::ptr::read(base.add(pos));
            let mut hole = pos;
            loop {
                let first = ARITY * hole + 1;
                let best = if first + ARITY <= n {
                    // A full family: a branch-free tournament. With random
                    // keys a branchy minimum mispredicts half the time.
                    let key = |i: usize| (*base.add(i)).key();
                    let a = first + usize::from(key(first + 1) < key(first));
                    let b = first + 2 + usize::from(key(first + 3) < key(first + 2));
                    a + usize::from(key(b) < key(a)) * (b - a)
                } else if first < n {
                    let mut best = first;
                    for c in first + 1..n {
                        if (*base.add(c)).key() < (*base.add(best)).key() {
                            best = c;
                        }
                    }
                    best
                } else {
                    break;
                };
                std::ptr::copy_nonoverlapping(base.add(best), base.add(hole), 1);
                hole = best;
            }
            std::ptr::write(base.add(hole), elem);
            self.sift_up_to(hole, pos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(n: u64) -> SimTime {
        SimTime::from_nanos(n)
    }

    #[test]
    fn equal_times_leave_first_in_first_out() {
        let mut q = EventQueue::new();
        for i in 0..10 {
            q.push(t(5), i);
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, v)| v)).collect();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn cancel_after_fire_is_a_no_op() {
        let mut q = EventQueue::new();
        let a = q.push_cancellable(t(1), 'a');
        assert_eq!(q.pop(), Some((t(1), 'a')));
        // The slot is reused by b; cancelling the stale handle must not hit b.
        let b = q.push_cancellable(t(2), 'b');
        assert!(!q.cancel(a));
        assert_eq!(q.len(), 1);
        assert!(q.cancel(b));
        assert!(!q.cancel(b));
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn deferred_pop_then_push_replaces_the_root() {
        let mut q = EventQueue::new();
        q.push(t(1), 1);
        q.push(t(3), 3);
        let (now, v) = q.pop_deferred().unwrap();
        assert_eq!((now, v), (t(1), 1));
        assert_eq!(q.len(), 1);
        q.push(t(2), 2);
        q.push(t(4), 4);
        q.settle();
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, v)| v)).collect();
        assert_eq!(order, vec![2, 3, 4]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        PushCancellable(u8),
        Cancel(usize),
        Pop,
        PopDeferredThenPush(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u8>().prop_map(Op::Push),
            any::<u8>().prop_map(Op::PushCancellable),
            any::<usize>().prop_map(Op::Cancel),
            Just(Op::Pop),
            any::<u8>().prop_map(Op::PopDeferredThenPush),
        ]
    }

    proptest! {
        /// Against a sorted-vector model: the queue pops the minimum (time,
        /// seq), never yields a cancelled entry, and counts live entries.
        #[test]
        fn matches_a_sorted_model(ops in prop::collection::vec(op(), 1..400)) {
            let mut q = EventQueue::new();
            // Model: (time, seq, cancelled) for every entry ever pushed.
            let mut model: Vec<(u64, u64, bool, bool)> = Vec::new(); // time, seq, cancelled, fired
            let mut handles: Vec<(EventId, u64)> = Vec::new();
            let mut now = 0u64;
            let mut last_popped: Option<(u64, u64)> = None;
            for op in ops {
                match op {
                    Op::Push(d) => {
                        let seq = q.pushed();
                        q.push(t(now + d as u64), seq);
                        model.push((now + d as u64, seq, false, false));
                    }
                    Op::PushCancellable(d) => {
                        let seq = q.pushed();
                        let id = q.push_cancellable(t(now + d as u64), seq);
                        handles.push((id, seq));
                        model.push((now + d as u64, seq, false, false));
                    }
                    Op::Cancel(i) => {
                        if handles.is_empty() { continue; }
                        let (id, seq) = handles[i % handles.len()];
                        let m = model.iter_mut().find(|m| m.1 == seq).unwrap();
                        let expect = !m.2 && !m.3;
                        prop_assert_eq!(q.cancel(id), expect);
                        m.2 = true;
                    }
                    Op::Pop | Op::PopDeferredThenPush(_) => {
                        let want = model.iter().filter(|m| !m.2 && !m.3).map(|m| (m.0, m.1)).min();
                        let got = if let Op::PopDeferredThenPush(d) = op {
                            let got = q.pop_deferred();
                            if let Some((time, _)) = got {
                                let seq = q.pushed();
                                q.push(t(time.as_nanos() + d as u64), seq);
                                model.push((time.as_nanos() + d as u64, seq, false, false));
                            }
                            q.settle();
                            got
                        } else {
                            q.pop()
                        };
                        match (want, got) {
                            (None, None) => {}
                            (Some((wt, ws)), Some((gt, gs))) => {
                                prop_assert_eq!((wt, ws), (gt.as_nanos(), gs));
                                if let Some(prev) = last_popped { prop_assert!(prev < (wt, ws)); }
                                last_popped = Some((wt, ws));
                                now = wt;
                                model.iter_mut().find(|m| m.1 == ws).unwrap().3 = true;
                            }
                            (w, g) => prop_assert!(false, "model {:?} queue {:?}", w, g),
                        }
                    }
                }
                let live = model.iter().filter(|m| !m.2 && !m.3).count();
                prop_assert_eq!(q.len(), live);
            }
        }
    }
}
