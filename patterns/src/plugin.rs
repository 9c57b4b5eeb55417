//! The interface every pattern implements: what it adds to the book's
//! scenario.
//!
//! A scenario always has the same nodes ([`crate::topology`]): the client,
//! the source, the followers, the orchestrator, the broker and the sync
//! job. A pattern decides, through [`Pattern`]:
//! - which node answers the user ([`Pattern::entry`]);
//! - what the source service (Profile) does once it has committed the
//!   delete ([`Pattern::source`]): answer, publish, run the saga inline;
//! - whether Profile's database fills a change table ([`Pattern::change_table`])
//!   or keeps a commit log ([`Pattern::commit_log`]);
//! - which components it puts on its own nodes ([`Pattern::component`]):
//!   the orchestrator, the broker, the sync job, the log tailer. Nodes it
//!   leaves alone are idle;
//! - what it measures beyond the common report ([`Pattern::events_lost`]).
//!
//! [`scenario::build`](crate::scenario::build) asks these once per run.

use sim_core::{RngFactory, Simulation};

use crate::config::{ConfigError, Scenario};
use crate::node::Node;
use crate::service::{Plain, Source};
use crate::topology::{Role, Topology};
use crate::world::World;

/// What a pattern can see while it is built into a scenario.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its nodes and tables.
    pub topology: &'a Topology,
    /// The simulation's random streams, for a node that needs a named
    /// stream or keyed draws beyond its own stream (the broker's share of
    /// [`SHARED_TIMES`](crate::service::SHARED_TIMES)).
    pub rng: RngFactory,
}

/// An eventual-consistency pattern, as a plug-in of the scenario.
pub trait Pattern: std::fmt::Debug {
    /// The name used in outputs.
    fn name(&self) -> String;

    /// Checks the pattern's knobs against the scenario it runs in; `key` is
    /// where the pattern sits in the config.
    fn validate(&self, key: &str, scenario: &Scenario) -> Result<(), ConfigError>;

    /// The node the users send their unsubscribe requests to.
    fn entry(&self) -> Role {
        Role::Source
    }

    /// What the Profile service does around its delete.
    fn source(&self, _env: &Env<'_>) -> Box<dyn Source> {
        Box::new(Plain)
    }

    /// Whether a delete trigger on Profile fills a change table.
    fn change_table(&self) -> bool {
        false
    }

    /// Whether Profile's database keeps a commit log that a log tailer
    /// reads, and for how long it keeps each entry.
    fn commit_log(&self) -> Option<sim_core::SimDuration> {
        None
    }

    /// The component the pattern runs on the node playing `role`, one of
    /// the nodes no service owns (orchestrator, broker, sync, tailer);
    /// `None` leaves it idle.
    fn component(&self, _role: Role, _env: &Env<'_>) -> Option<Node> {
        None
    }

    /// Events lost on the way from the source to the followers, counted
    /// after the run (event-based: the dual-write gap).
    fn events_lost(&self, _sim: &Simulation<Node, World>) -> u64 {
        0
    }
}
