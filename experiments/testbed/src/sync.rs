//! The background synchronization job: every `interval`, diff Profile's
//! table against each follower's by full scans, and delete the customers
//! Profile no longer has from the follower's table directly, in batches.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::clock::now_ns;
use crate::db;
use crate::record::{Deletion, Recorder, SyncPass};
use crate::service::Service;

/// The job's knobs (ecsim's `background_sync` pattern).
#[derive(Debug, Clone, Copy)]
pub struct SyncConfig {
    /// Run every this long; the first run one interval after the start.
    pub interval: Duration,
    /// Rows per delete batch.
    pub batch_size: usize,
}

/// Runs the job until the task is dropped. `profile` and `followers` lend
/// their database pools: the job writes into tables it does not own, as in
/// the book.
pub async fn run(
    cfg: SyncConfig,
    profile: Arc<Service>,
    followers: Vec<Arc<Service>>,
    rec: Arc<Recorder>,
) -> Result<()> {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + cfg.interval, cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut run = 0;
    loop {
        tick.tick().await;
        run += 1;
        let Some(pp) = profile.pool.as_ref() else { return Ok(()) };
        // One scan of Profile per run, then each follower in turn: scan,
        // diff, delete (ecsim's sync job makes the same calls).
        let t0 = now_ns();
        let source = db::ids(pp, "profile").await?;
        rec.msgs(2);
        Recorder::push(
            &rec.sync,
            SyncPass {
                run,
                table: "profile".into(),
                rows_scanned: source.len() as u64,
                scan_ns: now_ns() - t0,
                rows_deleted: 0,
                batches: 0,
                delete_ns: 0,
            },
        );
        for f in &followers {
            let Some(fp) = f.pool.as_ref() else { continue };
            let t0 = now_ns();
            let table = db::ids(fp, f.name).await?;
            rec.msgs(2);
            let scan_ns = now_ns() - t0;
            // Both lists are sorted: a merge finds the rows Profile lost.
            let gone = minus(&table, &source);
            let t1 = now_ns();
            let mut batches = 0;
            for chunk in gone.chunks(cfg.batch_size.max(1)) {
                let c = fp.get().await?;
                c.execute(&format!("DELETE FROM {} WHERE id = ANY($1)", f.name), &[&chunk]).await?;
                rec.msgs(2);
                batches += 1;
                let at = now_ns();
                let mut d = rec.deletions.lock().unwrap_or_else(|e| e.into_inner());
                d.extend(chunk.iter().map(|&customer| Deletion { table: f.name.into(), customer, at_ns: at }));
            }
            Recorder::push(
                &rec.sync,
                SyncPass {
                    run,
                    table: f.name.into(),
                    rows_scanned: table.len() as u64,
                    scan_ns,
                    rows_deleted: gone.len() as u64,
                    batches,
                    delete_ns: now_ns() - t1,
                },
            );
        }
    }
}

/// The elements of sorted `a` not in sorted `b`.
fn minus(a: &[i32], b: &[i32]) -> Vec<i32> {
    let mut out = Vec::new();
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::minus;

    #[test]
    fn minus_keeps_what_the_source_lost() {
        assert_eq!(minus(&[1, 2, 3, 5, 8], &[2, 3, 4, 8]), vec![1, 5]);
        assert_eq!(minus(&[1, 2], &[]), vec![1, 2]);
        assert!(minus(&[], &[1]).is_empty());
    }
}
