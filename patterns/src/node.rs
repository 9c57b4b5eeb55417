//! What every component on a scenario's nodes is.
//!
//! Every pattern gets the same nodes ([`crate::topology`]; an unused one
//! stays [`Idle`]), so node ids, stream names and therefore the workload
//! and fault draws are the same for every pattern under one seed.

use std::any::Any;
use std::fmt;

use sim_core::{Component, NodeId, SimTime};

use crate::ctx::Ctx;
use crate::msg::{label, Msg};
use crate::workers::Workers;
use crate::world::World;

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
