//! Two nodes play ping-pong over a lossy link; the run is reproducible
//! from its seed.
use sim_core::{Component, Context, Dist, LinkConfig, NodeId, SimDuration, SimTime, Simulation, TraceMode};

#[derive(Clone, Debug)]
enum Msg {
    Ping(u32),
    Pong(u32),
}

#[derive(Default)]
struct Player {
    pongs: u32,
}

impl Component for Player {
    type Msg = Msg;
    fn on_message(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ping(n) => ctx.send(from, Msg::Pong(n)),
            Msg::Pong(n) => {
                self.pongs += 1;
                if n < 100 {
                    ctx.send(from, Msg::Ping(n + 1));
                }
            }
        }
    }
}

fn main() {
    let mut sim = Simulation::new(7);
    sim.set_trace(TraceMode::Hash);
    let a = sim.add_node("a", Player::default());
    let b = sim.add_node("b", Player::default());
    let mut link = LinkConfig::with_latency(Dist::exponential(SimDuration::from_millis(5)));
    link.loss = 0.01;
    sim.network_mut().set_default_link(link);
    sim.inject(SimDuration::ZERO, b, a, Msg::Ping(0));
    sim.run_until(SimTime::from_nanos(60_000_000_000));
    println!(
        "at {}: {} pongs, {} messages dropped, trace hash {:016x}",
        sim.now(),
        sim.component(b).pongs,
        sim.stats().dropped(),
        sim.trace().hash()
    );
}
