//! One unsubscribe request's record: what the user was told and when, and
//! when each of the customer's rows went.

use serde::{Deserialize, Serialize};
use sim_core::{SimDuration, SimTime};

use crate::msg::{CustomerId, RequestId};
use crate::topology::TableId;

/// What the user was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No answer yet.
    Pending,
    /// "Unsubscribed, you will no longer be billed."
    Ok,
    /// An error answer (e.g. after compensation).
    Error,
    /// The user gave up waiting (counted as an error).
    Timeout,
}

/// One unsubscribe request, from arrival to consistency.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The request's id: its place in arrival order.
    pub id: RequestId,
    /// The customer.
    pub customer: CustomerId,
    /// When the user asked.
    pub arrival: SimTime,
    /// When the user got the answer (or gave up).
    pub answered: Option<SimTime>,
    /// What the user was told.
    pub outcome: Outcome,
    /// When each table's row was (last) deleted, by [`TableId::index`]
    /// (the source's first); `None` while the row exists. Inline for up to
    /// three tables: a delete then touches the record's one cache line,
    /// not a second allocation.
    pub deleted: Deletions,
    /// Whether a compensation re-inserted any of the rows.
    pub restored: bool,
    /// When the saga decided to compensate (orchestrated pattern): which
    /// tables' deletes it knew had happened (replied), by table index. A
    /// row of another table that is gone at the end went by a call the saga
    /// gave up on: a late delete.
    pub compensated_knowing: Option<Vec<bool>>,
    /// When the customer subscribed again, if they did
    /// ([`crate::config::Resubscribe`]). `deleted` then stops changing.
    pub resubscribed: Option<SimTime>,
    /// Whether a delete landed after that and removed a row of the new
    /// subscription: the re-subscribe race.
    pub deleted_after_resubscribe: bool,
}

/// A request's per-table deletion times.
pub type Deletions = smallvec::SmallVec<[Option<SimTime>; 3]>;

/// The consistency lags of one customer told "unsubscribed".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lags {
    /// From the answer until every follower's row was gone (zero if they
    /// went before the answer, as in the orchestrated pattern).
    pub from_answer: SimDuration,
    /// From the source's (Profile's) deletion until the last row went.
    pub from_profile: SimDuration,
}

impl RequestRecord {
    /// When the last of the customer's rows went, if all are gone.
    pub fn consistent_at(&self) -> Option<SimTime> {
        self.deleted.iter().try_fold(SimTime::ZERO, |m, d| Some(m.max((*d)?)))
    }

    /// When the last follower's row went, if all are gone.
    fn followers_done_at(&self) -> Option<SimTime> {
        self.deleted[1..].iter().try_fold(SimTime::ZERO, |m, d| Some(m.max((*d)?)))
    }

    /// The lags of a customer told "unsubscribed" whose rows are all gone;
    /// `None` for anyone else. The one definition every output uses.
    pub fn lags(&self) -> Option<Lags> {
        if self.outcome != Outcome::Ok {
            return None;
        }
        let (told, done) = (self.answered?, self.consistent_at()?);
        let others = self.followers_done_at()?;
        let source = self.deleted[TableId::SOURCE.index()]?;
        Some(Lags { from_answer: others.saturating_since(told), from_profile: done.saturating_since(source) })
    }
}
