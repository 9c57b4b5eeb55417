//! Builds one simulation of the book's scenario under one pattern, runs it,
//! and measures it.
//!
//! Every pattern gets the same seven nodes ([`NodeName::ALL`]; unused ones
//! stay idle), so node ids, stream names and therefore the workload and
//! fault draws are the same for every pattern under one seed.

use sim_core::{FaultError, SimTime, Simulation, TraceMode};

use crate::client::Client;
use crate::config::{ConfigError, Scenario};
use crate::msg::TableKind;
use crate::node::{Idle, Node, NodeName};
use crate::pattern::PatternConfig;
use crate::plugin::Env;
use crate::report::RunReport;
use crate::service::{DataService, Plain};
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
    let plugin = pattern.pattern();
    let mut world = World::new(scenario.customers);
    if trace == TraceMode::Record {
        // A full trace also gets the model's timeline (spans, requests, rows).
        world.record_timeline();
    }
    let mut sim: Simulation<Node, World> = Simulation::with_state(seed, world);
    sim.set_trace(trace);
    let factory = sim.rng_factory();
    let env = Env {
        scenario,
        tables: [NodeName::Profile.id(), NodeName::Contract.id(), NodeName::Billing.id()],
        broker: NodeName::Broker.id(),
    };
    let svc = &scenario.services;
    for name in NodeName::ALL {
        let node = match name {
            NodeName::Client => Node::new(Client::new(
                scenario.workload.clone(),
                plugin.entry().id(),
                scenario.customers,
                factory.stream("workload"),
            )),
            NodeName::Profile => {
                let profile = DataService::new(TableKind::Profile, svc.profile.clone(), plugin.source(&env));
                Node::new(if plugin.change_table() { profile.with_change_table() } else { profile })
            }
            NodeName::Contract => {
                Node::new(DataService::new(TableKind::Contract, svc.contract.clone(), Box::new(Plain)))
            }
            NodeName::Billing => {
                Node::new(DataService::new(TableKind::Billing, svc.billing.clone(), Box::new(Plain)).with_billing(
                    scenario.billing.clone(),
                    scenario.customers,
                    &mut factory.stream("billing/offsets"),
                ))
            }
            NodeName::Orchestrator | NodeName::Broker | NodeName::Sync => {
                plugin.component(name, &env).unwrap_or_else(|| Node::new(Idle))
            }
        };
        let id = sim.add_node(name.name(), node);
        debug_assert_eq!(id, name.id());
    }
    sim.network_mut().set_default_link(scenario.network.default.clone());
    for l in &scenario.network.links {
        // Validated above: both ends are node names.
        let (Ok(from), Ok(to)) = (l.from.parse::<NodeName>(), l.to.parse::<NodeName>()) else {
            unreachable!("Scenario::validate checks link ends")
        };
        sim.network_mut().set_link(from.id(), to.id(), l.link.clone());
    }
    sim.install_faults(&scenario.fault_plan(), scenario.horizon())?;
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
