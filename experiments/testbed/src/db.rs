//! The three databases: one per service, each owning one table.

use anyhow::{Context, Result};
use deadpool_postgres::{Config, ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

/// The tables, one per service, in the order of the book.
pub const TABLES: [&str; 3] = ["profile", "contract", "billing"];

/// Where PostgreSQL listens.
#[derive(Debug, Clone)]
pub struct Server {
    /// Host (loopback).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Server {
    /// A pool of at most `size` connections to database `db`: a service's
    /// workers, each with its own connection, as a thread-per-request
    /// service with a connection per thread.
    pub fn pool(&self, db: &str, size: usize) -> Result<Pool> {
        let mut cfg = Config::new();
        cfg.host = Some(self.host.clone());
        cfg.port = Some(self.port);
        cfg.user = Some("postgres".into());
        cfg.dbname = Some(db.into());
        // Fast recycling: no test query per checkout, which would add a
        // round trip to every unit of work that the model does not have.
        cfg.manager = Some(ManagerConfig { recycling_method: RecyclingMethod::Fast });
        cfg.pool = Some(PoolConfig::new(size));
        cfg.create_pool(Some(Runtime::Tokio1), NoTls).with_context(|| format!("pool for database {db}"))
    }
}

/// Opens every connection of `pool` now, so that no measured request pays
/// for a connection's setup (ecsim's workers have none).
pub async fn warm(pool: &Pool) -> Result<()> {
    let size = pool.status().max_size;
    let conns = futures_util::future::try_join_all((0..size).map(|_| pool.get())).await?;
    for c in &conns {
        c.simple_query("SELECT 1").await?;
    }
    Ok(())
}

/// Creates each service's table afresh with `customers` rows (ids
/// `0..customers`), and the bookkeeping tables: Profile's outbox, and each
/// follower's record of the events it applied (idempotency).
pub async fn reset(server: &Server, customers: i32) -> Result<()> {
    for table in TABLES {
        let pool = server.pool(table, 1)?;
        let c = pool.get().await.with_context(|| format!("connecting to database {table} on port {}", server.port))?;
        let extra = if table == "profile" {
            "DROP TABLE IF EXISTS outbox; CREATE TABLE outbox (event bigint PRIMARY KEY, customer int NOT NULL);"
        } else {
            "DROP TABLE IF EXISTS applied; CREATE TABLE applied (event bigint PRIMARY KEY);"
        };
        c.batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY, plan text NOT NULL);
             INSERT INTO {table} SELECT g, 'standard' FROM generate_series(0, {last}) g;
             {extra}",
            last = customers - 1
        ))
        .await
        .with_context(|| format!("resetting database {table}"))?;
        // Apart: VACUUM cannot run inside the implicit transaction of a
        // multi-statement batch. Fresh statistics keep the plans the same
        // from run to run.
        c.batch_execute(&format!("VACUUM ANALYZE {table}")).await.with_context(|| format!("vacuuming {table}"))?;
    }
    Ok(())
}

/// The ids still in `table`, in order.
pub async fn ids(pool: &Pool, table: &str) -> Result<Vec<i32>> {
    let c = pool.get().await?;
    let rows = c.query(&format!("SELECT id FROM {table} ORDER BY id"), &[]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
