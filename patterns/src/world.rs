//! The model state of one run: the tables and what the run measures.
//!
//! The simulation owns the one [`World`] and lends it to whichever handler
//! runs ([`sim_core::Context::state_mut`]), so no borrow can clash.
//!
//! Each service only touches its own table, except the background sync job,
//! which (as in the book) writes into tables it does not own. Keeping the
//! tables in one place lets the measurements see every change the instant
//! it happens: which customers are inconsistent, and when each row went.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};
use sim_core::{SimDuration, SimTime};

use crate::msg::{CustomerId, RequestId};
use crate::presence::Presence;
pub use crate::request::{Deletions, Lags, Outcome, RequestRecord};
use crate::requests::{Entry, Kept, RequestSample, Requests};
use crate::series::Series;
use crate::tally::Tally;
use crate::topology::TableId;

/// Event counters of a run. Every failure path of every pattern lands here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Database operations: one per row written, one per scan or read.
    pub db_ops: u64,
    /// Rows scanned by background sync.
    pub rows_scanned: u64,
    /// Calls retried after a timeout or an error.
    pub retries: u64,
    /// Calls that timed out.
    pub timeouts: u64,
    /// Operations that failed by injected service errors.
    pub service_errors: u64,
    /// Sagas that compensated.
    pub compensations: u64,
    /// Compensating calls that failed after their retries.
    pub failed_compensations: u64,
    /// Broker redeliveries.
    pub redeliveries: u64,
    /// Duplicate deliveries detected by idempotent consumers.
    pub duplicates: u64,
    /// Messages moved to the dead-letter queue.
    pub dead_lettered: u64,
    /// Dead-letter entries the automated repair job re-queued.
    pub dlq_repaired: u64,
    /// Cases left for a human: failed compensations, dead letters the
    /// repair job gave up on, sagas that reported success over a failure.
    pub manual_repairs: u64,
    /// Publishes re-sent because the broker did not confirm them.
    pub publish_retries: u64,
    /// Background sync runs started.
    pub sync_runs: u64,
    /// Background sync runs that did not finish (crash or unreachable database).
    pub sync_failed_runs: u64,
    /// Rows re-inserted by a compensation (the only way a row comes back).
    pub rows_restored: u64,
    /// Side-effect actions taken (the book's Billing charges), over every
    /// follower; [`World::side_effects`] has them per follower.
    pub charges: u64,
    /// Of those, actions after the customer was told "you will no longer be
    /// billed": anomalies.
    pub charges_after_unsubscribe: u64,
    /// Their cost, in cents.
    pub charged_after_unsubscribe_cents: u64,
    /// Rows acted on twice in one period.
    pub double_charges: u64,
    /// Deletes that found no row (idempotent replays).
    pub idempotent_noops: u64,
    /// Commit-log entries the change-data-capture tailer came to read but
    /// found dropped: the log's retention passed while it was behind. Those
    /// it had not published before are lost events (`events_lost`); the
    /// rest it had published after its last offset commit.
    pub log_entries_lost: u64,
    /// Customers who subscribed again after leaving.
    pub resubscriptions: u64,
    /// New customers who subscribed during the run (background traffic).
    pub signups: u64,
    /// Profile updates sent to the source (background traffic).
    pub update_requests: u64,
    /// Profile updates committed at the source.
    pub updates: u64,
    /// `CustomerUpdated` events a follower applied.
    pub update_events_applied: u64,
    /// Rows of a new subscription removed by the old unsubscribe's delete.
    pub deletes_after_resubscribe: u64,
    /// Fenced deletes a participant refused because a newer compensation
    /// for the same customer had reached it first.
    pub fenced_rejections: u64,
}

/// One entry of a run's timeline, for trace viewers. Recorded only when
/// the run asks for it ([`World::record_timeline`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TimelineEvent {
    /// A service worked on something from `start` for `dur`.
    Span {
        /// The node.
        node: sim_core::NodeId,
        /// What it did.
        name: &'static str,
        /// The customer, when the work is about one.
        customer: Option<CustomerId>,
        /// Start.
        start: SimTime,
        /// Length.
        dur: sim_core::SimDuration,
    },
    /// A user asked to unsubscribe.
    Request {
        /// The request.
        req: RequestId,
        /// The customer.
        customer: CustomerId,
        /// When.
        at: SimTime,
    },
    /// A user got an answer.
    Answer {
        /// The request.
        req: RequestId,
        /// The customer.
        customer: CustomerId,
        /// What they were told.
        outcome: Outcome,
        /// When.
        at: SimTime,
    },
    /// A row was deleted, or restored by a compensation.
    Row {
        /// The table.
        table: TableId,
        /// The customer.
        customer: CustomerId,
        /// The customer's request, if any.
        req: Option<RequestId>,
        /// True for a delete, false for a restore.
        deleted: bool,
        /// When.
        at: SimTime,
    },
}

