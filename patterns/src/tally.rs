//! What a run's report reads off its requests, accumulated one request at
//! a time: the outcome counts, the response-time and lag samples, and the
//! per-request anomalies. Adding requests in any order gives the same
//! tally, so a request can be added when it is settled, long before the
//! run ends, and its record dropped.

use sim_core::SimTime;

use crate::request::{Outcome, RequestRecord};
use crate::samples::Samples;

/// The requests of a run, summed.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Requests added.
    pub requests: u64,
    /// Answered "unsubscribed".
    pub ok: u64,
    /// Answered with an error.
    pub error: u64,
    /// The user gave up waiting.
    pub timed_out: u64,
    /// Not answered.
    pub pending: u64,
    /// Answered "unsubscribed" within the arrival window.
    pub ok_in_window: u64,
    /// Response times of answered requests (not of timed-out ones).
    pub response: Samples,
    /// Lags from the answer of customers told "unsubscribed" whose rows
    /// are all gone ([`RequestRecord::lags`]).
    pub lag_from_answer: Samples,
    /// The same customers' lags from the source's deletion.
    pub lag_from_profile: Samples,
    /// Customers told "unsubscribed" whose rows are not all gone, and who
    /// did not come back.
    pub not_converged: u64,
    /// Customers left with a row deleted after their saga compensated, by
    /// a call the saga gave up on.
    pub late_deletes: u64,
    /// Customers who came back and lost a row of the new subscription.
    pub resubscribe_anomalies: u64,
    /// Requests whose source row went but whose event no broker persisted
    /// (meaningful only where a broker carries the deletes).
    pub unpublished: u64,
}

impl Tally {
    /// Whether the source deleted the request's row and no broker
    /// persisted its event (`published`): counted in `unpublished`.
    pub(crate) fn is_unpublished(r: &RequestRecord, published: bool) -> bool {
        r.deleted[crate::TableId::SOURCE.index()].is_some() && !published
    }

    /// Adds one request. `published`: whether a broker persisted its
    /// event; `window_end`: when the arrival window closed.
    pub fn add(&mut self, r: &RequestRecord, published: bool, window_end: SimTime) {
        self.requests += 1;
        match r.outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Error => self.error += 1,
            Outcome::Timeout => self.timed_out += 1,
            Outcome::Pending => self.pending += 1,
        }
        if let (Some(t), Outcome::Ok | Outcome::Error) = (r.answered, r.outcome) {
            self.response.push(t - r.arrival);
        }
        // A late delete that nothing undid: after the saga compensated, a
        // row is gone whose delete the saga never heard of.
        if let Some(knew) = &r.compensated_knowing {
            if knew.iter().zip(&r.deleted).any(|(knew, gone)| !knew && gone.is_some()) {
                self.late_deletes += 1;
            }
        }
        self.resubscribe_anomalies += u64::from(r.deleted_after_resubscribe);
        if r.outcome == Outcome::Ok {
            if r.answered.is_some_and(|t| t <= window_end) {
                self.ok_in_window += 1;
            }
            match r.lags() {
                Some(l) => {
                    self.lag_from_answer.push(l.from_answer);
                    self.lag_from_profile.push(l.from_profile);
                }
                // A customer who came back before every row went has rows
                // again by right: no lag, and nothing to converge.
                None if r.resubscribed.is_some() => {}
                None => self.not_converged += 1,
            }
        }
        if Self::is_unpublished(r, published) {
            self.unpublished += 1;
        }
    }
}
