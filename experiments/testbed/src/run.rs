//! One testbed run of one pattern: reset the databases and the broker,
//! start the pattern's services, send the load, drain, check the
//! invariants, and write everything into a folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::broker;
use crate::db::{self, Server};
use crate::http::{self, AfterDelete, CallPolicy, Caller, Orchestrator};
use crate::info::{Outage, Pattern, RunInfo};
use crate::load::{self, Load};
use crate::record::Recorder;
use crate::service::Service;
use crate::sync::{self, SyncConfig};

/// Stops RabbitMQ's application `at` seconds after the load starts and
/// starts it again `down` seconds later, through `servers.sh`; returns
/// when each step began and ended.
async fn broker_outage(servers: PathBuf, t0: u64, at: f64, down: f64) -> Result<Outage> {
    let since = || crate::clock::now_ns().saturating_sub(t0) as f64 / 1e9;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("servers.sh");
    let step = |what: &'static str| {
        let script = script.clone();
        let servers = servers.clone();
        async move {
            let st = tokio::process::Command::new("bash").arg(&script).arg(what).arg(&servers).status().await?;
            anyhow::ensure!(st.success(), "servers.sh {what} failed ({st})");
            anyhow::Ok(())
        }
    };
    tokio::time::sleep(Duration::from_secs_f64(at)).await;
    let stop_begin_s = since();
    step("broker-stop").await?;
    let stop_end_s = since();
    tokio::time::sleep(Duration::from_secs_f64(down)).await;
    let start_begin_s = since();
    step("broker-start").await?;
    Ok(Outage { stop_begin_s, stop_end_s, start_begin_s, start_end_s: since() })
}

/// Where the servers are.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// PostgreSQL.
    pub pg: Server,
    /// RabbitMQ's AMQP URL.
    pub amqp: String,
    /// The folder `servers.sh` started them in (for a broker outage).
    pub servers: Option<PathBuf>,
}