/// A customer's request, if any, in four bytes: the id plus one in the low
/// 31 bits, so that "none" is the niche of a `NonZeroU32` rather than a
/// sentinel id, and in the top bit whether a retired request left the
/// customer told "unsubscribed" (and not back): what billing must still
/// know once the record is gone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RequestSlot(Option<NonZeroU32>);

impl RequestSlot {
    const TOLD_OK: u32 = 1 << 31;

    fn of(id: RequestId) -> Self {
        let raw = id.checked_add(1).filter(|&n| n < Self::TOLD_OK).expect("fewer than 2^31 - 1 requests");
        RequestSlot(NonZeroU32::new(raw))
    }

    fn get(self) -> Option<RequestId> {
        self.0.map(|n| (n.get() & !Self::TOLD_OK) - 1)
    }

    /// Marks a retired request's customer as told "unsubscribed".
    fn told_ok(self) -> Self {
        RequestSlot(self.0.map(|n| n | Self::TOLD_OK))
    }

    fn is_told_ok(self) -> bool {
        self.0.is_some_and(|n| n.get() & Self::TOLD_OK != 0)
    }
}

/// One follower's side effect, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideEffectTally {
    /// Actions taken.
    pub actions: u64,
    /// Actions after the customer was told they left: anomalies.
    pub after_unsubscribe: u64,
    /// The anomalies' cost, in cents.
    pub cost_cents: u64,
    /// Rows acted on twice in one period.
    pub doubles: u64,
}

/// The tables and the measurements.
#[derive(Debug)]
pub struct World {
    tables: usize,
    /// Which rows exist, a bit each.
    present: Presence,
    rows: Vec<u32>,
    inconsistent: u32,
    /// `(time, inconsistent customers)`, on the run's grid.
    series: Series,
    /// The live requests.
    requests: Requests,
    /// What the retired requests measured.
    retired: Tally,
    /// Retire a settled request once untouched this long (never if `None`).
    retire_after: Option<SimDuration>,
    /// When the next sweep of the stragglers is due.
    next_sweep: SimTime,
    /// Changes that reached a retired request: its tally may be off.
    retired_touches: u64,
    /// Retired records, kept for the report's log when it asks for them.
    kept: Option<Kept>,
    /// A broker carries the deletes: a request whose event it never
    /// persisted is an anomaly, and is not retired.
    tracks_publishing: bool,
    /// When the arrival window closes.
    arrivals_end: SimTime,
    /// For each customer, their request, if any.
    request_of: Vec<RequestSlot>,
    /// The counters.
    pub counters: Counters,
    /// Side effects by table index (the source's, and followers' without
    /// one, stay zero).
    pub side_effects: Vec<SideEffectTally>,
    /// The timeline, when recorded.
    pub timeline: Option<Vec<TimelineEvent>>,
}

impl World {
    /// `customers` subscribed customers, each with a row in each of `tables`
    /// tables (the source's and one per follower), in a run whose arrivals
    /// end at `arrivals_end` and which ends at `horizon` (the inconsistency
    /// series' grid spans it).
    ///
    /// # Panics
    /// Unless there are 2 to 65 tables.
    pub fn new(customers: u32, tables: usize, arrivals_end: SimTime, horizon: SimTime) -> Self {
        assert!((2..=crate::topology::MAX_FOLLOWERS + 1).contains(&tables), "{tables} tables");
        World {
            tables,
            present: Presence::full(customers, tables),
            rows: vec![customers; tables],
            inconsistent: 0,
            series: Series::new(horizon),
            requests: Requests::default(),
            retired: Tally::default(),
            retire_after: None,
            next_sweep: SimTime::ZERO,
            retired_touches: 0,
            kept: None,
            tracks_publishing: false,
            arrivals_end,
            request_of: vec![RequestSlot::default(); customers as usize],
            counters: Counters::default(),
            side_effects: vec![SideEffectTally::default(); tables],
            timeline: None,
        }
    }

