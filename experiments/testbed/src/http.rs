//! The services over HTTP: Customer Profile, Support Contract, Billing
//! Payment and the Unsubscribe Orchestrator, each on its workers
//! ([`Service`]). Every reply carries `x-server-ns`, the service's own time
//! from arrival to reply, so that a caller can split a round trip into the
//! network's part and the service's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

use crate::broker::Publisher;
use crate::clock::now_ns;
use crate::record::{Call, Recorder};
use crate::service::Service;

/// What Profile does after its delete.
#[derive(Debug, Clone)]
pub enum AfterDelete {
    /// Nothing: background sync (and the orchestrator's calls).
    Nothing,
    /// Publish `CustomerUnsubscribed` (event-based).
    Publish(Arc<Publisher>),
}

/// The state behind a service's routes.
#[derive(Debug, Clone)]
struct Ctx {
    svc: Arc<Service>,
    after: AfterDelete,
}

fn reply(ok: bool, arrived_ns: u64) -> (StatusCode, HeaderMap) {
    let mut h = HeaderMap::new();
    let took = now_ns().saturating_sub(arrived_ns);
    h.insert("x-server-ns", HeaderValue::from(took));
    (if ok { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR }, h)
}

/// Runs `op` on one of the service's workers (waiting first in, first out
/// for one), records the unit of work, and replies. `op` gives whether it
/// succeeded and the part of its time spent on others (ns).
async fn on_worker(
    svc: &Service,
    what: &str,
    id: i32,
    op: impl std::future::Future<Output = (bool, u64)>,
) -> (StatusCode, HeaderMap) {
    let arrived = now_ns();
    let Ok(_worker) = svc.workers.acquire().await else { return reply(false, arrived) };
    let start = now_ns();
    let (ok, waited) = op.await;
    svc.work(what, id, arrived, start, waited);
    reply(ok, arrived)
}

/// `POST /delete/{id}`: a participant's delete (orchestrated). A row
/// already gone is success: deletes are idempotent, so a retry after a
/// lost reply does no harm.
async fn delete(State(cx): State<Ctx>, Path(id): Path<i32>) -> (StatusCode, HeaderMap) {
    on_worker(&cx.svc, "delete", id, async { (cx.svc.delete(id).await.is_ok(), 0) }).await
}

/// `POST /restore/{id}`: a participant's compensation.
async fn restore(State(cx): State<Ctx>, Path(id): Path<i32>) -> (StatusCode, HeaderMap) {
    on_worker(&cx.svc, "restore", id, async { (cx.svc.restore(id).await.is_ok(), 0) }).await
}

/// `POST /unsubscribe/{id}` on Profile: delete, then (event-based) publish,
/// then answer. The publish's share (commit to answer) is recorded apart:
/// ecsim models it as the dual-write gap, not as the delete's service time.
async fn unsubscribe(State(cx): State<Ctx>, Path(id): Path<i32>) -> (StatusCode, HeaderMap) {
    on_worker(&cx.svc, "unsubscribe", id, async {
        match &cx.after {
            AfterDelete::Nothing => (cx.svc.delete(id).await.is_ok(), 0),
            AfterDelete::Publish(p) => p.delete_and_publish(&cx.svc, id).await,
        }
    })
    .await
}

/// Serves `svc` on an ephemeral loopback port; returns its address.
pub async fn serve(svc: Arc<Service>, after: AfterDelete) -> Result<SocketAddr> {
    let cx = Ctx { svc, after };
    let app = Router::new()
        .route("/delete/{id}", post(delete))
        .route("/restore/{id}", post(restore))
        .route("/unsubscribe/{id}", post(unsubscribe))
        .with_state(cx);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // No Nagle: a reply is one small write that must not wait for an ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Retries and timeouts of the orchestrator's calls (ecsim's
/// `patterns[].call_timeout`, `max_retries`, `backoff`).
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each further one.
    pub backoff: Duration,
}

