//! Builds one simulation of the book's scenario under one pattern, runs it,
//! and measures it.
//!
//! Every pattern gets the same seven nodes (unused ones stay idle), so node
//! ids, stream names and therefore the workload and fault draws are the
//! same for every pattern under one seed.

use std::any::Any;

use sim_core::{Component, FaultError, NodeId, SimTime, Simulation, TraceMode};

use crate::background_sync::SyncJob;
use crate::broker::Broker;
use crate::client::Client;
use crate::config::{ConfigError, PatternConfig, Scenario};
use crate::msg::{label, Ctx, Msg, TableKind};
use crate::orchestrated::{Placement, SagaEngine};
use crate::orchestrator::Orchestrator;
use crate::report::RunReport;
use crate::service::{DataService, Publisher, Role};
use crate::workers::Workers;
use crate::world::World;

/// The nodes of every scenario, in id order.
pub const NODE_NAMES: [&str; 7] = ["client", "profile", "contract", "billing", "orchestrator", "broker", "sync"];

/// Why a scenario could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A config value is out of its domain.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The fault plan names an unknown node or a bad parameter.
    #[error("faults: {0}")]
    Fault(#[from] FaultError),
}

/// Lets the measurement look at a node's concrete component.
pub trait AsAny {
    /// The component as [`Any`], to downcast.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A component of the scenario: it speaks [`Msg`], works on the [`World`],
/// and shows its worker pool, if it has one, to the measurements.
pub trait Service: Component<World, Msg = Msg> + std::fmt::Debug + AsAny {
    /// The worker pool whose occupancy Little's law is checked on.
    fn workers(&self) -> Option<&Workers> {
        None
    }
}

/// A scenario node: any [`Service`], labelled for traces.
pub struct Node(Box<dyn Service>);

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Node")
    }
}

impl Node {
    /// Wraps a component.
    pub fn new(c: impl Service + 'static) -> Self {
        Node(Box::new(c))
    }

    /// The component on this node.
    pub fn service(&self) -> &dyn Service {
        &*self.0
    }
}

impl Component<World> for Node {
    type Msg = Msg;
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.0.on_start(ctx)
    }
    #[inline]
    fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: Msg) {
        self.0.on_message(ctx, from, msg)
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        self.0.on_timer(ctx, msg)
    }
    fn on_crash(&mut self, at: SimTime, world: &mut World) {
        self.0.on_crash(at, world)
    }
    fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        self.0.on_restart(ctx)
    }
    fn label(msg: &Msg) -> &'static str {
        label(msg)
    }
}

/// What to record beyond the summary.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Event tracing (a hash for determinism checks, or full records).
    pub trace: TraceMode,
    /// Keep every request's record in the report.
    pub keep_requests: bool,
}

/// A built, not yet run, simulation of one pattern.
#[derive(Debug)]
pub struct Built {
    /// The simulation, which owns the tables and measurements as its state.
    pub sim: Simulation<Node, World>,
    /// The pattern's name.
    pub pattern: String,
}

/// Builds the simulation of `scenario` under `pattern` with `seed`.
pub fn build(
    scenario: &Scenario,
    pattern: &PatternConfig,
    seed: u64,
    trace: TraceMode,
) -> Result<Built, ScenarioError> {
    scenario.validate()?;
    pattern.validate("pattern")?;
    let mut world = World::new(scenario.customers);
    if trace == TraceMode::Record {
        // A full trace also gets the model's timeline (spans, requests, rows).
        world.record_timeline();
    }
    let mut sim: Simulation<Node, World> = Simulation::with_state(seed, world);
    sim.set_trace(trace);
    let factory = sim.rng_factory();
    let id = |name: &str| NodeId::from_index(NODE_NAMES.iter().position(|n| *n == name).expect("known node"));
    let [_client, profile, contract, billing, orchestrator, broker, _sync] = NODE_NAMES.map(id);
    let tables = [profile, contract, billing];
    let svc = &scenario.services;

    let entry = match pattern {
        PatternConfig::Orchestrated(c) if c.placement == Placement::Dedicated => orchestrator,
        _ => profile,
    };
    let profile_role = match pattern {
        PatternConfig::BackgroundSync(c) => {
            Role::Answer { change_table: c.detect == crate::background_sync::Detect::ChangeTable }
        }
        PatternConfig::Orchestrated(c) if c.placement == Placement::Profile => {
            Role::Orchestrate(SagaEngine::new(c.clone(), tables, Some(svc.profile.request_time.clone())))
        }
        PatternConfig::Orchestrated(_) => Role::Answer { change_table: false },
        PatternConfig::EventBased(c) => Role::Publish(Publisher::new(c.clone(), broker)),
    };
    let engine = match pattern {
        PatternConfig::Orchestrated(c) => SagaEngine::new(c.clone(), tables, None),
        _ => SagaEngine::new(Default::default(), tables, None),
    };
    let sync_cfg = match pattern {
        PatternConfig::BackgroundSync(c) => Some(c.clone()),
        _ => None,
    };

    let nodes: [Node; 7] = [
        Node::new(Client::new(scenario.workload.clone(), entry, scenario.customers, factory.stream("workload"))),
        Node::new(DataService::new(TableKind::Profile, svc.profile.clone(), profile_role)),
        Node::new(DataService::new(TableKind::Contract, svc.contract.clone(), Role::Owner)),
        Node::new(DataService::new(TableKind::Billing, svc.billing.clone(), Role::Owner).with_billing(
            scenario.billing.clone(),
            scenario.customers,
            &mut factory.stream("billing/offsets"),
        )),
        Node::new(Orchestrator::new(svc.orchestrator.clone(), engine)),
        Node::new(Broker::new(svc.broker.clone(), [contract, billing])),
        match sync_cfg {
            Some(c) => Node::new(SyncJob::new(c, tables)),
            None => Node::new(Idle),
        },
    ];
    for (name, node) in NODE_NAMES.iter().zip(nodes) {
        sim.add_node(name, node);
    }
    sim.network_mut().set_default_link(scenario.network.default.clone());
    for l in &scenario.network.links {
        sim.network_mut().set_link(id(&l.from), id(&l.to), l.link.clone());
    }
    sim.install_faults(&scenario.fault_plan(), scenario.horizon())?;
    Ok(Built { sim, pattern: pattern.name() })
}

/// Runs `scenario` under `pattern` with `seed` to the horizon and measures it.
///
/// ```
/// use patterns::{run, PatternConfig, RunOptions, Scenario};
/// let mut s = Scenario { customers: 1_000, ..Default::default() };
/// s.workload.rate_per_s = 5.0;
/// s.workload.duration = "2m".parse().unwrap();
/// s.workload.drain = "70m".parse().unwrap();
/// for p in PatternConfig::book_defaults() {
///     let r = run(&s, &p, 7, RunOptions::default()).unwrap();
///     assert_eq!(r.inconsistent_at_end, 0, "{} did not converge", r.pattern);
///     assert!(r.violations.is_empty());
/// }
/// ```
pub fn run(
    scenario: &Scenario,
    pattern: &PatternConfig,
    seed: u64,
    opts: RunOptions,
) -> Result<RunReport, ScenarioError> {
    let mut built = build(scenario, pattern, seed, opts.trace)?;
    built.sim.run_until(scenario.horizon());
    Ok(RunReport::measure(scenario, pattern, &built, seed, opts))
}

/// A node with nothing to do in this pattern.
#[derive(Debug)]
struct Idle;

impl Component<World> for Idle {
    type Msg = Msg;
    fn on_message(&mut self, _: &mut Ctx<'_>, _: NodeId, _: Msg) {}
}

impl Service for Idle {}