    /// The number of customers.
    pub fn customers(&self) -> u32 {
        self.request_of.len() as u32
    }

    /// The number of tables.
    pub fn tables(&self) -> usize {
        self.tables
    }

    /// Rows in a table.
    pub fn rows(&self, t: TableId) -> u32 {
        self.rows[t.index()]
    }

    /// Whether the customer has a row in the table.
    pub fn present(&self, t: TableId, c: CustomerId) -> bool {
        self.present.has(c, t)
    }

    /// Whether the customer has lost a row in any table.
    pub fn any_absent(&self, c: CustomerId) -> bool {
        self.present.rows_of(c) != self.tables
    }

    /// `(time, inconsistent customers)` on the run's grid
    /// ([`crate::series`]).
    pub fn series(&self) -> Vec<(SimTime, u32)> {
        self.series.points()
    }

    /// Customers whose rows disagree right now.
    pub fn inconsistent(&self) -> u32 {
        self.inconsistent
    }

    fn set(&mut self, t: TableId, c: CustomerId, present: bool, now: SimTime) -> bool {
        let Some((rows_before, rows_after)) = self.present.change(c, t, present) else {
            return false;
        };
        let inconsistent = |n: usize| n != 0 && n != self.tables;
        let (before, after) = (inconsistent(rows_before), inconsistent(rows_after));
        if present {
            self.rows[t.index()] += 1;
        } else {
            self.rows[t.index()] -= 1;
        }
        if before != after {
            if after {
                self.inconsistent += 1;
            } else {
                self.inconsistent -= 1;
            }
            self.series.set(now, self.inconsistent);
        }
        true
    }

    /// Starts recording the timeline.
    pub fn record_timeline(&mut self) {
        self.timeline = Some(Vec::new());
    }

    /// Adds to the timeline, if it is being recorded.
    pub fn log(&mut self, e: impl FnOnce() -> TimelineEvent) {
        if let Some(t) = self.timeline.as_mut() {
            t.push(e());
        }
    }

    fn log_row(&mut self, table: TableId, customer: CustomerId, deleted: bool, at: SimTime) {
        if self.timeline.is_some() {
            let req = self.request_of.get(customer as usize).and_then(|s| s.get());
            self.log(|| TimelineEvent::Row { table, customer, req, deleted, at });
        }
    }

    /// Deletes a row. Returns whether there was one.
    pub fn delete(&mut self, t: TableId, c: CustomerId, now: SimTime) -> bool {
        let changed = self.clear_row(t, c, now);
        if changed {
            self.note_delete(t, c, now);
        }
        changed
    }

    /// Deletes table `t`'s rows of `customers` at `now`, as [`World::delete`]
    /// on each in turn would, calling `deleted` with each customer whose row
    /// was there, in order.
    ///
    /// The rows go first and the request records after: a record is a
    /// cache miss (a random one among a run's requests), and a loop that
    /// touches only records lets the processor wait for several at once.
    /// Nothing reads the records between the two passes.
    pub fn delete_many(
        &mut self,
        t: TableId,
        customers: &[CustomerId],
        now: SimTime,
        mut deleted: impl FnMut(CustomerId),
    ) {
        let mut changed = Vec::with_capacity(customers.len());
        for &c in customers {
            if self.clear_row(t, c, now) {
                deleted(c);
                changed.push(c);
            }
        }
        for c in changed {
            self.note_delete(t, c, now);
        }
    }

    /// The row part of a delete: the bit, the counts and the timeline.
    fn clear_row(&mut self, t: TableId, c: CustomerId, now: SimTime) -> bool {
        let changed = self.set(t, c, false, now);
        if changed {
            self.log_row(t, c, true, now);
        } else {
            self.counters.idempotent_noops += 1;
        }
        changed
    }

    /// The request part of a delete that removed a row: when it went.
    fn note_delete(&mut self, t: TableId, c: CustomerId, now: SimTime) {
        if let Some(r) = self.request_mut_of(c, now) {
            if r.resubscribed.is_some() {
                // The old unsubscribe's delete, landing on the new subscription.
                r.deleted_after_resubscribe = true;
                self.counters.deletes_after_resubscribe += 1;
            } else {
                r.deleted[t.index()] = Some(now);
            }
        }
    }

