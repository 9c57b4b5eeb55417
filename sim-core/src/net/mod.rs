//! The network: named nodes, directed links and partitions.
//!
//! Every directed link has a latency distribution, a loss probability, a
//! duplication probability and an ordering ([`Ordering::Fifo`] or
//! [`Ordering::Reorder`]). Each link draws from its own random stream
//! (`"link/<from>-><to>"`), so traffic on one link never shifts the draws of
//! another.
//!
//! A partition blocks the directed links between two groups. A message is
//! blocked if the link it takes is cut **at the instant it is sent**; a
//! message already in flight when the cut starts still lands. Overlapping
//! partitions compose: a link is open again only when every cut covering it
//! has healed.

mod link;
mod partition;

use std::collections::BTreeMap;

use rand::Rng;

pub(crate) use link::Link;
pub use link::{LinkConfig, Ordering};
pub use partition::{Partition, PartitionId};

use crate::rng::RngFactory;
use crate::time::{SimDuration, SimTime};
use crate::NodeId;

/// Why the network dropped a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The link was cut by a partition when the message was sent.
    Partition,
    /// The link lost it (random loss).
    Loss,
    /// The destination was crashed when the message arrived.
    NodeDown,
}

/// What the network decided for one send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transit {
    Dropped(DropReason),
    Deliver { at: SimTime, duplicate_at: Option<SimTime> },
}

/// The nodes and the links between them.
///
/// Links are created on first use, so a simulation of a thousand nodes does
/// not pay for a million links it never touches.
#[derive(Debug)]
pub struct Network {
    names: Vec<String>,
    by_name: BTreeMap<String, NodeId>,
    default_link: LinkConfig,
    overrides: BTreeMap<(NodeId, NodeId), LinkConfig>,
    /// Per sending node, the links it has used, sorted by destination (found
    /// by binary search): memory in proportion to the links in use, not to
    /// the square of the node count, and adding a node costs O(1).
    links: Vec<Vec<(NodeId, Box<Link>)>>,
    /// Extra latency on every link touching a node (latency spikes).
    node_extra: Vec<SimDuration>,
    partitions: Vec<Option<Partition>>,
    factory: RngFactory,
}

impl Network {
    pub(crate) fn new(factory: RngFactory) -> Self {
        Network {
            names: Vec::new(),
            by_name: BTreeMap::new(),
            default_link: LinkConfig::default(),
            overrides: BTreeMap::new(),
            links: Vec::new(),
            node_extra: Vec::new(),
            partitions: Vec::new(),
            factory,
        }
    }

    fn link_mut(&mut self, from: NodeId, to: NodeId) -> &mut Link {
        let at = match self.links[from.index()].binary_search_by_key(&to, |e| e.0) {
            Ok(at) => at,
            Err(at) => {
                let config = self.overrides.get(&(from, to)).unwrap_or(&self.default_link).clone();
                let name = format!("link/{}->{}", self.names[from.index()], self.names[to.index()]);
                let link = Link { rng: self.factory.stream(&name), config, last_delivery: SimTime::ZERO, cuts: 0 };
                self.links[from.index()].insert(at, (to, Box::new(link)));
                at
            }
        };
        &mut self.links[from.index()][at].1
    }

    fn link_ref(&self, from: NodeId, to: NodeId) -> Option<&Link> {
        let row = &self.links[from.index()];
        row.binary_search_by_key(&to, |e| e.0).ok().map(|at| &*row[at].1)
    }

    /// How many directed links carry state (have been used, configured or
    /// cut): the network's memory grows with this, not with the square of
    /// the node count.
    pub fn links_in_use(&self) -> usize {
        self.links.iter().map(Vec::len).sum()
    }

    pub(crate) fn add_node(&mut self, name: &str) -> NodeId {
        assert!(!self.by_name.contains_key(name), "node name {name:?} is used twice");
        let id = NodeId(u32::try_from(self.names.len()).expect("too many nodes"));
        self.names.push(name.to_string());
        self.by_name.insert(name.to_string(), id);
        self.links.push(Vec::new());
        self.node_extra.push(SimDuration::ZERO);
        id
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the network has no nodes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// The name of a node.
    pub fn name(&self, id: NodeId) -> &str {
        &self.names[id.index()]
    }

    /// Every node name, in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Sets the configuration of every link without an override of its own.
    pub fn set_default_link(&mut self, config: LinkConfig) {
        for (from, row) in self.links.iter_mut().enumerate() {
            for (to, link) in row.iter_mut() {
                if !self.overrides.contains_key(&(NodeId(from as u32), *to)) {
                    link.config = config.clone();
                }
            }
        }
        self.default_link = config;
    }

    /// Sets the configuration of the directed link `from -> to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.overrides.insert((from, to), config.clone());
        self.link_mut(from, to).config = config;
    }

