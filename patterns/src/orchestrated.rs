//! Pattern 2: orchestrated request-based.
//!
//! The user waits while an orchestrator deletes the customer from every
//! service: Profile (the source) first, then the followers (the book's
//! Contract and Billing): all in parallel by default, one after the other,
//! or in configured stages, each stage in parallel. Every call has a timeout and retries
//! with exponential backoff. When a step still fails, the default policy
//! compensates: it re-inserts every row it may have deleted and tells the
//! user the unsubscribe failed. A compensation that itself fails leaves the
//! data out of sync and is counted as needing manual repair. The other
//! policy reports success anyway and leaves the data as it is (also counted
//! as a manual repair).
//!
//! With the dedicated placement the saga runs on the Unsubscribe
//! Orchestrator ([`Orchestrator`]); with the Profile placement, inside the
//! Profile service ([`ProfileSaga`]). Either way each request takes a
//! worker for the whole saga: the thread waits on its calls, so a slow or
//! failing downstream service eats the orchestrating service's capacity.
//!
//! Knobs ([`OrchestratedConfig`]): `placement` (a dedicated orchestrator or
//! the Profile service), `order` or `stages`, `call_timeout`, `max_retries`,
//! `backoff`, `on_failure`, `fencing`.

use serde::{Deserialize, Serialize};
use sim_core::{Component, Dist, NodeId, SimDuration, SimTime};

use crate::calls::{Attempts, RetryPolicy};
use crate::config::ServiceConfig;
use crate::config::{self, ConfigError, Scenario};
use crate::ctx::Ctx;
use crate::id_window::IdWindow;
use crate::msg::{unexpected, CallId, CustomerId, Msg, Op, RequestId, Work};
use crate::node::Node;
use crate::plugin::{Env, Pattern};
use crate::service::{DataCore, Plain, Source};
use crate::topology::{Role, TableId, Topology};
use crate::workers::Workers;
use crate::world::World;

/// Where the saga runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// A dedicated Unsubscribe Orchestrator service (the book's default).
    #[default]
    Dedicated,
    /// The Customer Profile service acts as orchestrator.
    Profile,
}

/// How the followers are called after Profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// All at once.
    #[default]
    Parallel,
    /// One after the other, in the followers' order (Contract, then Billing).
    Serial,
}

/// What to do when a step fails after its retries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Re-insert what was deleted and tell the user it failed.
    #[default]
    Compensate,
    /// Tell the user it worked and leave the data as it is.
    ReportSuccess,
}

/// Knobs of the orchestrated pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratedConfig {
    /// A name for outputs (default `orchestrated`).
    pub name: Option<String>,
    /// Where the saga runs.
    pub placement: Placement,
    /// Parallel or serial calls after Profile.
    pub order: Order,
    /// Instead of `order`: stages of follower names, run one after the
    /// other, each stage's calls in parallel, e.g.
    /// `[["contract"], ["billing", "marketing"]]`. Every follower appears
    /// in exactly one stage. Written to resolved configs only when given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Vec<String>>,
    /// How long to wait for each call's reply.
    pub call_timeout: SimDuration,
    /// Retries per call after the first attempt.
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each further one.
    pub backoff: SimDuration,
    /// Compensate, or report success.
    pub on_failure: FailurePolicy,
    /// Fencing tokens against the late delete: every delete carries the
    /// saga's token and every compensation a newer one; a participant
    /// refuses an operation older than the newest it applied for that
    /// customer. A failed saga then compensates every participant it sent a
    /// delete to, confirmed or not, since a timed-out delete may still land.
    /// Written to resolved configs only when on, so older configs keep their
    /// hash.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fencing: bool,
}

impl Default for OrchestratedConfig {
    fn default() -> Self {
        OrchestratedConfig {
            name: None,
            placement: Placement::Dedicated,
            order: Order::Parallel,
            stages: Vec::new(),
            call_timeout: SimDuration::from_secs(2),
            max_retries: 2,
            backoff: SimDuration::from_millis(200),
            on_failure: FailurePolicy::Compensate,
            fencing: false,
        }
    }
}