    /// Numbers the next committed profile update.
    pub fn next_update_id(&mut self) -> crate::msg::UpdateId {
        let id = self.counters.updates as crate::msg::UpdateId;
        self.counters.updates += 1;
        id
    }

    /// A new customer subscribes (background traffic): a row in every table
    /// at once. Returns their id, the next after every existing customer.
    pub fn signup(&mut self) -> CustomerId {
        let c = self.customers();
        self.present.push_full();
        for r in &mut self.rows {
            *r += 1;
        }
        self.request_of.push(RequestSlot::default());
        self.counters.signups += 1;
        c
    }

    /// The customer subscribes again: a row in every table at once. The
    /// deletes already recorded for their unsubscribe stay as they were.
    pub fn resubscribe(&mut self, c: CustomerId, now: SimTime) {
        let Some(r) = self.request_mut_of(c, now) else { return };
        if r.resubscribed.is_some() {
            return;
        }
        r.resubscribed = Some(now);
        self.counters.resubscriptions += 1;
        for t in 0..self.tables {
            let t = TableId::from_index(t);
            if self.set(t, c, true, now) {
                self.log_row(t, c, false, now);
            }
        }
    }

    /// Records that the customer's saga compensates at `now`, knowing of
    /// the deletes in `confirmed` (by table index).
    pub fn begin_compensation(&mut self, c: CustomerId, confirmed: Vec<bool>, now: SimTime) {
        if let Some(r) = self.request_mut_of(c, now) {
            r.compensated_knowing = Some(confirmed);
        }
    }

    /// Re-inserts a row through a compensation. Returns whether it was missing.
    pub fn restore(&mut self, t: TableId, c: CustomerId, now: SimTime) -> bool {
        let changed = self.set(t, c, true, now);
        if changed {
            self.log_row(t, c, false, now);
            self.counters.rows_restored += 1;
            if let Some(r) = self.request_mut_of(c, now) {
                r.deleted[t.index()] = None;
                r.restored = true;
            }
        }
        changed
    }

    /// Records a new request and returns its id.
    pub fn new_request(&mut self, customer: CustomerId, arrival: SimTime) -> RequestId {
        self.retire(arrival);
        let id = self.requests.next_id();
        self.requests.push(Entry {
            record: RequestRecord {
                id,
                customer,
                arrival,
                answered: None,
                outcome: Outcome::Pending,
                deleted: smallvec::smallvec![None; self.tables],
                restored: false,
                compensated_knowing: None,
                resubscribed: None,
                deleted_after_resubscribe: false,
            },
            touched: arrival,
            published: false,
            resubscribe_due: false,
        });
        self.request_of[customer as usize] = RequestSlot::of(id);
        self.log(|| TimelineEvent::Request { req: id, customer, at: arrival });
        id
    }

    /// The id of the request a customer made, if any.
    pub fn request_id_of(&self, c: CustomerId) -> Option<RequestId> {
        self.request_of[c as usize].get()
    }

    /// Whether the customer made a request.
    pub fn has_requested(&self, c: CustomerId) -> bool {
        self.request_of[c as usize].get().is_some()
    }

    /// The record of the request a customer made, if any and not retired.
    pub fn request_of(&self, c: CustomerId) -> Option<&RequestRecord> {
        self.request(self.request_of[c as usize].get()?)
    }

    /// A request's record, unless it was retired.
    pub fn request(&self, id: RequestId) -> Option<&RequestRecord> {
        self.requests.get(id).map(|e| &e.record)
    }

    /// Requests issued so far, retired ones included.
    pub fn request_count(&self) -> u64 {
        self.requests.issued()
    }

    /// The customer's request, to change it at `now`; a change that finds
    /// it retired is counted ([`World::retired_touches`]).
    fn request_mut_of(&mut self, c: CustomerId, now: SimTime) -> Option<&mut RequestRecord> {
        let id = self.request_of[c as usize].get()?;
        match self.requests.get_mut(id) {
            Some(e) => {
                e.touched = now;
                Some(&mut e.record)
            }
            None => {
                self.retired_touches += 1;
                None
            }
        }
    }

    /// Records what the user was told, once: a late answer after the user
    /// gave up does not change what they saw.
    pub fn answer(&mut self, req: RequestId, outcome: Outcome, now: SimTime) {
        // Only an answered request retires, so this one is live.
        let Some(e) = self.requests.get_mut(req) else { return };
        let r = &mut e.record;
        if r.outcome == Outcome::Pending {
            r.outcome = outcome;
            r.answered = Some(now);
            e.touched = now;
            let customer = r.customer;
            self.log(|| TimelineEvent::Answer { req, customer, outcome, at: now });
        }
    }

