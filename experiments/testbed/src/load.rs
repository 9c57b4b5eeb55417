//! The load generator: open-loop Poisson unsubscribes, each for a customer
//! drawn uniformly from those not yet asked, as in ecsim's workload.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use rand_distr::{Distribution, Exp};

use crate::clock::now_ns;
use crate::http::Caller;
use crate::record::{Recorder, Request};

/// The offered load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Mean arrivals per second.
    pub rate_per_s: f64,
    /// How long requests arrive.
    pub duration: Duration,
    /// Customers at the start (ids `0..customers`).
    pub customers: i32,
    /// Seeds the arrival times and the customers' order.
    pub seed: u64,
    /// How long a user waits for the answer.
    pub client_timeout: Duration,
}

/// Sends the load to `url_prefix` + customer id (Profile's or the
/// orchestrator's unsubscribe endpoint) and waits for every answer.
/// Arrival instants are fixed in advance from the seed, so a slow answer
/// never delays the next request (an open loop).
pub async fn run(load: Load, callee: &'static str, url_prefix: String, rec: Arc<Recorder>) -> Result<()> {
    let mut rng = ChaCha12Rng::seed_from_u64(load.seed);
    let mut ids: Vec<i32> = (0..load.customers).collect();
    ids.shuffle(&mut rng);
    let gaps = Exp::new(load.rate_per_s)?;
    let caller = Caller::new("client", Arc::clone(&rec))?;
    let start = tokio::time::Instant::now();
    let mut t = 0.0;
    let mut pending = Vec::new();
    for id in ids {
        t += gaps.sample(&mut rng);
        if t >= load.duration.as_secs_f64() {
            break;
        }
        tokio::time::sleep_until(start + Duration::from_secs_f64(t)).await;
        let caller = caller.clone();
        let url = format!("{url_prefix}{id}");
        let rec = Arc::clone(&rec);
        pending.push(tokio::spawn(async move {
            let sent = now_ns();
            let got = caller.once(callee, &url, id, load.client_timeout).await;
            let (answered_ns, outcome) = match got {
                Some(true) => (now_ns(), "ok"),
                Some(false) => (now_ns(), "error"),
                None => (0, "timeout"),
            };
            Recorder::push(
                &rec.requests,
                Request { customer: id, sent_ns: sent, answered_ns, outcome: outcome.into() },
            );
        }));
    }
    for p in pending {
        p.await?;
    }
    Ok(())
}