impl OrchestratedConfig {
    /// How each of the saga's calls waits and retries.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy { timeout: self.call_timeout, max_retries: self.max_retries, backoff: self.backoff }
    }

    pub(crate) fn validate(&self, key: &str, scenario: &Scenario) -> Result<(), ConfigError> {
        if self.call_timeout.is_zero() {
            return config::err(&format!("{key}.call_timeout"), "must be above zero");
        }
        if self.max_retries > 30 {
            return config::err(&format!("{key}.max_retries"), "at most 30 (the backoff doubles each time)");
        }
        self.plan(&scenario.topology())
            .map(|_| ())
            .map_err(|problem| ConfigError { key: format!("{key}.stages"), problem })
    }

    /// The follower tables to delete from after the source's, stage by
    /// stage; the calls of one stage go out together.
    pub fn plan(&self, topology: &Topology) -> Result<Vec<Vec<TableId>>, String> {
        if self.stages.is_empty() {
            let all = topology.follower_tables();
            return Ok(match self.order {
                Order::Parallel => vec![all.collect()],
                Order::Serial => all.map(|t| vec![t]).collect(),
            });
        }
        let mut seen = vec![false; topology.table_count()];
        let mut plan = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.is_empty() {
                return Err(format!("stage {i} is empty"));
            }
            let mut tables = Vec::new();
            for name in stage {
                let id = topology.lookup(name).map_err(|e| e.to_string())?;
                let Role::Follower(f) = topology.role(id) else {
                    return Err(format!("{name:?} is not a follower; stages list followers only"));
                };
                let t = TableId::follower(f);
                if std::mem::replace(&mut seen[t.index()], true) {
                    return Err(format!("follower {name:?} appears in two stages"));
                }
                tables.push(t);
            }
            plan.push(tables);
        }
        if let Some(t) = topology.follower_tables().find(|t| !seen[t.index()]) {
            return Err(format!("follower {:?} is in no stage", topology.name(topology.owner(t))));
        }
        Ok(plan)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Delete(TableId),
    Restore(TableId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepState {
    NotStarted,
    InFlight,
    Done,
    Failed,
}

#[derive(Debug)]
struct Saga {
    customer: CustomerId,
    client: NodeId,
    /// Forward steps, by table index: inline up to eight tables, so a
    /// saga's start allocates nothing for the book's three.
    steps: smallvec::SmallVec<[StepState; 8]>,
    /// The stage of follower calls under way (see [`OrchestratedConfig::plan`]).
    stage: usize,
    compensating: bool,
    /// Compensation calls still open.
    open_compensations: u32,
}

#[derive(Debug)]
struct CallState {
    req: RequestId,
    step: Step,
    attempts: Attempts,
}

/// A saga that finished: answer the client and free the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    /// The request.
    pub req: RequestId,
    /// Who to answer.
    pub client: NodeId,
    /// What to tell them.
    pub ok: bool,
}

/// The saga engine the orchestrator (dedicated or Profile) runs. All of its
/// state is volatile: an orchestrator crash loses the sagas in flight, and
/// their users time out.
#[derive(Debug)]
pub struct SagaEngine {
    cfg: OrchestratedConfig,
    /// Each table's owner, by table index (the source's first).
    services: Vec<NodeId>,
    /// The follower calls, stage by stage.
    plan: Vec<Vec<TableId>>,
    /// When the engine runs inside the Profile service: the service time of
    /// Profile's own table write, done by the saga's thread.
    local_profile: Option<Dist>,
    sagas: IdWindow<RequestId, Saga>,
    calls: IdWindow<CallId, CallState>,
    next_call: CallId,
}

