//! The requests of a run, by id: the recent ones in a window that slides
//! with the arrivals, older ones not yet settled on the side.
//!
//! Without retirement every request stays in the window, and the store is
//! a vector indexed by id. With it ([`crate::config::WorkloadConfig::retire_after`]),
//! the world hands each request that has been settled and untouched long
//! enough to its [`Tally`](crate::tally::Tally) and drops the record, so a
//! long run keeps only the requests of its last stretch, plus those that
//! are still unsettled (which the run must remember to measure them).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use sim_core::SimTime;

use crate::msg::RequestId;
use crate::request::RequestRecord;

/// The requests a run keeps for its log: those with the `limit` smallest
/// keys. A sample drawn from the smallest keys over several runs (the
/// runner's `requests.csv`) can only pick, from each run, requests among
/// that run's `limit` smallest.
#[derive(Clone)]
pub struct RequestSample {
    /// How many to keep.
    pub limit: usize,
    /// Each request's key, by id.
    pub key: std::sync::Arc<dyn Fn(RequestId) -> u64 + Send + Sync>,
}

impl std::fmt::Debug for RequestSample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSample").field("limit", &self.limit).finish_non_exhaustive()
    }
}

/// Adds `item` to `heap` (largest on top), which then holds the `limit`
/// smallest items offered: a bounded selection in `O(limit)` memory.
pub fn keep_smallest<T: Ord>(heap: &mut BinaryHeap<T>, limit: usize, item: T) {
    if heap.len() < limit {
        heap.push(item);
    } else if let Some(mut top) = heap.peek_mut() {
        if item < *top {
            *top = item;
        }
    }
}

/// Retired records kept for the run's log: every one, or those with the
/// sample's smallest keys.
#[derive(Debug)]
pub(crate) struct Kept {
    sample: Option<RequestSample>,
    /// Largest key on top, so that the sample evicts it.
    records: BinaryHeap<Keyed>,
}

/// A kept record, ordered by its sample key, then its id.
#[derive(Debug)]
struct Keyed {
    key: u64,
    record: RequestRecord,
}

impl Keyed {
    fn rank(&self) -> (u64, RequestId) {
        (self.key, self.record.id)
    }
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}

impl Eq for Keyed {}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl Kept {
    /// Keeps every record, or the sample's.
    pub(crate) fn new(sample: Option<RequestSample>) -> Self {
        Kept { sample, records: BinaryHeap::new() }
    }

    /// Offers a retired record.
    pub(crate) fn keep(&mut self, record: RequestRecord) {
        match &self.sample {
            None => self.records.push(Keyed { key: 0, record }),
            Some(s) => {
                let key = (s.key)(record.id);
                keep_smallest(&mut self.records, s.limit, Keyed { key, record });
            }
        }
    }

    /// The kept records, in no order.
    pub(crate) fn records(&self) -> impl Iterator<Item = &RequestRecord> {
        self.records.iter().map(|k| &k.record)
    }
}

/// A request's record and what retiring it needs to know.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The record.
    pub record: RequestRecord,
    /// When the record last changed.
    pub touched: SimTime,
    /// A broker persisted the request's event.
    pub published: bool,
    /// A re-subscription of its customer was scheduled: it is due while
    /// the record's `resubscribed` is `None`.
    pub resubscribe_due: bool,
}

/// Every live request, by id.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// The id of `window`'s first entry.
    base: RequestId,
    /// Requests `base..` by id; `None` once retired or moved aside.
    window: VecDeque<Option<Entry>>,
    /// Requests older than the window that were not settled when it moved on.
    stragglers: BTreeMap<RequestId, Entry>,
}

impl Requests {
    /// Requests issued so far, retired ones included: the next id.
    pub(crate) fn issued(&self) -> u64 {
        u64::from(self.base) + self.window.len() as u64
    }

    /// The id the next request gets.
    pub(crate) fn next_id(&self) -> RequestId {
        RequestId::try_from(self.issued()).expect("fewer than 2^32 requests")
    }

    /// Adds the next request, whose record carries [`Requests::next_id`].
    pub(crate) fn push(&mut self, e: Entry) {
        debug_assert_eq!(e.record.id, self.next_id());
        self.window.push_back(Some(e));
    }