    /// Records that a broker durably persisted the request's event.
    pub fn mark_published(&mut self, req: RequestId) {
        // A retired request with a deleted source row was published already.
        if let Some(e) = self.requests.get_mut(req) {
            e.published = true;
        }
    }

    /// Records that the request's customer will subscribe again: the
    /// request stays until they have.
    pub fn expect_resubscribe(&mut self, req: RequestId) {
        if let Some(e) = self.requests.get_mut(req) {
            e.resubscribe_due = true;
        }
    }

    /// Judges a broker's persisting of events: a request whose source row
    /// went but whose event was never persisted is then not retired.
    pub fn track_publishing(&mut self) {
        self.tracks_publishing = true;
    }

    /// Retires each request settled (answered; its customer's rows all
    /// gone or all there; no re-subscription due; its event persisted
    /// where a broker carries them) and untouched for `after`: its
    /// measurements go into the run's tally and its record is dropped.
    pub fn retire_settled_after(&mut self, after: SimDuration) {
        self.retire_after = Some(after);
    }

    /// Keeps retired requests' records for [`World::request_log`]: every
    /// one, or those of the sample.
    pub fn keep_retired_records(&mut self, sample: Option<RequestSample>) {
        self.kept = Some(Kept::new(sample));
    }

    /// Changes that reached a request after it was retired: each may have
    /// left the run's tally off (a longer `retire_after` avoids them).
    pub fn retired_touches(&self) -> u64 {
        self.retired_touches
    }

    /// Requests still held (not retired).
    pub fn live_requests(&self) -> usize {
        self.requests.iter().count()
    }

    fn retire(&mut self, now: SimTime) {
        let Some(after) = self.retire_after else { return };
        let Some(cutoff) = now.as_nanos().checked_sub(after.as_nanos()).map(SimTime::from_nanos) else { return };
        let (tables, tracks_publishing) = (self.tables, self.tracks_publishing);
        let present = &self.present;
        let retirable = |e: &Entry| {
            let r = &e.record;
            let rows = present.rows_of(r.customer);
            let lost = tracks_publishing && Tally::is_unpublished(r, e.published);
            r.outcome != Outcome::Pending
                && e.touched <= cutoff
                && !(e.resubscribe_due && r.resubscribed.is_none())
                && !lost
                && (rows == 0 || rows == tables)
        };
        let (retired, request_of, kept, window_end) =
            (&mut self.retired, &mut self.request_of, &mut self.kept, self.arrivals_end);
        let mut fold = |id: RequestId, e: Entry| {
            retired.add(&e.record, e.published, window_end);
            let slot = &mut request_of[e.record.customer as usize];
            // A later request of the same customer keeps the slot.
            if slot.get() == Some(id) && e.record.outcome == Outcome::Ok && e.record.resubscribed.is_none() {
                *slot = slot.told_ok();
            }
            if let Some(k) = kept {
                k.keep(e.record);
            }
        };
        self.requests.slide(cutoff, retirable, &mut fold);
        if now >= self.next_sweep {
            // Stragglers settle rarely: a sweep a quarter of the window
            // apart bounds them to what is really unsettled.
            self.requests.sweep_stragglers(retirable, &mut fold);
            self.next_sweep = now + SimDuration::from_nanos((after.as_nanos() / 4).max(1));
        }
    }

    /// Requests whose source delete happened but whose event no broker
    /// persisted: [`Tally::unpublished`] of [`World::tally`], without
    /// copying the tally's samples (three histograms, 9 MB past a day).
    pub fn unpublished(&self) -> u64 {
        let live = self.requests.iter().filter(|(_, e)| Tally::is_unpublished(&e.record, e.published));
        self.retired.unpublished + live.count() as u64
    }

    /// What every request measured: the retired ones' tally plus the live
    /// ones'.
    pub fn tally(&self) -> Tally {
        let mut t = self.retired.clone();
        for (_, e) in self.requests.iter() {
            t.add(&e.record, e.published, self.arrivals_end);
        }
        t
    }

