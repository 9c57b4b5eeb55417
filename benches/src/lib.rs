//! Models shared by the criterion benches: the classic hold and PHOLD
//! kernel benchmarks, written against sim-core's public API as a user
//! would. Their bare-heap baselines live in `benches/kernel.rs` itself, so
//! that the compiler sees (and inlines) the whole baseline loop.

use patterns::Scenario;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sim_core::{Component, Context, NodeId, SimDuration, Simulation};

/// One Exp(1) draw, as whole nanoseconds of a 1-second mean.
#[inline]
pub fn exp1_ns(rng: &mut ChaCha8Rng) -> u64 {
    (sim_core::draw::exp1(rng) * 1e9) as u64
}

/// The hold model's message: a bare tick.
#[derive(Clone, Copy, Debug)]
pub struct Tick;

/// The hold model: every event reschedules itself at `now + Exp(1)`.
#[derive(Debug, Default)]
pub struct Hold;

impl Component for Hold {
    type Msg = Tick;
    #[inline]
    fn on_message(&mut self, ctx: &mut Context<'_, Tick>, _from: NodeId, _msg: Tick) {
        let d = SimDuration::from_nanos(exp1_ns(ctx.rng()));
        ctx.schedule_after(d, Tick);
    }
}

/// A simulation with one hold node and `n` pending events.
pub fn hold_sim(n: usize, seed: u64) -> Simulation<Hold> {
    let mut sim = Simulation::new(seed);
    let node = sim.add_node("hold", Hold);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..n {
        sim.inject(SimDuration::from_nanos(exp1_ns(&mut rng)), node, node, Tick);
    }
    sim
}

/// PHOLD: each event makes its node send one message to a uniformly random
/// node with an Exp(1) delay (the kernel's raw `emit_after`, as in the
/// classic PDES benchmark: no network model).
#[derive(Debug)]
pub struct Phold {
    n: u32,
}

impl Component for Phold {
    type Msg = Tick;
    #[inline]
    fn on_message(&mut self, ctx: &mut Context<'_, Tick>, _from: NodeId, _msg: Tick) {
        use rand::Rng;
        let to = ctx.rng().random_range(0..self.n);
        let d = SimDuration::from_nanos(exp1_ns(ctx.rng()));
        ctx.emit_after(NodeId::from_index(to as usize), d, Tick);
    }
}

/// A PHOLD simulation of `components` nodes with `per_node` messages each in flight.
pub fn phold_sim(components: u32, per_node: u32, seed: u64) -> Simulation<Phold> {
    let mut sim = Simulation::new(seed);
    let ids: Vec<NodeId> = (0..components).map(|i| sim.add_node(&format!("p{i}"), Phold { n: components })).collect();
    debug_assert!(ids.iter().enumerate().all(|(i, id)| id.index() == i));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for &id in &ids {
        for _ in 0..per_node {
            sim.inject(SimDuration::from_nanos(exp1_ns(&mut rng)), id, id, Tick);
        }
    }
    sim
}

/// The patterns bench's scenario: 100,000 unsubscribes over 100,000
/// customers with the default latencies (200 requests/s for 500 s of
/// virtual time, then a drain long enough for the hourly sync to run).
pub fn patterns_scenario() -> Scenario {
    let mut s = Scenario::default();
    s.workload.rate_per_s = 200.0;
    s.workload.duration = "500s".parse().expect("duration");
    s.workload.drain = "1h".parse().expect("duration");
    s
}
