//! The scenario's nodes: their typed identity, and what every component on
//! them is.
//!
//! Every pattern gets the same seven nodes, in [`NodeName::ALL`] order (an
//! unused one stays [`Idle`]), so node ids, stream names and therefore the
//! workload and fault draws are the same for every pattern under one seed.
//! Every list of node names derives from [`NodeName::ALL`].

use std::any::Any;
use std::fmt;
use std::str::FromStr;

use sim_core::{Component, NodeId, SimTime};

use crate::ctx::Ctx;
use crate::msg::{label, Msg, TableKind};
use crate::workers::Workers;
use crate::world::World;

/// A node of the scenario, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeName {
    /// The users.
    Client,
    /// The Customer Profile Service (the source of the delete).
    Profile,
    /// The Support Contract Service.
    Contract,
    /// The Billing Payment Service.
    Billing,
    /// The Unsubscribe Orchestrator (orchestrated pattern, dedicated placement).
    Orchestrator,
    /// The message broker (event-based pattern).
    Broker,
    /// The background sync job.
    Sync,
}

impl NodeName {
    /// Every node, in id order.
    pub const ALL: [NodeName; 7] = [
        NodeName::Client,
        NodeName::Profile,
        NodeName::Contract,
        NodeName::Billing,
        NodeName::Orchestrator,
        NodeName::Broker,
        NodeName::Sync,
    ];

    /// The name used in configs, traces and outputs.
    ///
    /// ```
    /// use patterns::NodeName;
    /// assert_eq!(NodeName::Billing.name(), "billing");
    /// assert_eq!("billing".parse::<NodeName>(), Ok(NodeName::Billing));
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            NodeName::Client => "client",
            NodeName::Profile => "profile",
            NodeName::Contract => "contract",
            NodeName::Billing => "billing",
            NodeName::Orchestrator => "orchestrator",
            NodeName::Broker => "broker",
            NodeName::Sync => "sync",
        }
    }

    /// The node's id in every scenario simulation.
    pub const fn id(self) -> NodeId {
        NodeId::from_index(self as usize)
    }

    /// Every name, comma-separated, for error messages.
    pub fn list() -> String {
        NodeName::ALL.map(NodeName::name).join(", ")
    }
}

impl TableKind {
    /// The service that owns the table.
    pub const fn owner(self) -> NodeName {
        match self {
            TableKind::Profile => NodeName::Profile,
            TableKind::Contract => NodeName::Contract,
            TableKind::Billing => NodeName::Billing,
        }
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no node of the scenario.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown node {0:?}; nodes are {nodes}", nodes = NodeName::list())]
pub struct UnknownNode(pub String);

impl FromStr for NodeName {
    type Err = UnknownNode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeName::ALL.into_iter().find(|n| n.name() == s).ok_or_else(|| UnknownNode(s.to_string()))
    }
}

/// The nodes of every scenario, in id order.
pub const NODE_NAMES: [&str; 7] = [
    NodeName::Client.name(),
    NodeName::Profile.name(),
    NodeName::Contract.name(),
    NodeName::Billing.name(),
    NodeName::Orchestrator.name(),
    NodeName::Broker.name(),
    NodeName::Sync.name(),
];

/// Lets the measurements look at a node's concrete component.
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
pub trait Service: Component<World, Msg = Msg> + fmt::Debug + AsAny {
    /// The worker pool whose occupancy Little's law is checked on.
    fn workers(&self) -> Option<&Workers> {
        None
    }
}

/// A scenario node: any [`Service`], labelled for traces.
pub struct Node(Box<dyn Service>);

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
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

/// A node with nothing to do in this pattern. It receives nothing: every
/// message it could get would come from a part of a pattern that is absent.
#[derive(Debug)]
pub struct Idle;

impl Component<World> for Idle {
    type Msg = Msg;
    fn on_message(&mut self, _: &mut Ctx<'_>, _: NodeId, msg: Msg) {
        debug_assert!(false, "an idle node got {}", label(&msg));
    }
}

impl Service for Idle {}
