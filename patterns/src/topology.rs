//! Who is in a scenario: the nodes, by role and by name, and the tables
//! the data services own.
//!
//! Every scenario has a client (the users), one source service (the book's
//! Customer Profile, which owns the master record), N followers (1 to 64;
//! the book's Support Contract and Billing Payment by default), and four
//! nodes the patterns may use: the orchestrator, the broker, the sync job
//! and the change-data-capture log tailer. Ids follow that order, so every
//! pattern under one seed gets the same node ids, the same stream names and
//! therefore the same workload and fault draws; with the book's two
//! followers the ids are those the model always had (the tailer, added
//! last, took no id from anyone).
//!
//! Tables are numbered like their owners: [`TableId::SOURCE`] is the
//! source's, follower `i` owns `TableId::follower(i)`.

use std::fmt;

use sim_core::NodeId;

/// The most followers a scenario may have.
pub const MAX_FOLLOWERS: usize = 64;

/// A table, by its owner: 0 is the source's, `1 + i` follower `i`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct TableId(u8);

impl TableId {
    /// The source's table (the book's Profile).
    pub const SOURCE: TableId = TableId(0);

    /// Follower `i`'s table.
    ///
    /// # Panics
    /// If `i` is not below [`MAX_FOLLOWERS`] (validation refuses more).
    pub fn follower(i: usize) -> TableId {
        assert!(i < MAX_FOLLOWERS, "at most {MAX_FOLLOWERS} followers");
        TableId(i as u8 + 1)
    }

    /// The table at position `i` of per-table arrays (see [`TableId::index`]).
    ///
    /// # Panics
    /// If `i` is above [`MAX_FOLLOWERS`].
    pub fn from_index(i: usize) -> TableId {
        assert!(i <= MAX_FOLLOWERS, "at most {MAX_FOLLOWERS} followers");
        TableId(i as u8)
    }

    /// Position in per-table arrays: 0 for the source, `1 + i` for follower `i`.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The follower that owns this table, or `None` for the source's.
    pub fn follower_index(self) -> Option<usize> {
        self.index().checked_sub(1)
    }
}

/// What a node does in the scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The users.
    Client,
    /// The source service (the book's Customer Profile).
    Source,
    /// Follower `i` (the book's Support Contract is 0, Billing Payment 1).
    Follower(usize),
    /// The orchestrator (orchestrated pattern, dedicated placement).
    Orchestrator,
    /// The message broker (event-based pattern).
    Broker,
    /// The background sync job.
    Sync,
    /// The change-data-capture log tailer.
    Tailer,
}

/// The fixed names of the nodes no config names.
const CLIENT: &str = "client";
const ORCHESTRATOR: &str = "orchestrator";
const BROKER: &str = "broker";
const SYNC: &str = "sync";
const TAILER: &str = "tailer";

/// Names a follower may not take: the nodes every scenario has.
pub const RESERVED_NAMES: [&str; 5] = [CLIENT, ORCHESTRATOR, BROKER, SYNC, TAILER];

/// The nodes and tables of one scenario.
///
/// ```
/// use patterns::{Role, Scenario};
/// let t = Scenario::default().topology();
/// assert_eq!(t.names(), ["client", "profile", "contract", "billing", "orchestrator", "broker", "sync", "tailer"]);
/// assert_eq!(t.id(Role::Follower(1)), t.lookup("billing").unwrap());
/// assert!(t.lookup("marketing").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Node names in id order.
    names: Vec<String>,
    /// Table names, by [`TableId::index`].
    tables: Vec<String>,
}

impl Topology {
    /// A topology with a source named `source` owning table `source_table`,
    /// and followers given as `(node name, table name)` in order.
    pub fn new(source: (&str, &str), followers: &[(&str, &str)]) -> Topology {
        let mut names = vec![CLIENT.to_string(), source.0.to_string()];
        names.extend(followers.iter().map(|f| f.0.to_string()));
        names.extend([ORCHESTRATOR, BROKER, SYNC, TAILER].map(String::from));
        let mut tables = vec![source.1.to_string()];
        tables.extend(followers.iter().map(|f| f.1.to_string()));
        Topology { names, tables }
    }

    /// How many followers.
    pub fn followers(&self) -> usize {
        self.tables.len() - 1
    }

    /// How many tables (the source's and every follower's).
    pub fn table_count(&self) -> usize {
        self.tables.len()
    }

    /// Every table, source first.
    pub fn tables(&self) -> impl DoubleEndedIterator<Item = TableId> + ExactSizeIterator {
        (0..self.tables.len()).map(TableId::from_index)
    }

    /// Every follower's table, in order.
    pub fn follower_tables(&self) -> impl DoubleEndedIterator<Item = TableId> + ExactSizeIterator {
        (0..self.followers()).map(TableId::follower)
    }

    /// The node playing `role`.
    pub fn id(&self, role: Role) -> NodeId {
        let n = self.followers();
        NodeId::from_index(match role {
            Role::Client => 0,
            Role::Source => 1,
            Role::Follower(i) => {
                assert!(i < n, "follower {i} of {n}");
                2 + i
            }
            Role::Orchestrator => 2 + n,
            Role::Broker => 3 + n,
            Role::Sync => 4 + n,
            Role::Tailer => 5 + n,
        })
    }

    /// The role of node `id`.
    pub fn role(&self, id: NodeId) -> Role {
        let n = self.followers();
        match id.index() {
            0 => Role::Client,
            1 => Role::Source,
            i if i < 2 + n => Role::Follower(i - 2),
            i if i == 2 + n => Role::Orchestrator,
            i if i == 3 + n => Role::Broker,
            i if i == 4 + n => Role::Sync,
            _ => Role::Tailer,
        }
    }

    /// The node that owns `table`.
    pub fn owner(&self, table: TableId) -> NodeId {
        match table.follower_index() {
            None => self.id(Role::Source),
            Some(i) => self.id(Role::Follower(i)),
        }
    }

    /// Every node's name, in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A node's name.
    pub fn name(&self, id: NodeId) -> &str {
        &self.names[id.index()]
    }

    /// A table's name.
    pub fn table_name(&self, table: TableId) -> &str {
        &self.tables[table.index()]
    }

    /// The node called `name`.
    pub fn lookup(&self, name: &str) -> Result<NodeId, UnknownNode> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(NodeId::from_index)
            .ok_or_else(|| UnknownNode { name: name.to_string(), nodes: self.names.join(", ") })
    }
}

/// A name that is no node of the scenario.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown node {name:?}; nodes are {nodes}")]
pub struct UnknownNode {
    /// The name asked for.
    pub name: String,
    /// Every node of the scenario, comma-separated.
    pub nodes: String,
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_ids_round_trip() {
        let followers: Vec<(String, String)> = (0..5).map(|i| (format!("f{i}"), format!("t{i}"))).collect();
        let f: Vec<(&str, &str)> = followers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let t = Topology::new(("src", "master"), &f);
        assert_eq!(t.names().len(), 11);
        for i in 0..t.names().len() {
            let id = NodeId::from_index(i);
            assert_eq!(t.id(t.role(id)), id);
        }
        assert_eq!(t.owner(TableId::follower(4)), t.lookup("f4").unwrap());
        assert_eq!(t.table_name(TableId::follower(4)), "t4");
        assert_eq!(t.owner(TableId::SOURCE), t.id(Role::Source));
        assert_eq!(t.name(t.id(Role::Sync)), "sync");
    }
}
