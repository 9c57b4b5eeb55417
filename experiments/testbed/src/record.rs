//! What the services record while they run, written as CSV afterwards.
//!
//! Appends go to vectors behind one mutex each: at tens of requests per
//! second the lock is never contended long enough to show in a service time
//! (a push is tens of nanoseconds against milliseconds of database work).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// One unsubscribe as the user saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Request {
    /// The customer.
    pub customer: i32,
    /// When the user sent it (ns).
    pub sent_ns: u64,
    /// When the answer arrived (ns); 0 if none did.
    pub answered_ns: u64,
    /// `ok`, `error` or `timeout`.
    pub outcome: String,
}

/// One unit of work in a service, holding one of its workers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Work {
    /// The service (`profile`, `contract`, `billing`, `orchestrator`).
    pub service: String,
    /// What it did (`unsubscribe`, `delete`, `restore`, `deliver`, `saga`).
    pub op: String,
    /// The customer.
    pub customer: i32,
    /// When it arrived and waited for a worker (ns).
    pub arrived_ns: u64,
    /// When a worker took it (ns).
    pub start_ns: u64,
    /// When it finished (ns).
    pub end_ns: u64,
    /// The part of `end - start` spent waiting on other services (ns): the
    /// orchestrator's calls. Service time = end - start - waited.
    pub waited_ns: u64,
}

/// One HTTP call between two parties, seen from the caller.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Call {
    /// Who called (`client`, `orchestrator`).
    pub caller: String,
    /// Who answered.
    pub callee: String,
    /// The customer.
    pub customer: i32,
    /// When the call left (ns).
    pub sent_ns: u64,
    /// When the reply came back (ns); 0 if none did.
    pub replied_ns: u64,
    /// The callee's own time from arrival to reply, from its reply header (ns).
    pub server_ns: u64,
    /// Whether it succeeded.
    pub ok: bool,
}

/// A row deleted from a table, when its transaction committed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Deletion {
    /// The table (`profile`, `contract`, `billing`).
    pub table: String,
    /// The customer.
    pub customer: i32,
    /// When the delete committed (ns).
    pub at_ns: u64,
}

/// One delivery of an event to a subscriber.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delivery {
    /// The subscriber.
    pub subscriber: String,
    /// The customer.
    pub customer: i32,
    /// When Profile published the event (ns).
    pub published_ns: u64,
    /// When the subscriber received it (ns).
    pub delivered_ns: u64,
    /// Whether the broker marked it redelivered.
    pub redelivered: bool,
    /// `applied`, `duplicate` or `failed`.
    pub outcome: String,
}

/// One table's share of a background sync run (Profile's: its scan only).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncPass {
    /// The run's number, from 1.
    pub run: u32,
    /// The follower table.
    pub table: String,
    /// Rows read by the table's full scan.
    pub rows_scanned: u64,
    /// Time of the scan (ns).
    pub scan_ns: u64,
    /// Rows deleted.
    pub rows_deleted: u64,
    /// Delete batches.
    pub batches: u64,
    /// Time of the deletes (ns).
    pub delete_ns: u64,
}

/// Everything a run records.
#[derive(Debug, Default)]
pub struct Recorder {
    /// The user's requests.
    pub requests: Mutex<Vec<Request>>,
    /// Worker-holding units of work.
    pub work: Mutex<Vec<Work>>,
    /// HTTP calls.
    pub calls: Mutex<Vec<Call>>,
    /// Committed deletions.
    pub deletions: Mutex<Vec<Deletion>>,
    /// Event deliveries.
    pub deliveries: Mutex<Vec<Delivery>>,
    /// Background sync passes.
    pub sync: Mutex<Vec<SyncPass>>,
    /// Messages on the wire, counted as ecsim counts them: every request
    /// and reply, publish and confirm, delivery and acknowledgement.
    pub messages: AtomicU64,
    /// Publishes sent again after no confirm.
    pub publish_retries: AtomicU64,
}

impl Recorder {
    /// Counts `n` messages.
    pub fn msgs(&self, n: u64) {
        self.messages.fetch_add(n, Ordering::Relaxed);
    }

    /// Appends one record.
    pub fn push<T>(list: &Mutex<Vec<T>>, item: T) {
        list.lock().unwrap_or_else(|e| e.into_inner()).push(item);
    }

    /// A copy of one list.
    pub fn take<T: Clone>(list: &Mutex<Vec<T>>) -> Vec<T> {
        list.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Writes every list as a CSV file into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_csv(&dir.join("requests.csv"), &Self::take(&self.requests))?;
        write_csv(&dir.join("work.csv"), &Self::take(&self.work))?;
        write_csv(&dir.join("calls.csv"), &Self::take(&self.calls))?;
        write_csv(&dir.join("deletions.csv"), &Self::take(&self.deletions))?;
        write_csv(&dir.join("deliveries.csv"), &Self::take(&self.deliveries))?;
        write_csv(&dir.join("sync.csv"), &Self::take(&self.sync))?;
        Ok(())
    }
}

/// Writes rows with a header, even when there are none (an empty file
/// is not a CSV file to pandas or polars: they refuse it).
pub fn write_csv<T: Serialize + Default>(path: &Path, rows: &[T]) -> Result<()> {
    let mut w = csv::WriterBuilder::new().has_headers(true).from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let mut bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    if rows.is_empty() {
        // The header as serde names the fields: a default row's first line.
        let mut h = csv::WriterBuilder::new().has_headers(true).from_writer(Vec::new());
        h.serialize(T::default())?;
        let all = h.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        let end = all.iter().position(|&b| b == b'\n').map_or(all.len(), |i| i + 1);
        bytes = all[..end].to_vec();
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Reads rows written by [`write_csv`].
pub fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let mut r = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for row in r.deserialize() {
        out.push(row.with_context(|| format!("reading {}", path.display()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_still_gets_its_header_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("testbed-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sync.csv");
        write_csv::<SyncPass>(&path, &[]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "run,table,rows_scanned,scan_ns,rows_deleted,batches,delete_ns\n");
        assert!(read_csv::<SyncPass>(&path).unwrap().is_empty());
        let one = Deletion { table: "billing".into(), customer: 7, at_ns: 9 };
        write_csv(&path, std::slice::from_ref(&one)).unwrap();
        let back: Vec<Deletion> = read_csv(&path).unwrap();
        assert_eq!((back[0].table.as_str(), back[0].customer, back[0].at_ns), ("billing", 7, 9));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