impl SagaEngine {
    /// An engine calling the data services of `topology`. `local_profile`
    /// is Profile's service time when the engine runs inside the Profile
    /// service, `None` for a dedicated orchestrator.
    ///
    /// # Panics
    /// If `cfg`'s stages do not fit `topology` (validation refuses them).
    pub fn new(cfg: OrchestratedConfig, topology: &Topology, local_profile: Option<Dist>) -> Self {
        let services = topology.tables().map(|t| topology.owner(t)).collect();
        let plan = cfg.plan(topology).expect("validated stages");
        SagaEngine { cfg, services, plan, local_profile, sagas: IdWindow::new(), calls: IdWindow::new(), next_call: 0 }
    }

    /// Drops every saga (a crash).
    pub fn clear(&mut self) {
        self.sagas.clear();
        self.calls.clear();
    }

    /// Sagas in flight.
    pub fn in_flight(&self) -> usize {
        self.sagas.len()
    }

    /// Starts the saga for one request. A duplicated request (the network
    /// may deliver one twice) whose saga is running starts nothing and
    /// returns false: restarting would orphan the running saga's calls.
    pub fn start(&mut self, ctx: &mut Ctx<'_>, req: RequestId, customer: CustomerId, client: NodeId) -> bool {
        if self.sagas.contains_key(req) {
            ctx.state_mut().counters.duplicates += 1;
            return false;
        }
        let steps = smallvec::smallvec![StepState::NotStarted; self.services.len()];
        self.sagas.insert(req, Saga { customer, client, steps, stage: 0, compensating: false, open_compensations: 0 });
        self.issue(ctx, req, Step::Delete(TableId::SOURCE));
        true
    }

    fn issue(&mut self, ctx: &mut Ctx<'_>, req: RequestId, step: Step) {
        let call = self.next_call;
        self.next_call += 1;
        if let (Step::Delete(t), Some(s)) = (step, self.sagas.get_mut(req)) {
            s.steps[t.index()] = StepState::InFlight;
        }
        self.calls.insert(call, CallState { req, step, attempts: Attempts::default() });
        self.send(ctx, call);
    }

    fn send(&mut self, ctx: &mut Ctx<'_>, call: CallId) {
        let Some(state) = self.calls.get_mut(call) else { return };
        let Some(saga) = self.sagas.get(state.req) else { return };
        // A customer leaves once, so the request id orders its sagas; a
        // compensation's token is above its own saga's deletes.
        let token = 2 * u64::from(state.req);
        let customer = saga.customer;
        let (table, op) = match (state.step, self.cfg.fencing) {
            (Step::Delete(t), false) => (t, Op::Delete(customer)),
            (Step::Restore(t), false) => (t, Op::Restore(customer)),
            (Step::Delete(t), true) => (t, Op::FencedDelete { customer, token }),
            (Step::Restore(t), true) => (t, Op::FencedRestore { customer, token: token + 1 }),
        };
        if let (TableId::SOURCE, Some(dist)) = (table, &self.local_profile) {
            // The saga's own thread writes the Profile table: no network, no
            // timeout. The first delete is the write the request's own unit
            // of work already paid for (a request's service time includes one
            // single-row write); a retry or a compensation is a new write.
            let first_delete = matches!(state.step, Step::Delete(_)) && state.attempts.sent() == 0;
            state.attempts.local();
            let d = if first_delete { SimDuration::ZERO } else { dist.sample(ctx.rng()) };
            let d = ctx.stretch(d);
            let me = ctx.id();
            ctx.schedule_after(d, Msg::Done(Work::Call { call, op, caller: me, inline: true }));
        } else {
            state.attempts.send(ctx, &self.cfg.retry_policy(), self.services[table.index()], call, op);
        }
    }

    /// A reply (or an inline result) arrived.
    pub fn on_reply(&mut self, ctx: &mut Ctx<'_>, call: CallId, ok: bool) -> Option<Finished> {
        let state = self.calls.get_mut(call)?;
        // A late reply to an attempt that timed out still counts: the saga
        // keeps one call id across attempts.
        state.attempts.disarm(ctx);
        if ok {
            let state = self.calls.remove(call)?;
            self.settle(ctx, state.req, state.step, true)
        } else {
            self.retry_or_fail(ctx, call)
        }
    }

