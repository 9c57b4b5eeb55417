//! The Unsubscribe Orchestrator service (orchestrated pattern, dedicated placement).
//!
//! Each request takes a worker for the whole saga: the thread waits on
//! its calls, so a slow or failing downstream service eats orchestrator
//! capacity.

use sim_core::{Component, NodeId, SimTime};

use crate::config::ServiceConfig;
use crate::msg::{Ctx, Msg, Work};
use crate::orchestrated::{Finished, SagaEngine};
use crate::workers::Workers;
use crate::world::World;

/// The dedicated orchestrator node.
#[derive(Debug)]
pub struct Orchestrator {
    cfg: ServiceConfig,
    workers: Workers,
    engine: SagaEngine,
}

impl Orchestrator {
    /// An orchestrator running `engine`'s sagas.
    pub fn new(cfg: ServiceConfig, engine: SagaEngine) -> Self {
        let workers = Workers::new(cfg.workers);
        Orchestrator { cfg, workers, engine }
    }

    /// The worker pool.
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    fn start(&mut self, ctx: &mut Ctx<'_>, work: Work) {
        let d = self.cfg.request_time.sample(ctx.rng());
        let d = ctx.stretch(d);
        crate::workers::begin(ctx, "orchestrator", work, d);
    }

    fn finished(&mut self, ctx: &mut Ctx<'_>, f: Option<Finished>) {
        if let Some(f) = f {
            ctx.send(f.client, Msg::Answer { req: f.req, ok: f.ok });
            if let Some(next) = self.workers.finish(ctx.now()) {
                self.start(ctx, next);
            }
        }
    }
}

impl Component<World> for Orchestrator {
    type Msg = Msg;

    fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Unsubscribe { req, customer } => {
                if let Some(w) = self.workers.submit(Work::Unsubscribe { req, customer, client: from }, ctx.now()) {
                    self.start(ctx, w);
                }
            }
            Msg::Done(Work::Unsubscribe { req, customer, client }) => {
                self.engine.start(ctx, req, customer, client);
            }
            Msg::Reply { call, ok, .. } => {
                let f = self.engine.on_reply(ctx, call, ok);
                self.finished(ctx, f);
            }
            Msg::CallTimeout { call } => {
                let f = self.engine.on_timeout(ctx, call);
                self.finished(ctx, f);
            }
            Msg::Retry { call } => self.engine.on_retry(ctx, call),
            _ => {}
        }
    }

    fn on_crash(&mut self, at: SimTime, _world: &mut World) {
        self.workers.clear(at);
        self.engine.clear();
    }
}

impl crate::scenario::Service for Orchestrator {
    fn workers(&self) -> Option<&Workers> {
        Some(&self.workers)
    }
}
