//! Which requests go into `requests.csv`: those with the smallest keys,
//! drawn from the master seed. The runner asks each run to keep only the
//! records that sample could take; the output draws it.

use sim_core::RngFactory;

/// The key that decides whether request `i` of a run at sweep point
/// `point` goes into `requests.csv`: the requests with the smallest keys
/// are kept. Drawn from the master seed, so the same request of every
/// pattern gets the same key (a paired sample).
pub(crate) fn request_key(seed: u64, point: usize, i: u64) -> u64 {
    RngFactory::new(seed).child_seed("requests.csv", ((point as u64) << 40) | i)
}
