//! The optional event trace.
//!
//! With [`TraceMode::Hash`] every processed event folds its time, node, kind
//! and label into a running FNV-1a hash: two runs are identical exactly when
//! their hashes agree (up to hash collisions), which is what determinism
//! tests compare. [`TraceMode::Record`] also keeps the records, which can be
//! written as JSON Lines.

use std::io::{self, Write};

use serde::Serialize;

use crate::rng::{fnv_fold, stable_hash};
use crate::time::SimTime;
use crate::NodeId;

/// How much of the run to trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraceMode {
    /// Nothing (the fastest).
    #[default]
    Off,
    /// Only the running hash.
    Hash,
    /// The hash and every record.
    Record,
}

/// What kind of event a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceKind {
    /// A message arrived from `from`.
    Message {
        /// The sender.
        from: NodeId,
    },
    /// A timer fired.
    Timer,
    /// A fault toggled.
    Fault,
    /// A message was dropped instead of delivered.
    Drop {
        /// The sender.
        from: NodeId,
        /// Why.
        reason: crate::net::DropReason,
    },
}

/// One traced event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceRecord {
    /// When.
    pub time: SimTime,
    /// Where.
    pub node: NodeId,
    /// What kind.
    pub kind: TraceKind,
    /// The message's or fault's label.
    pub label: &'static str,
}

/// The trace of a run.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    mode: TraceMode,
    hash: u64,
    count: u64,
    records: Vec<TraceRecord>,
}

impl Trace {
    pub(crate) fn new(mode: TraceMode) -> Self {
        Trace { mode, hash: 0xcbf2_9ce4_8422_2325, count: 0, records: Vec::new() }
    }

    /// The mode.
    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.mode != TraceMode::Off
    }

    pub(crate) fn record(&mut self, rec: TraceRecord) {
        let (tag, extra) = match rec.kind {
            TraceKind::Message { from } => (1u8, u64::from(from.0)),
            TraceKind::Timer => (2, 0),
            TraceKind::Fault => (3, 0),
            TraceKind::Drop { from, reason } => (4, (u64::from(from.0) << 8) | reason as u64),
        };
        let mut buf = [0u8; 29];
        buf[..8].copy_from_slice(&rec.time.as_nanos().to_le_bytes());
        buf[8..12].copy_from_slice(&rec.node.0.to_le_bytes());
        buf[12] = tag;
        buf[13..21].copy_from_slice(&extra.to_le_bytes());
        buf[21..29].copy_from_slice(&stable_hash(rec.label.as_bytes()).to_le_bytes());
        self.hash = fnv_fold(self.hash, &buf);
        self.count += 1;
        if self.mode == TraceMode::Record {
            self.records.push(rec);
        }
    }

    /// The running hash of every traced event so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many events were traced.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing was traced.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The kept records ([`TraceMode::Record`] only).
    pub fn records(&self) -> &[TraceRecord] {
        &self.records
    }

    /// Writes the records as JSON Lines, naming nodes by `names`.
    pub fn write_jsonl<W: Write>(&self, names: &[String], mut out: W) -> io::Result<()> {
        #[derive(Serialize)]
        struct Line<'a> {
            time_ns: u64,
            node: &'a str,
            #[serde(flatten)]
            kind: TraceKind,
            label: &'a str,
        }
        for r in &self.records {
            let line = Line { time_ns: r.time.as_nanos(), node: &names[r.node.index()], kind: r.kind, label: r.label };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}
