//! The trait a model implements to live on a node.

use crate::context::Context;
use crate::node::NodeId;
use crate::time::SimTime;

/// A model that lives on a node and reacts to events.
///
/// Messages are a typed enum (`Msg`); timers carry a `Msg` too, so a model
/// matches on one enum for everything that can happen to it.
///
/// `S` is the model state the simulation owns and lends to the handler
/// through [`Context::state_mut`]: state that several components read and
/// write (a model's ground truth, its measurements) without shared cells.
/// It defaults to `()` for models that need none.
pub trait Component<S = ()> {
    /// The message type shared by every node of the simulation.
    type Msg: Clone;

    /// Called once for every node, in id order, before the first event.
    fn on_start(&mut self, _ctx: &mut Context<'_, Self::Msg, S>) {}

    /// A message arrived from `from` (which is the node itself for a
    /// self-send).
    fn on_message(&mut self, ctx: &mut Context<'_, Self::Msg, S>, from: NodeId, msg: Self::Msg);

    /// A timer set by this node fired. By default, handled like a message
    /// from the node itself.
    fn on_timer(&mut self, ctx: &mut Context<'_, Self::Msg, S>, msg: Self::Msg) {
        let me = ctx.id();
        self.on_message(ctx, me, msg);
    }

    /// The node crashed at `at`: drop every volatile field, keep the
    /// durable ones. Pending timers are already gone. A crashed process
    /// sends nothing, so it sees only the model state (to count what it lost).
    fn on_crash(&mut self, _at: SimTime, _state: &mut S) {}

    /// The node restarted after a crash.
    fn on_restart(&mut self, _ctx: &mut Context<'_, Self::Msg, S>) {}

    /// A short label for a message, used in traces.
    fn label(_msg: &Self::Msg) -> &'static str
    where
        Self: Sized,
    {
        "msg"
    }
}

impl<M: Clone, S> Component<S> for Box<dyn Component<S, Msg = M>> {
    type Msg = M;
    fn on_start(&mut self, ctx: &mut Context<'_, M, S>) {
        (**self).on_start(ctx)
    }
    fn on_message(&mut self, ctx: &mut Context<'_, M, S>, from: NodeId, msg: M) {
        (**self).on_message(ctx, from, msg)
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, M, S>, msg: M) {
        (**self).on_timer(ctx, msg)
    }
    fn on_crash(&mut self, at: SimTime, state: &mut S) {
        (**self).on_crash(at, state)
    }
    fn on_restart(&mut self, ctx: &mut Context<'_, M, S>) {
        (**self).on_restart(ctx)
    }
}
