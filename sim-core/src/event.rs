//! What the event queue holds: deliveries, timers and fault toggles.
//!
//! Every event sorts by `(time, sequence)` in the queue, whatever its kind,
//! so a fault at the same instant as a message runs in insertion order too.

use crate::fault::Fault;
use crate::node::NodeId;

/// One pending event.
pub(crate) enum Event<M> {
    /// A message reaches `to` (over the network if `network`).
    Deliver { from: NodeId, to: NodeId, msg: M, network: bool },
    /// A timer of `node`, valid only while the node is in `incarnation`.
    Timer { node: NodeId, incarnation: u32, msg: M },
    /// A fault toggle. Boxed: faults are rare, and the box keeps every queue
    /// entry small.
    Fault(Box<Fault>),
}

/// Timers injected from outside a node (e.g. by the test or the experiment)
/// survive the node's crashes; they are only dropped while the node is down.
pub(crate) const EXTERNAL: u32 = u32::MAX;
