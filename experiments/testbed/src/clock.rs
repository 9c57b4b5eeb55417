//! One monotonic clock for every component of a run.
//!
//! All services, the broker clients and the load generator run in one
//! process, so their timestamps come from the same `Instant` epoch and a lag
//! (a follower's deletion minus the user's answer) is a difference of two
//! readings of one clock, with no cross-host skew to correct.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the run's epoch (the first call).
pub fn now_ns() -> u64 {
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
