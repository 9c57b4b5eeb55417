//! A synchronous call with a timeout, retried with exponential backoff: the
//! state machine that the orchestrator's saga and the background sync job
//! share.
//!
//! Each attempt sends the operation and arms a timeout. A failed attempt (an
//! error reply, or the timeout) is retried after `backoff`, doubling for each
//! further attempt, until `max_retries` retries are spent; then the caller
//! gives up. Timeouts and retries are counted in the run's counters.

use sim_core::{NodeId, SimDuration, TimerId};

use crate::ctx::Ctx;
use crate::msg::{CallId, Msg, Op};

/// How a caller waits and retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long each attempt waits for its reply.
    pub timeout: SimDuration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each further one.
    pub backoff: SimDuration,
}

impl RetryPolicy {
    /// The wait before the retry that follows `failed` failed attempts, if
    /// one is left.
    ///
    /// ```
    /// use patterns::calls::RetryPolicy;
    /// use sim_core::SimDuration;
    /// let p = RetryPolicy { timeout: SimDuration::from_secs(2), max_retries: 2, backoff: SimDuration::from_millis(200) };
    /// assert_eq!(p.backoff_after(1), Some(SimDuration::from_millis(200)));
    /// assert_eq!(p.backoff_after(2), Some(SimDuration::from_millis(400)));
    /// assert_eq!(p.backoff_after(3), None);
    /// ```
    pub fn backoff_after(&self, failed: u32) -> Option<SimDuration> {
        (failed >= 1 && failed <= self.max_retries).then(|| self.backoff * (1u64 << (failed - 1).min(30)))
    }
}

/// The attempts of one call.
#[derive(Debug, Default)]
pub struct Attempts {
    sent: u32,
    timer: Option<TimerId>,
}

impl Attempts {
    /// Attempts made so far.
    pub fn sent(&self) -> u32 {
        self.sent
    }

    /// Sends the next attempt of `op` to `to` as `call` and arms its timeout.
    pub fn send(&mut self, ctx: &mut Ctx<'_>, policy: &RetryPolicy, to: NodeId, call: CallId, op: Op) {
        self.sent += 1;
        ctx.send(to, Msg::Call { call, op });
        self.timer = Some(ctx.set_timer(policy.timeout, Msg::CallTimeout { call }));
    }

    /// Counts the next attempt as made locally: no network, no timeout.
    pub fn local(&mut self) {
        self.sent += 1;
    }

    /// A reply came: stop waiting for the timeout.
    pub fn disarm(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(t) = self.timer.take() {
            ctx.cancel_timer(t);
        }
    }

    /// The timeout fired: count it.
    pub fn timed_out(&mut self, ctx: &mut Ctx<'_>) {
        self.timer = None;
        ctx.state_mut().counters.timeouts += 1;
    }

    /// The attempt failed. Schedules `retry` after the backoff and counts it,
    /// or returns false when no retry is left.
    pub fn retry(&mut self, ctx: &mut Ctx<'_>, policy: &RetryPolicy, retry: Msg) -> bool {
        self.disarm(ctx);
        match policy.backoff_after(self.sent) {
            Some(wait) => {
                ctx.state_mut().counters.retries += 1;
                ctx.schedule_after(wait, retry);
                true
            }
            None => false,
        }
    }
}
