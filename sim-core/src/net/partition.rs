//! Partitions: which directed links a cut between two groups of nodes blocks.

use crate::NodeId;

/// A cut between two groups of nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// One side.
    pub a: Vec<NodeId>,
    /// The other side.
    pub b: Vec<NodeId>,
    /// If true, only messages from `a` to `b` are blocked.
    pub one_way: bool,
}

impl Partition {
    /// A symmetric cut between `a` and `b`.
    pub fn between(a: Vec<NodeId>, b: Vec<NodeId>) -> Self {
        Partition { a, b, one_way: false }
    }

    /// A cut that blocks only `a -> b`.
    pub fn one_way(a: Vec<NodeId>, b: Vec<NodeId>) -> Self {
        Partition { a, b, one_way: true }
    }

    /// Every directed link the cut blocks.
    pub fn links(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        let forward = self.a.iter().flat_map(move |&x| self.b.iter().map(move |&y| (x, y)));
        let backward =
            self.b.iter().flat_map(move |&y| self.a.iter().map(move |&x| (y, x))).filter(move |_| !self.one_way);
        forward.chain(backward).filter(|(x, y)| x != y)
    }
}

/// Handle to an active partition, returned by [`Network::partition`](super::Network::partition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId(pub(crate) u32);