/// Runs one pattern and writes its folder `out` (which must not exist;
/// it is written under a temporary name and renamed when whole).
pub async fn run(mut info: RunInfo, ends: &Endpoints, out: &Path) -> Result<RunInfo> {
    if out.exists() {
        bail!("{} exists; give a new folder", out.display());
    }
    let rec = Arc::new(Recorder::default());
    db::reset(&ends.pg, info.customers).await?;
    let names: Vec<&'static str> = vec!["contract", "billing"];
    info.followers = names.iter().map(|s| s.to_string()).collect();
    let w = info.workers;
    let profile = Service::new("profile", w, Some(ends.pg.pool("profile", w)?), Arc::clone(&rec));
    let followers: Vec<Arc<Service>> = names
        .iter()
        .map(|n| Ok(Service::new(n, w, Some(ends.pg.pool(n, w)?), Arc::clone(&rec))))
        .collect::<Result<_>>()?;
    for pool in std::iter::once(&profile).chain(&followers).filter_map(|s| s.pool.as_ref()) {
        db::warm(pool).await?;
    }
    let secs = Duration::from_secs_f64;
    let load = Load {
        rate_per_s: info.rate_per_s,
        duration: secs(info.duration_s),
        customers: info.customers,
        seed: info.seed,
        client_timeout: secs(info.client_timeout_s),
    };
    let mut background = Vec::new();
    let mut amqp = None;
    let (callee, url) = match info.pattern {
        Pattern::BackgroundSync => {
            let addr = http::serve(Arc::clone(&profile), AfterDelete::Nothing).await?;
            // The job gets pools of its own: it is a separate process in
            // the book, not one of the services' workers.
            let job_profile = Service::new("profile", 1, Some(ends.pg.pool("profile", 1)?), Arc::clone(&rec));
            let job_followers = names
                .iter()
                .map(|n| Ok(Service::new(n, 1, Some(ends.pg.pool(n, 1)?), Arc::clone(&rec))))
                .collect::<Result<Vec<_>>>()?;
            let cfg = SyncConfig { interval: secs(info.sync_interval_s), batch_size: info.batch_size };
            background.push(tokio::spawn(sync::run(cfg, job_profile, job_followers, Arc::clone(&rec))));
            ("profile", format!("http://{addr}/unsubscribe/"))
        }
        Pattern::Orchestrated => {
            let p = http::serve(Arc::clone(&profile), AfterDelete::Nothing).await?;
            let mut fs = Vec::new();
            for (n, f) in names.iter().zip(&followers) {
                fs.push((*n, http::serve(Arc::clone(f), AfterDelete::Nothing).await?));
            }
            let o = Arc::new(Orchestrator {
                svc: Service::new("orchestrator", w, None, Arc::clone(&rec)),
                caller: Caller::new("orchestrator", Arc::clone(&rec))?,
                profile: p,
                followers: fs,
                policy: CallPolicy {
                    timeout: secs(info.call_timeout_s),
                    max_retries: info.max_retries,
                    backoff: secs(info.backoff_s),
                },
            });
            let addr = http::serve_orchestrator(o).await?;
            ("orchestrator", format!("http://{addr}/unsubscribe/"))
        }
        Pattern::EventBased => {
            let conn = broker::connect(&ends.amqp).await?;
            broker::reset(&conn, &names, info.max_deliveries).await?;
            for f in &followers {
                broker::subscribe(&ends.amqp, Arc::clone(f), info.prefetch).await?;
            }
            let publisher =
                broker::Publisher::new(&ends.amqp, Arc::clone(&rec), info.outbox, secs(info.publish_timeout_s)).await?;
            if info.outbox {
                let relay = Arc::clone(&publisher).relay(Arc::clone(&profile), Duration::from_millis(500));
                background.push(tokio::spawn(relay));
            }
            let addr = http::serve(Arc::clone(&profile), AfterDelete::Publish(publisher)).await?;
            amqp = Some(conn);
            ("profile", format!("http://{addr}/unsubscribe/"))
        }
    };
    info.load_start_ns = crate::clock::now_ns();
    let outage = match (info.broker_outage_at_s, &ends.servers) {
        (Some(at), Some(dir)) => {
            Some(tokio::spawn(broker_outage(dir.clone(), info.load_start_ns, at, info.broker_outage_for_s)))
        }
        (Some(_), None) => bail!("a broker outage needs the servers' folder (--servers)"),
        _ => None,
    };
    load::run(load, callee, url, Arc::clone(&rec)).await?;
    if let Some(o) = outage {
        info.outage = Some(o.await??);
    }

    // Drain: wait until every customer told "unsubscribed" is gone from
    // every follower, or the pattern's own bound has passed.
    let bound = match info.pattern {
        Pattern::BackgroundSync => 2.0 * info.sync_interval_s + 30.0,
        _ => 30.0,
    };
    let drain_start = std::time::Instant::now();
    while drain_start.elapsed().as_secs_f64() < bound && !converged(&rec, names.len()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    info.drain_s = drain_start.elapsed().as_secs_f64();
    for b in &background {
        b.abort();
    }

    // Invariants, from the databases and the broker themselves.
    let ok: Vec<i32> = Recorder::take(&rec.requests).iter().filter(|r| r.outcome == "ok").map(|r| r.customer).collect();
    let failed: Vec<i32> =
        Recorder::take(&rec.requests).iter().filter(|r| r.outcome == "error").map(|r| r.customer).collect();
    let mut left = std::collections::BTreeSet::new();
    let mut not_back: std::collections::BTreeSet<i32> = std::collections::BTreeSet::new();
    for f in &followers {
        let pool = f.pool.as_ref().context("no pool")?;
        let c = pool.get().await?;
        let q = format!("SELECT id FROM {} WHERE id = ANY($1)", f.name);
        for r in c.query(&q, &[&ok]).await? {
            left.insert(r.get::<_, i32>(0));
        }
        let present: std::collections::BTreeSet<i32> =
            c.query(&q, &[&failed]).await?.iter().map(|r| r.get::<_, i32>(0)).collect();
        not_back.extend(failed.iter().filter(|c| !present.contains(c)));
    }
    info.told_ok_not_converged = left.len() as u64;
    info.error_not_restored = not_back.len() as u64;
    if amqp.is_some() {
        // A connection of its own: the one that declared the queues may
        // have died in a broker outage.
        let conn = &broker::connect(&ends.amqp).await?;
        for n in &names {
            info.queued_at_end += u64::from(broker::depth(conn, &broker::queue(n)).await?);
        }
        info.dead_lettered = u64::from(broker::depth(conn, broker::DEAD_LETTERS).await?);
    }
    info.messages = rec.messages.load(Ordering::Relaxed);
    info.publish_retries = rec.publish_retries.load(Ordering::Relaxed);

    // Whole or nothing: write beside, then rename.
    let tmp = tmp_name(out);
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    rec.write(&tmp)?;
    std::fs::write(tmp.join("run.json"), serde_json::to_string_pretty(&info)? + "\n")?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    Ok(info)
}

fn converged(rec: &Recorder, followers: usize) -> bool {
    let ok: std::collections::BTreeSet<i32> =
        Recorder::take(&rec.requests).iter().filter(|r| r.outcome == "ok").map(|r| r.customer).collect();
    let mut gone: std::collections::BTreeMap<i32, std::collections::BTreeSet<String>> = Default::default();
    for d in Recorder::take(&rec.deletions).into_iter().filter(|d| d.table != "profile") {
        gone.entry(d.customer).or_default().insert(d.table);
    }
    ok.iter().all(|c| gone.get(c).is_some_and(|t| t.len() == followers))
}

/// `DIR/.NAME.partial` beside `DIR/NAME`.
pub fn tmp_name(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!(".{name}.partial"))
}
