//! Builds one simulation of the book's scenario under one pattern, runs it,
//! and measures it.
//!
//! Every pattern gets the same nodes ([`crate::topology`]; unused ones stay
//! idle), so node ids, stream names and therefore the workload and fault
//! draws are the same for every pattern under one seed.

use sim_core::{FaultError, NodeId, SimTime, Simulation, TraceMode};

use crate::client::Client;
use crate::config::{ConfigError, Scenario};
use crate::node::{Idle, Node};
use crate::pattern::PatternConfig;
use crate::plugin::Env;
use crate::report::RunReport;
use crate::requests::RequestSample;
use crate::service::{DataService, Plain, SHARED_TIMES};
use crate::topology::{Role, TableId};
use crate::world::World;

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

/// What to record beyond the summary.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Event tracing (a hash for determinism checks, or full records).
    pub trace: TraceMode,
    /// Keep every request's record in the report.
    pub keep_requests: bool,
    /// With `keep_requests`, keep only a sample of the records retired
    /// during the run (`workload.retire_after`), so that the log too stays
    /// bounded; the records still held at the end are all kept.
    pub sample: Option<RequestSample>,
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
    pattern.validate("pattern", scenario)?;
    let plugin = pattern.pattern();
    let topology = scenario.topology();
    let followers = scenario.followers();
    let arrivals_end = SimTime::ZERO + scenario.workload.duration;
    let mut world = World::new(scenario.customers, topology.table_count(), arrivals_end, scenario.horizon());
    if let Some(after) = scenario.workload.retire_after {
        world.retire_settled_after(after);
    }
    if trace == TraceMode::Record {
        // A full trace also gets the model's timeline (spans, requests, rows).
        world.record_timeline();
    }
    let mut sim: Simulation<Node, World> = Simulation::with_state(seed, world);
    sim.set_trace(trace);
    let factory = sim.rng_factory();
    let env = Env { scenario, topology: &topology, rng: factory };
    for (i, name) in topology.names().iter().enumerate() {
        let role = topology.role(NodeId::from_index(i));
        let node = match role {
            Role::Client => Node::new(Client::new(
                scenario.workload.clone(),
                topology.id(plugin.entry()),
                scenario.customers,
                factory.stream("workload"),
                factory.child_seed("workload/resubscribe", 0),
                topology.id(Role::Source),
                factory.stream("workload/updates"),
                factory.stream("workload/signups"),
            )),
            Role::Source => {
                let source = DataService::new(
                    name,
                    TableId::SOURCE,
                    scenario.services.profile.clone(),
                    plugin.source(&env),
                    factory.keyed(SHARED_TIMES),
                );
                let source = if plugin.change_table() { source.with_change_table() } else { source };
                Node::new(match plugin.commit_log() {
                    Some(retention) => source.with_commit_log(retention),
                    None => source,
                })
            }
            Role::Follower(f) => {
                let cfg = &followers[f];
                let service = DataService::new(
                    name,
                    TableId::follower(f),
                    cfg.service.clone(),
                    Box::new(Plain),
                    factory.keyed(SHARED_TIMES),
                );
                Node::new(match &cfg.side_effect {
                    // The stream is named after the follower, so adding one
                    // leaves every other follower's offsets as they were.
                    Some(e) => service.with_side_effect(
                        e.clone(),
                        scenario.customers,
                        &mut factory.stream(&format!("{name}/offsets")),
                    ),
                    None => service,
                })
            }
            Role::Orchestrator | Role::Broker | Role::Sync | Role::Tailer => {
                plugin.component(role, &env).unwrap_or_else(|| Node::new(Idle))
            }
        };
        let id = sim.add_node(name, node);
        debug_assert_eq!(id.index(), i);
    }
    sim.network_mut().set_default_link(scenario.network.default.clone());
    for l in &scenario.network.links {
        // Validated above: both ends are node names.
        let (Ok(from), Ok(to)) = (topology.lookup(&l.from), topology.lookup(&l.to)) else {
            unreachable!("Scenario::validate checks link ends")
        };
        sim.network_mut().set_link(from, to, l.link.clone());
    }
    sim.install_faults(&scenario.fault_plan(), scenario.horizon())?;
    if sim.components().any(|(_, n)| n.service().as_any().is::<crate::broker::Broker>()) {
        sim.state_mut().track_publishing();
    }
    Ok(Built { sim, pattern: plugin.name() })
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
    let report = run_until_stopped(scenario, pattern, seed, opts, &|| false)?;
    Ok(report.expect("a run nobody stops finishes"))
}

/// Like [`run`], but asks `stop` between slices of a thousandth of the run
/// and gives up, returning `None`, once it says so. The events are exactly
/// those of [`run`]: every step sets the clock from its own event, so
/// where the slices fall changes nothing.
///
/// ```
/// use patterns::{scenario::run_until_stopped, PatternConfig, RunOptions, Scenario};
/// let mut s = Scenario { customers: 100, ..Default::default() };
/// s.workload.rate_per_s = 1.0;
/// s.workload.duration = "1m".parse().unwrap();
/// let p = &PatternConfig::book_defaults()[0];
/// assert!(run_until_stopped(&s, p, 1, RunOptions::default(), &|| true).unwrap().is_none());
/// assert!(run_until_stopped(&s, p, 1, RunOptions::default(), &|| false).unwrap().is_some());
/// ```
pub fn run_until_stopped(
    scenario: &Scenario,
    pattern: &PatternConfig,
    seed: u64,
    opts: RunOptions,
    stop: &dyn Fn() -> bool,
) -> Result<Option<RunReport>, ScenarioError> {
    let mut built = build(scenario, pattern, seed, opts.trace)?;
    if opts.keep_requests {
        built.sim.state_mut().keep_retired_records(opts.sample.clone());
    }
    let horizon = scenario.horizon();
    let slice = (horizon.as_nanos() / 1_000).max(1);
    let mut t = SimTime::ZERO;
    while t < horizon {
        if stop() {
            return Ok(None);
        }
        t = SimTime::from_nanos(t.as_nanos().saturating_add(slice)).min(horizon);
        built.sim.run_until(t);
    }
    Ok(Some(RunReport::measure(scenario, pattern, &built.sim, seed, opts.keep_requests)))
}