/// An HTTP caller that records every call.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who calls.
    pub name: &'static str,
    /// The HTTP client (a pool of kept-alive connections per callee).
    pub http: reqwest::Client,
    /// Where it records.
    pub rec: Arc<Recorder>,
}

impl Caller {
    /// A caller named `name`.
    pub fn new(name: &'static str, rec: Arc<Recorder>) -> Result<Self> {
        let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
        Ok(Self { name, http, rec })
    }

    /// One POST; `Some(ok)` if a reply came within `timeout`.
    pub async fn once(&self, callee: &str, url: &str, customer: i32, timeout: Duration) -> Option<bool> {
        let sent = now_ns();
        self.rec.msgs(1);
        let res = tokio::time::timeout(timeout, self.http.post(url).send()).await;
        let (replied, ok, server) = match res {
            Ok(Ok(r)) => {
                self.rec.msgs(1);
                let server = r
                    .headers()
                    .get("x-server-ns")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                (Some(now_ns()), r.status().is_success(), server)
            }
            _ => (None, false, 0),
        };
        Recorder::push(
            &self.rec.calls,
            Call {
                caller: self.name.into(),
                callee: callee.into(),
                customer,
                sent_ns: sent,
                replied_ns: replied.unwrap_or(0),
                server_ns: server,
                ok,
            },
        );
        replied.map(|_| ok)
    }

    /// A call with retries and exponential backoff; true if it succeeded.
    pub async fn call(&self, callee: &str, url: String, customer: i32, p: CallPolicy) -> bool {
        for attempt in 0..=p.max_retries {
            if attempt > 0 {
                tokio::time::sleep(p.backoff * 2u32.pow(attempt - 1)).await;
            }
            if self.once(callee, &url, customer, p.timeout).await == Some(true) {
                return true;
            }
        }
        false
    }
}

/// The dedicated Unsubscribe Orchestrator: Profile first, then the
/// followers in parallel; compensates every participant if a step fails.
#[derive(Debug)]
pub struct Orchestrator {
    /// Its workers (no database).
    pub svc: Arc<Service>,
    /// Its calls.
    pub caller: Caller,
    /// Profile's address.
    pub profile: SocketAddr,
    /// The followers' names and addresses.
    pub followers: Vec<(&'static str, SocketAddr)>,
    /// Call retries and timeouts.
    pub policy: CallPolicy,
}

impl Orchestrator {
    async fn saga(&self, id: i32) -> bool {
        let arrived = now_ns();
        let Ok(_worker) = self.svc.workers.acquire().await else { return false };
        let start = now_ns();
        let t0 = now_ns();
        let mut ok = self.caller.call("profile", format!("http://{}/delete/{id}", self.profile), id, self.policy).await;
        if ok {
            let calls = self
                .followers
                .iter()
                .map(|(name, addr)| self.caller.call(name, format!("http://{addr}/delete/{id}"), id, self.policy));
            ok = futures_util::future::join_all(calls).await.into_iter().all(|x| x);
        }
        if !ok {
            // Compensate every participant: a delete that timed out may
            // have landed all the same.
            let all = std::iter::once(("profile", self.profile)).chain(self.followers.iter().copied());
            let calls =
                all.map(|(name, addr)| self.caller.call(name, format!("http://{addr}/restore/{id}"), id, self.policy));
            futures_util::future::join_all(calls).await;
        }
        let waited = now_ns().saturating_sub(t0);
        self.svc.work("saga", id, arrived, start, waited);
        ok
    }
}

async fn saga(State(o): State<Arc<Orchestrator>>, Path(id): Path<i32>) -> (StatusCode, HeaderMap) {
    let arrived = now_ns();
    let ok = o.saga(id).await;
    reply(ok, arrived)
}

/// Serves the orchestrator on an ephemeral loopback port.
pub async fn serve_orchestrator(o: Arc<Orchestrator>) -> Result<SocketAddr> {
    let app = Router::new().route("/unsubscribe/{id}", post(saga)).with_state(o);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}