    /// A call timed out.
    pub fn on_timeout(&mut self, ctx: &mut Ctx<'_>, call: CallId) -> Option<Finished> {
        self.calls.get_mut(call)?.attempts.timed_out(ctx);
        self.retry_or_fail(ctx, call)
    }

    /// A retry's backoff elapsed.
    pub fn on_retry(&mut self, ctx: &mut Ctx<'_>, call: CallId) {
        self.send(ctx, call);
    }

    fn retry_or_fail(&mut self, ctx: &mut Ctx<'_>, call: CallId) -> Option<Finished> {
        let state = self.calls.get_mut(call)?;
        if state.attempts.retry(ctx, &self.cfg.retry_policy(), Msg::Retry { call }) {
            None
        } else {
            let state = self.calls.remove(call)?;
            self.settle(ctx, state.req, state.step, false)
        }
    }

    fn settle(&mut self, ctx: &mut Ctx<'_>, req: RequestId, step: Step, ok: bool) -> Option<Finished> {
        let saga = self.sagas.get_mut(req)?;
        match step {
            Step::Restore(_) => {
                if !ok {
                    let counters = &mut ctx.state_mut().counters;
                    counters.failed_compensations += 1;
                    counters.manual_repairs += 1;
                }
                saga.open_compensations -= 1;
                if saga.open_compensations == 0 {
                    return self.finish(req, false);
                }
                None
            }
            Step::Delete(t) => {
                saga.steps[t.index()] = if ok { StepState::Done } else { StepState::Failed };
                if t == TableId::SOURCE {
                    if !ok {
                        return self.fail(ctx, req);
                    }
                    self.issue_stage(ctx, req, 0);
                    return None;
                }
                debug_assert_eq!(saga.steps[TableId::SOURCE.index()], StepState::Done);
                let stage = &self.plan[saga.stage];
                if stage.iter().any(|t| saga.steps[t.index()] == StepState::InFlight) {
                    return None; // wait for the stage's other calls
                }
                if !stage.iter().all(|t| saga.steps[t.index()] == StepState::Done) {
                    return self.fail(ctx, req);
                }
                let next = saga.stage + 1;
                if next == self.plan.len() {
                    return self.finish(req, true);
                }
                self.issue_stage(ctx, req, next);
                None
            }
        }
    }

    /// Sends the deletes of stage `stage`, in the followers' order.
    fn issue_stage(&mut self, ctx: &mut Ctx<'_>, req: RequestId, stage: usize) {
        if let Some(s) = self.sagas.get_mut(req) {
            s.stage = stage;
        }
        for i in 0..self.plan[stage].len() {
            self.issue(ctx, req, Step::Delete(self.plan[stage][i]));
        }
    }

    fn fail(&mut self, ctx: &mut Ctx<'_>, req: RequestId) -> Option<Finished> {
        match self.cfg.on_failure {
            FailurePolicy::ReportSuccess => {
                ctx.state_mut().counters.manual_repairs += 1;
                self.finish(req, true)
            }
            FailurePolicy::Compensate => {
                let saga = self.sagas.get_mut(req)?;
                let now = ctx.now();
                let w = ctx.state_mut();
                w.counters.compensations += 1;
                w.begin_compensation(saga.customer, saga.steps.iter().map(|s| *s == StepState::Done).collect(), now);
                saga.compensating = true;
                // Without fencing, only confirmed deletes are undone, as in
                // the book. A delete that timed out may still land later; if
                // it does, the data stays out of sync (a late delete). With
                // fencing, every participant that was sent a delete gets the
                // compensation, whose newer token stops or undoes it.
                let fencing = self.cfg.fencing;
                let touched: Vec<TableId> = (0..saga.steps.len())
                    .map(TableId::from_index)
                    .filter(|t| match saga.steps[t.index()] {
                        StepState::Done => true,
                        StepState::Failed | StepState::InFlight => fencing,
                        StepState::NotStarted => false,
                    })
                    .collect();
                saga.open_compensations = touched.len() as u32;
                if touched.is_empty() {
                    return self.finish(req, false);
                }
                for t in touched.into_iter().rev() {
                    self.issue(ctx, req, Step::Restore(t));
                }
                None
            }
        }
    }