    /// Every request's record in id order: the live ones, and the retired
    /// ones if [`World::keep_retired_records`] was asked for (else those
    /// are missing).
    pub fn request_log(&self) -> Vec<RequestRecord> {
        let mut all: Vec<(RequestId, &RequestRecord)> = self.requests.iter().map(|(id, e)| (id, &e.record)).collect();
        all.extend(self.kept.iter().flat_map(Kept::records).map(|r| (r.id, r)));
        all.sort_unstable_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, r)| r.clone()).collect()
    }

    /// Whether the customer was told "unsubscribed" at or before `now`, and
    /// has not subscribed again since.
    pub fn told_unsubscribed(&self, c: CustomerId, now: SimTime) -> bool {
        let slot = self.request_of[c as usize];
        match slot.get().and_then(|id| self.requests.get(id)) {
            Some(e) => {
                let r = &e.record;
                r.outcome == Outcome::Ok
                    && r.answered.is_some_and(|t| t <= now)
                    && r.resubscribed.is_none_or(|t| t > now)
            }
            // Retired: answered long before now, and not coming back.
            None => slot.is_told_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inconsistency_follows_the_tables() {
        let mut w = World::new(3, 3, SimTime::from_nanos(600), SimTime::from_nanos(600));
        let [profile, contract, billing] = [TableId::SOURCE, TableId::follower(0), TableId::follower(1)];
        let t = |s| SimTime::from_nanos(s);
        w.new_request(1, t(0));
        assert!(w.delete(profile, 1, t(1)));
        assert_eq!(w.inconsistent(), 1);
        assert!(!w.delete(profile, 1, t(2)));
        w.delete(contract, 1, t(3));
        assert_eq!(w.inconsistent(), 1);
        w.delete(billing, 1, t(4));
        assert_eq!(w.inconsistent(), 0);
        assert_eq!(w.request_of(1).unwrap().consistent_at(), Some(t(4)));
        assert_eq!(&w.series()[..6], &[(t(0), 0), (t(1), 1), (t(2), 1), (t(3), 1), (t(4), 1), (t(5), 0)]);
        w.restore(billing, 1, t(5));
        assert_eq!(w.inconsistent(), 1);
        assert!(w.request_of(1).unwrap().restored);
        assert_eq!(w.request_of(1).unwrap().consistent_at(), None);
        assert_eq!(w.counters.idempotent_noops, 1);
    }

    /// A world with `customers` customers over three tables, the even ones
    /// having asked to leave at time 0 and every fourth back since time 1.
    fn world_with_requests(customers: u32) -> World {
        let t = SimTime::from_nanos;
        let mut w = World::new(customers, 3, t(1000), t(1000));
        w.record_timeline();
        for c in (0..customers).step_by(2) {
            w.new_request(c, t(0));
        }
        for c in (0..customers).step_by(4) {
            w.delete(TableId::follower(0), c, t(1));
            w.resubscribe(c, t(1));
        }
        w
    }

    proptest::proptest! {
        /// Deleting a batch leaves the world as deleting its rows one at a
        /// time does: rows, counts, series, timeline and request records,
        /// and it reports the same rows deleted, in order.
        #[test]
        fn a_batch_deletes_as_its_rows_one_by_one(
            batches in proptest::collection::vec(
                (0usize..3, proptest::collection::vec(0u32..24, 0..30)),
                1..6,
            ),
        ) {
            let (mut one, mut many) = (world_with_requests(24), world_with_requests(24));
            for (i, (table, ids)) in batches.iter().enumerate() {
                let (t, now) = (TableId::from_index(*table), SimTime::from_nanos(2 + i as u64));
                let by_one: Vec<CustomerId> = ids.iter().copied().filter(|&c| one.delete(t, c, now)).collect();
                let mut by_many = Vec::new();
                many.delete_many(t, ids, now, |c| by_many.push(c));
                proptest::prop_assert_eq!(by_one, by_many);
            }
            proptest::prop_assert_eq!(&one.counters, &many.counters);
            proptest::prop_assert_eq!(one.series(), many.series());
            proptest::prop_assert_eq!(&one.timeline, &many.timeline);
            for c in 0..24 {
                proptest::prop_assert_eq!(format!("{:?}", one.request_of(c)), format!("{:?}", many.request_of(c)));
                for t in 0..3 {
                    proptest::prop_assert_eq!(one.present(TableId::from_index(t), c), many.present(TableId::from_index(t), c));
                }
            }
        }
    }
}