    /// The configuration of the directed link `from -> to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        self.overrides.get(&(from, to)).unwrap_or(&self.default_link)
    }

    /// Whether an active partition cuts `from -> to`.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.link_ref(from, to).is_some_and(|l| l.cuts > 0)
    }

    /// Starts a partition now; heal it with [`heal`](Self::heal).
    pub fn partition(&mut self, p: Partition) -> PartitionId {
        let pairs: Vec<_> = p.links().collect();
        for (x, y) in pairs {
            self.link_mut(x, y).cuts += 1;
        }
        self.partitions.push(Some(p));
        PartitionId(u32::try_from(self.partitions.len() - 1).expect("too many partitions"))
    }

    /// Heals a partition. Returns false if it had already healed.
    pub fn heal(&mut self, id: PartitionId) -> bool {
        let Some(p) = self.partitions.get_mut(id.0 as usize).and_then(Option::take) else {
            return false;
        };
        for (x, y) in p.links() {
            self.link_mut(x, y).cuts -= 1;
        }
        true
    }

    /// Adds (or with `add = false`, removes) extra latency on every link to
    /// or from `node`.
    pub(crate) fn spike(&mut self, node: NodeId, extra: SimDuration, add: bool) {
        let e = &mut self.node_extra[node.index()];
        *e = if add { *e + extra } else { *e - extra };
    }

    /// Decides the fate of one message sent now.
    #[inline]
    pub(crate) fn transit(&mut self, from: NodeId, to: NodeId, now: SimTime) -> Transit {
        let extra = self.node_extra[from.index()] + self.node_extra[to.index()];
        let link = self.link_mut(from, to);
        if link.cuts > 0 {
            return Transit::Dropped(DropReason::Partition);
        }
        if link.config.loss > 0.0 && link.rng.random_bool(link.config.loss) {
            return Transit::Dropped(DropReason::Loss);
        }
        let at = Self::arrival(link, now, extra);
        let duplicate_at = if link.config.duplicate > 0.0 && link.rng.random_bool(link.config.duplicate) {
            Some(Self::arrival(link, now, extra))
        } else {
            None
        };
        Transit::Deliver { at, duplicate_at }
    }

    #[inline]
    fn arrival(link: &mut Link, now: SimTime, extra: SimDuration) -> SimTime {
        let mut at = now + link.config.latency.sample(&mut link.rng) + extra;
        if link.config.ordering == Ordering::Fifo {
            // Equal instants keep send order through the queue's sequence numbers.
            at = at.max(link.last_delivery);
            link.last_delivery = at;
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Link state grows with the links used, not with the node count
    /// squared: ten thousand nodes and three links in use hold three links.
    #[test]
    fn link_state_is_proportional_to_the_links_in_use() {
        let mut net = Network::new(RngFactory::new(1));
        let ids: Vec<NodeId> = (0..10_000).map(|i| net.add_node(&format!("n{i}"))).collect();
        assert_eq!(net.links_in_use(), 0);
        let t = SimTime::ZERO;
        for (a, b) in [(0, 9_999), (9_999, 0), (0, 5), (0, 9_999)] {
            assert!(matches!(net.transit(ids[a], ids[b], t), Transit::Deliver { .. }));
        }
        assert_eq!(net.links_in_use(), 3);
        // Cutting and healing a partition touches only the links it names.
        let p = net.partition(Partition::one_way(vec![ids[1]], vec![ids[2], ids[3]]));
        assert!(net.is_cut(ids[1], ids[3]) && !net.is_cut(ids[3], ids[1]) && !net.is_cut(ids[4], ids[5]));
        assert_eq!(net.links_in_use(), 5);
        assert!(net.heal(p));
        assert!(!net.is_cut(ids[1], ids[3]));
    }
}
