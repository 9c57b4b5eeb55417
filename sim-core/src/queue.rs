//! The pending-event set: a radix heap over event times.
//!
//! Guarantees:
//! - **Total order.** Events leave in non-decreasing time; events at the same
//!   instant leave in the order they were pushed (first in, first out).
//! - **O(1) cancellation.** A cancellable entry owns a slot in a small side
//!   table; cancelling clears the slot, and the entry is dropped when it
//!   reaches the front. No scan ever happens. Cancelling an entry that already
//!   fired (or was cancelled) is a harmless no-op, because a slot remembers
//!   the sequence number of its owner.
//!
//! How: a discrete-event simulation never schedules before the event it is
//! handling, so the times popped never decrease. A radix heap exploits that
//! (Ahuja, Mehlhorn, Orlin and Tarjan, 1990). The front holds the entries
//! at exactly `last`, the time of the latest refill; every other bucket
//! holds those whose time first differs from `last` in one given digit,
//! with one given value there. A push is one bucket append. A pop takes the
//! front's oldest entry; when the front is empty, the
//! lowest non-empty bucket is emptied into lower ones around its minimum,
//! which becomes `last` (a lone entry leaves directly). An entry only ever
//! moves to a lower bucket, so each is moved a few times at most (2.6 on
//! average in the hold model at N = 1,000), always in sequential passes
//! over small arrays, with no comparison against its neighbours. Digits are
//! 4 bits wide (16 values at each of 16 positions), which moves an entry
//! about half as often as one bucket per bit would.
//!
//! The buckets move 24-byte entries of plain words; payloads (a model's
//! messages, 40 bytes or more) stay in a slab until popped, and a popped
//! payload's place is the next one reused, so the slab stays as small as
//! the pending set.
//!
//! First-in-first-out ties come for free: entries with equal times always
//! sit in the same bucket, every move appends, and the front is read from
//! its oldest. So no sequence number is compared, and the order is the one
//! the old `(time, sequence)` heap gave, entry for entry.
//!
//! A push before `last` (possible only after [`EventQueue::peek_time`]
//! refilled past the clock, e.g. an injection between two `run_until`
//! slices) is handled by re-bucketing every entry around the new time, in
//! order: correct, and rare enough that its O(n) does not matter.

use std::collections::VecDeque;

use crate::time::SimTime;

const NO_SLOT: u32 = MAX_SLOTS;

/// Handle to a cancellable entry, returned by [`EventQueue::push_cancellable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    slot: u32,
    seq: u64,
}

/// Bits of `Entry::seq_slot` that hold the cancellation slot; the sequence
/// number sits above them.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// The most cancellable entries pending at once (16.7 million).
const MAX_SLOTS: u32 = (1 << SLOT_BITS) - 1;
/// The most pushes over a queue's life (2^40, about 10^12).
const MAX_SEQ: u64 = 1 << (64 - SLOT_BITS);

/// Bits per digit: times are compared 4 bits at a time.
const DIGIT: u32 = 4;
/// One bucket per (digit position, digit value) of a `u64` time: 16 x 16.
const BUCKETS: usize = 256;

/// What the buckets move: plain words. The payload stays put in
/// `EventQueue::payloads` until its entry is popped, so a move never copies
/// a model's message.
#[derive(Debug, Clone, Copy)]
struct Entry {
    time: u64,
    /// `seq << SLOT_BITS | slot`: packed so that an entry stays small.
    seq_slot: u64,
    /// Where the payload is in `EventQueue::payloads`.
    at: u32,
}

