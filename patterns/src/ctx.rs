//! The context every scenario component handles its events with.

use sim_core::Context;

use crate::msg::Msg;
use crate::world::World;

/// Typed messages, and the [`World`] the simulation lends each handler.
pub type Ctx<'a> = Context<'a, Msg, World>;