    /// A live request.
    pub(crate) fn get(&self, id: RequestId) -> Option<&Entry> {
        match id.checked_sub(self.base) {
            Some(i) => self.window.get(i as usize)?.as_ref(),
            None => self.stragglers.get(&id),
        }
    }

    /// A live request, to change it.
    pub(crate) fn get_mut(&mut self, id: RequestId) -> Option<&mut Entry> {
        match id.checked_sub(self.base) {
            Some(i) => self.window.get_mut(i as usize)?.as_mut(),
            None => self.stragglers.get_mut(&id),
        }
    }

    /// Every live request with its id, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (RequestId, &Entry)> {
        let base = self.base;
        self.stragglers
            .iter()
            .map(|(&id, e)| (id, e))
            .chain(self.window.iter().enumerate().filter_map(move |(i, e)| Some((base + i as RequestId, e.as_ref()?))))
    }

    /// Live requests (for memory accounting in tests).
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.stragglers.len() + self.window.iter().flatten().count()
    }

    /// Moves the window past every request that arrived at or before
    /// `cutoff`: those `retirable` says yes to go to `retire`, the rest to
    /// the stragglers.
    pub(crate) fn slide(
        &mut self,
        cutoff: SimTime,
        retirable: impl Fn(&Entry) -> bool,
        mut retire: impl FnMut(RequestId, Entry),
    ) {
        while let Some(front) = self.window.front() {
            if front.as_ref().is_some_and(|e| e.record.arrival > cutoff) {
                break;
            }
            let id = self.base;
            self.base += 1;
            if let Some(e) = self.window.pop_front().flatten() {
                if retirable(&e) {
                    retire(id, e);
                } else {
                    self.stragglers.insert(id, e);
                }
            }
        }
    }

    /// Retires every straggler `retirable` says yes to.
    pub(crate) fn sweep_stragglers(
        &mut self,
        retirable: impl Fn(&Entry) -> bool,
        mut retire: impl FnMut(RequestId, Entry),
    ) {
        let ids: Vec<RequestId> = self.stragglers.iter().filter(|(_, e)| retirable(e)).map(|(&id, _)| id).collect();
        for id in ids {
            let e = self.stragglers.remove(&id).expect("listed above");
            retire(id, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Outcome;

    fn entry(arrival: u64) -> Entry {
        Entry {
            record: RequestRecord {
                id: arrival as RequestId,
                customer: 0,
                arrival: SimTime::from_nanos(arrival),
                answered: None,
                outcome: Outcome::Pending,
                deleted: smallvec::smallvec![None; 2],
                restored: false,
                compensated_knowing: None,
                resubscribed: None,
                deleted_after_resubscribe: false,
            },
            touched: SimTime::from_nanos(arrival),
            published: false,
            resubscribe_due: false,
        }
    }

    #[test]
    fn the_window_slides_and_keeps_the_unsettled_aside() {
        let mut r = Requests::default();
        for t in 0..10 {
            assert_eq!(r.next_id(), t as RequestId);
            r.push(entry(t));
        }
        let mut retired = Vec::new();
        // Even arrivals are settled.
        r.slide(SimTime::from_nanos(5), |e| e.record.arrival.as_nanos() % 2 == 0, |id, _| retired.push(id));
        assert_eq!(retired, vec![0, 2, 4]);
        assert_eq!(r.issued(), 10);
        assert_eq!(r.live(), 7);
        assert!(r.get(2).is_none() && r.get(3).is_some() && r.get(6).is_some() && r.get(10).is_none());
        assert_eq!(r.iter().map(|(id, _)| id).collect::<Vec<_>>(), vec![1, 3, 5, 6, 7, 8, 9]);
        r.sweep_stragglers(|e| e.record.arrival.as_nanos() < 4, |id, _| retired.push(id));
        assert_eq!(retired, vec![0, 2, 4, 1, 3]);
        r.push(entry(10));
        assert_eq!(r.next_id(), 11);
        assert!(r.get_mut(5).is_some() && r.get_mut(4).is_none());
    }
}