impl Entry {
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
    /// Entries at exactly `last`, oldest first.
    front: VecDeque<Entry>,
    /// `buckets[16 * p + v]` holds the entries whose time first differs
    /// from `last` in 4-bit digit `p`, where the entry's digit is `v`.
    /// Bucket order is time order: digit position first, then value.
    buckets: Vec<Vec<Entry>>,
    /// Bit `b % 64` of word `b / 64` is set when bucket `b` is non-empty.
    occupied: [u64; BUCKETS / 64],
    /// The time every bucket is relative to; no entry is earlier.
    last: u64,
    /// The payloads, by `Entry::at`; a popped one's place is reused first,
    /// so the live payloads stay packed and warm in cache.
    payloads: Vec<Option<T>>,
    free_payloads: Vec<u32>,
    /// Entries held, cancelled ones included.
    held: usize,
    /// For each cancellation slot, the sequence number of the live entry that
    /// owns it, or `CANCELLED`.
    slots: Vec<u64>,
    free_slots: Vec<u32>,
    next_seq: u64,
    cancelled_pending: usize,
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
            front: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: [0; BUCKETS / 64],
            last: 0,
            payloads: Vec::new(),
            free_payloads: Vec::new(),
            held: 0,
            slots: Vec::new(),
            free_slots: Vec::new(),
            next_seq: 0,
            cancelled_pending: 0,
        }
    }

    /// An empty queue with room for `n` entries at the front.
    pub fn with_capacity(n: usize) -> Self {
        let mut q = Self::new();
        q.front.reserve(n);
        q
    }

    /// Live (not cancelled, not yet popped) entries.
    pub fn len(&self) -> usize {
        self.held - self.cancelled_pending
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
        self.fill_front().then(|| SimTime::from_nanos(self.last))
    }

    /// Removes and returns the earliest live entry.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, T)> {
        loop {
            let e = match self.front.pop_front() {
                Some(e) => e,
                None => {
                    let i = self.lowest()?;
                    if self.buckets[i].len() > 1 {
                        self.refill(i);
                        continue;
                    }
                    // A lone entry is the minimum: out at once, not through the front.
                    let e = self.buckets[i].pop().expect("an occupied bucket");
                    self.occupied[i / 64] &= !(1 << (i % 64));
                    self.last = e.time;
                    e
                }
            };
            if let Some(payload) = self.remove(e) {
                return Some((SimTime::from_nanos(e.time), payload));
            }
        }
    }

    /// Lets go of an entry taken out of the buckets: frees its payload's
    /// place and its cancellation slot. Returns the payload, or `None` if
    /// the entry was cancelled. Always inlined: with two callers the
    /// compiler kept it out of line, and the call cost 3-4% of a pattern
    /// run's instructions (callgrind, benches' patterns scenario).
    #[inline(always)]
    fn remove(&mut self, e: Entry) -> Option<T> {
        self.held -= 1;
        let payload = self.payloads[e.at as usize].take().expect("a held entry has its payload");
        self.free_payloads.push(e.at);
        if e.slot() == NO_SLOT {
            return Some(payload);
        }
        let cancelled = self.slots[e.slot() as usize] != e.seq();
        self.release(e.slot());
        if cancelled {
            self.cancelled_pending -= 1;
            return None;
        }
        Some(payload)
    }

    #[inline]
    fn insert(&mut self, time: SimTime, slot: u32, payload: T) {
        let seq = self.next_seq;
        assert!(seq < MAX_SEQ, "the event queue ran out of sequence numbers ({MAX_SEQ} pushes)");
        self.next_seq += 1;
        let time = time.as_nanos();
        if time < self.last {
            self.rebase(time);
        }
        self.held += 1;
        let at = match self.free_payloads.pop() {
            Some(at) => {
                self.payloads[at as usize] = Some(payload);
                at
            }
            None => {
                self.payloads.push(Some(payload));
                (self.payloads.len() - 1) as u32
            }
        };
        self.place(Entry { time, seq_slot: (seq << SLOT_BITS) | u64::from(slot), at });
    }

    /// Appends `e` to its bucket relative to `last` (which is not above it).
    #[inline(always)]
    fn place(&mut self, e: Entry) {
        let x = e.time ^ self.last;
        if x == 0 {
            self.front.push_back(e);
        } else {
            let shift = (63 - x.leading_zeros()) / DIGIT * DIGIT;
            let b = ((shift as usize) << 2) | ((e.time >> shift) & 15) as usize;
            self.buckets[b].push(e);
            self.occupied[b / 64] |= 1 << (b % 64);
        }
    }

    /// Makes the front hold the earliest live entry; false if none is left.
    fn fill_front(&mut self) -> bool {
        loop {
            match self.front.front() {
                Some(e) if self.cancelled_pending == 0 || !self.is_cancelled(e) => return true,
                Some(_) => {
                    let e = self.front.pop_front().expect("a front entry");
                    let dropped = self.remove(e);
                    debug_assert!(dropped.is_none(), "only a cancelled entry is skipped");
                }
                None => match self.lowest() {
                    Some(i) => self.refill(i),
                    None => return false,
                },
            }
        }
    }

    /// The lowest non-empty bucket, which holds the earliest entry when the
    /// front is empty.
    #[inline]
    fn lowest(&self) -> Option<usize> {
        let w = self.occupied.iter().position(|&w| w != 0)?;
        Some(w * 64 + self.occupied[w].trailing_zeros() as usize)
    }

    /// Empties bucket `i` around its minimum, which becomes `last`: the
    /// minimum's entries go to the front, in their order, the rest to lower
    /// buckets.
    fn refill(&mut self, i: usize) {
        let mut bucket = std::mem::take(&mut self.buckets[i]);
        self.occupied[i / 64] &= !(1 << (i % 64));
        self.last = bucket.iter().map(|e| e.time).min().expect("an occupied bucket");
        for e in bucket.drain(..) {
            self.place(e);
        }
        // Keep the allocation for the bucket's next fill.
        if self.buckets[i].capacity() == 0 {
            self.buckets[i] = bucket;
        }
    }

    /// Re-buckets every entry around `time`, which is before `last`,
    /// keeping each bucket's order so that ties stay first in, first out.
    #[cold]
    fn rebase(&mut self, time: u64) {
        let mut all: Vec<Entry> = Vec::with_capacity(self.held);
        all.extend(self.front.drain(..));
        for b in &mut self.buckets {
            all.append(b);
        }
        self.occupied = [0; BUCKETS / 64];
        self.last = time;
        // Equal times sat in one bucket, in order, so gathering bucket by
        // bucket keeps their order; `place` appends.
        for e in all {
            self.place(e);
        }
    }

    #[inline]
    fn is_cancelled(&self, e: &Entry) -> bool {
        e.slot() != NO_SLOT && self.slots[e.slot() as usize] != e.seq()
    }

    fn release(&mut self, slot: u32) {
        self.slots[slot as usize] = CANCELLED;
        self.free_slots.push(slot);
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
    fn a_push_before_a_peeked_time_still_comes_out_first_and_ties_stay_in_order() {
        let mut q = EventQueue::new();
        for (i, time) in [9, 5, 9, 7, 5].into_iter().enumerate() {
            q.push(t(time), i);
        }
        assert_eq!(q.pop(), Some((t(5), 1)));
        // Peeking refills past the clock (to 5, then 7 after the pop below).
        assert_eq!(q.pop(), Some((t(5), 4)));
        assert_eq!(q.peek_time(), Some(t(7)));
        // An injection at 6 is before the refilled time: a rebase.
        q.push(t(6), 5);
        q.push(t(9), 6);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(t(6), 5), (t(7), 3), (t(9), 0), (t(9), 2), (t(9), 6)]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        PushCancellable(u8),
        Cancel(usize),
        Pop,
        /// Peek, then push `d` after the last popped time: possibly before
        /// the peeked one.
        PeekThenPush(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u8>().prop_map(Op::Push),
            any::<u8>().prop_map(Op::PushCancellable),
            any::<usize>().prop_map(Op::Cancel),
            Just(Op::Pop),
            any::<u8>().prop_map(Op::PeekThenPush),
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
                    Op::PeekThenPush(d) => {
                        let want = model.iter().filter(|m| !m.2 && !m.3).map(|m| m.0).min();
                        prop_assert_eq!(q.peek_time().map(SimTime::as_nanos), want);
                        let seq = q.pushed();
                        q.push(t(now + d as u64 / 4), seq);
                        model.push((now + d as u64 / 4, seq, false, false));
                    }
                    Op::Pop => {
                        let want = model.iter().filter(|m| !m.2 && !m.3).map(|m| (m.0, m.1)).min();
                        let got = q.pop();
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
