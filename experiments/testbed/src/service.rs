//! A service's workers and database: the part every pattern's services
//! share, whether they answer HTTP calls or consume events.
//!
//! A service is a bounded pool of workers (a semaphore with `workers`
//! permits, and as many database connections): a unit of work waits first
//! in, first out for a worker and holds it to the end, as in ecsim's model
//! of a thread-per-request service.

use std::sync::Arc;

use anyhow::{Context, Result};
use deadpool_postgres::Pool;
use tokio::sync::Semaphore;

use crate::clock::now_ns;
use crate::record::{Deletion, Recorder, Work};

/// One service: its name (which is also its table's), its workers and its
/// database.
#[derive(Debug)]
pub struct Service {
    /// `profile`, `contract`, `billing` or `orchestrator`.
    pub name: &'static str,
    /// The workers: a unit of work holds one permit from start to end.
    pub workers: Semaphore,
    /// Its database, one connection per worker (none for the orchestrator).
    pub pool: Option<Pool>,
    /// Where it records.
    pub rec: Arc<Recorder>,
}

impl Service {
    /// A service with `workers` workers.
    pub fn new(name: &'static str, workers: usize, pool: Option<Pool>, rec: Arc<Recorder>) -> Arc<Self> {
        Arc::new(Self { name, workers: Semaphore::new(workers), pool, rec })
    }

    fn pool(&self) -> Result<&Pool> {
        self.pool.as_ref().context("this service has no database")
    }

    /// Deletes the customer's row; records the commit if a row went.
    pub async fn delete(&self, customer: i32) -> Result<bool> {
        let c = self.pool()?.get().await?;
        let st = c.prepare_cached(&format!("DELETE FROM {} WHERE id = $1", self.name)).await?;
        let n = c.execute(&st, &[&customer]).await?;
        if n == 1 {
            self.deleted(customer);
        }
        Ok(n == 1)
    }

    /// Records that the customer's row went now.
    pub fn deleted(&self, customer: i32) {
        Recorder::push(&self.rec.deletions, Deletion { table: self.name.into(), customer, at_ns: now_ns() });
    }

    /// Puts the customer's row back (a compensation).
    pub async fn restore(&self, customer: i32) -> Result<()> {
        let c = self.pool()?.get().await?;
        let st = c
            .prepare_cached(&format!(
                "INSERT INTO {} (id, plan) VALUES ($1, 'standard') ON CONFLICT (id) DO NOTHING",
                self.name
            ))
            .await?;
        c.execute(&st, &[&customer]).await?;
        Ok(())
    }

    /// Records one unit of work.
    pub fn work(&self, op: &str, customer: i32, arrived_ns: u64, start_ns: u64, waited_ns: u64) {
        Recorder::push(
            &self.rec.work,
            Work {
                service: self.name.into(),
                op: op.into(),
                customer,
                arrived_ns,
                start_ns,
                end_ns: now_ns(),
                waited_ns,
            },
        );
    }
}
