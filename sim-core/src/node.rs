//! Node identity: the floor that the network, the faults, the trace and the
//! simulation loop all build on.

/// Identifies a node (and its component) in a simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's index, in the order nodes were added.
    ///
    /// ```
    /// use sim_core::NodeId;
    /// assert_eq!(NodeId::from_index(3).index(), 3);
    /// ```
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the `i`-th node added (ids are handed out in order).
    /// Using an id the simulation does not have panics when it is used.
    pub const fn from_index(i: usize) -> NodeId {
        NodeId(i as u32)
    }
}