    fn finish(&mut self, req: RequestId, ok: bool) -> Option<Finished> {
        let saga = self.sagas.remove(req)?;
        Some(Finished { req, client: saga.client, ok })
    }
}

/// The Profile service as orchestrator: the saga runs in the request's own
/// thread, which it holds until the saga finishes.
#[derive(Debug)]
pub struct ProfileSaga {
    engine: SagaEngine,
}

impl ProfileSaga {
    /// Runs `engine`'s sagas inside the Profile service.
    pub fn new(engine: SagaEngine) -> Self {
        ProfileSaga { engine }
    }

    fn finished(svc: &mut DataCore, ctx: &mut Ctx<'_>, f: Option<Finished>) {
        if let Some(f) = f {
            svc.finish_request(ctx, f.client, f.req, f.ok);
        }
    }
}

impl Source for ProfileSaga {
    fn on_unsubscribe(
        &mut self,
        svc: &mut DataCore,
        ctx: &mut Ctx<'_>,
        req: RequestId,
        customer: CustomerId,
        client: NodeId,
    ) {
        // The saga holds this worker until it finishes; a duplicate frees it at once.
        if !self.engine.start(ctx, req, customer, client) {
            svc.release(ctx);
        }
    }

    fn on_inline_reply(&mut self, svc: &mut DataCore, ctx: &mut Ctx<'_>, call: CallId, ok: bool) {
        let f = self.engine.on_reply(ctx, call, ok);
        Self::finished(svc, ctx, f);
    }

    fn on_message(&mut self, svc: &mut DataCore, ctx: &mut Ctx<'_>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Reply { call, ok, .. } => {
                let f = self.engine.on_reply(ctx, call, ok);
                Self::finished(svc, ctx, f);
            }
            Msg::CallTimeout { call } => {
                let f = self.engine.on_timeout(ctx, call);
                Self::finished(svc, ctx, f);
            }
            Msg::Retry { call } => self.engine.on_retry(ctx, call),
            other => unexpected("the orchestrating Profile service", &other),
        }
    }

    fn on_crash(&mut self) {
        self.engine.clear();
    }
}

impl Pattern for OrchestratedConfig {
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "orchestrated".into())
    }

    fn validate(&self, key: &str, scenario: &Scenario) -> Result<(), ConfigError> {
        OrchestratedConfig::validate(self, key, scenario)
    }

    fn entry(&self) -> Role {
        match self.placement {
            Placement::Dedicated => Role::Orchestrator,
            Placement::Profile => Role::Source,
        }
    }

    fn source(&self, env: &Env<'_>) -> Box<dyn Source> {
        match self.placement {
            Placement::Dedicated => Box::new(Plain),
            Placement::Profile => {
                let local = env.scenario.services.profile.request_time.clone();
                Box::new(ProfileSaga::new(SagaEngine::new(self.clone(), env.topology, Some(local))))
            }
        }
    }

    fn component(&self, role: Role, env: &Env<'_>) -> Option<Node> {
        (role == Role::Orchestrator && self.placement == Placement::Dedicated).then(|| {
            let cfg = env.scenario.services.orchestrator.clone();
            Node::new(Orchestrator::new(cfg, SagaEngine::new(self.clone(), env.topology, None)))
        })
    }
}

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
        crate::workers::begin(ctx, work, d);
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
                // A duplicate frees its worker at once; a saga holds one to the end.
                if !self.engine.start(ctx, req, customer, client) {
                    if let Some(next) = self.workers.finish(ctx.now()) {
                        self.start(ctx, next);
                    }
                }
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
            other => unexpected("the orchestrator", &other),
        }
    }

    fn on_crash(&mut self, at: SimTime, _world: &mut World) {
        self.workers.clear(at);
        self.engine.clear();
    }
}

impl crate::node::Service for Orchestrator {
    fn workers(&self) -> Option<&Workers> {
        Some(&self.workers)
    }
}
