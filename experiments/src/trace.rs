//! `ecsim trace`: a run's timeline in the Chrome trace event format, which
//! Perfetto (ui.perfetto.dev) and chrome://tracing open.
//!
//! Each pattern is a process, each node a thread (track). Work a service
//! does is a slice; the user's wait from request to answer is a slice on
//! the client's track; each row deletion (or restore) is a short slice on
//! the owning service's track, joined to its request by a flow arrow; faults
//! are global instant events. Timestamps are virtual time, in microseconds.

use anyhow::{Context as _, Result};
use patterns::world::TimelineEvent;
use patterns::Role;
use serde_json::{json, Value};
use sim_core::{SimTime, TraceKind, TraceMode};

use crate::config::Experiment;
use crate::runner::replication_seed;

/// What to keep.
#[derive(Clone, Debug, Default)]
pub(crate) struct TraceFilter {
    /// Only this customer's work (faults are always kept).
    pub customer: Option<u32>,
    /// Only from this instant.
    pub from: Option<SimTime>,
    /// Only up to this instant.
    pub to: Option<SimTime>,
    /// Only patterns whose name contains this.
    pub pattern: Option<String>,
}

fn us(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e3
}

/// Builds the trace of replication 0 at the experiment's first sweep point.
pub(crate) fn chrome_trace(exp: &Experiment, filter: &TraceFilter) -> Result<Value> {
    let point = &exp.points[0];
    let seed = replication_seed(exp.seed, 0);
    let mut events: Vec<Value> = Vec::new();
    let from = filter.from.unwrap_or(SimTime::ZERO);
    let to = filter.to.unwrap_or(SimTime::MAX);
    if from > to {
        anyhow::bail!(crate::UsageError(format!("--from {from} is later than --to {to}")));
    }
    let mut customer_seen = false;
    let in_window = |a: SimTime, b: SimTime| b >= from && a <= to;
    let wanted = |c: Option<u32>| filter.customer.is_none() || c == filter.customer;
    let mut any = false;
    for (pi, pattern) in point.patterns.iter().enumerate() {
        if filter.pattern.as_deref().is_some_and(|f| !pattern.name().contains(f)) {
            continue;
        }
        any = true;
        let pid = pi + 1;
        let mut built = patterns::build(&point.scenario, pattern, seed, TraceMode::Record)
            .with_context(|| format!("{}: {}", exp.source, pattern.name()))?;
        built.sim.state_mut().keep_retired_records(None);
        built.sim.run_until(point.scenario.horizon());
        events.push(json!({"ph": "M", "name": "process_name", "pid": pid, "args": {"name": pattern.name()}}));
        events.push(json!({"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}}));
        let topology = point.scenario.topology();
        let client = topology.id(Role::Client).index();
        for (i, n) in topology.names().iter().enumerate() {
            events.push(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": i, "args": {"name": n}}));
            events
                .push(json!({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": i, "args": {"sort_index": i}}));
        }
        let world = built.sim.state();
        // Complete: retired records are kept (above).
        let requests = world.request_log();
        // The user's wait: request to answer.
        for (req, r) in requests.iter().enumerate() {
            let end = r.answered.unwrap_or(built.sim.now());
            if !wanted(Some(r.customer)) || !in_window(r.arrival, end) {
                continue;
            }
            customer_seen = true;
            events.push(json!({
                "ph": "X", "cat": "request", "name": "user waits (unsubscribe)", "pid": pid, "tid": client,
                "ts": us(r.arrival), "dur": us(end) - us(r.arrival),
                "args": {"request": req, "customer": r.customer, "outcome": format!("{:?}", r.outcome)}
            }));
        }
        for e in world.timeline.iter().flatten() {
            match e {
                TimelineEvent::Span { node, name, customer, start, dur } => {
                    let end = *start + *dur;
                    if wanted(*customer) && in_window(*start, end) {
                        let mut args = json!({});
                        if let Some(c) = customer {
                            args = json!({"customer": c});
                        }
                        events.push(json!({
                            "ph": "X", "cat": "work", "name": name, "pid": pid, "tid": node.index(),
                            "ts": us(*start), "dur": dur.as_nanos() as f64 / 1e3, "args": args
                        }));
                    }
                }
                TimelineEvent::Row { table, customer, req, deleted, at } => {
                    if !wanted(Some(*customer)) || !in_window(*at, *at) {
                        continue;
                    }
                    let node = topology.owner(*table).index();
                    let name = topology.table_name(*table);
                    let what = if *deleted { "deleted" } else { "restored" };
                    events.push(json!({
                        "ph": "X", "cat": "row", "name": format!("{name} row {what}"), "pid": pid, "tid": node,
                        "ts": us(*at), "dur": 0.001, "args": {"customer": customer, "request": req}
                    }));
                    if let Some(req) = req {
                        let r = &requests[*req as usize];
                        if in_window(r.arrival, r.arrival) {
                            // Flow ids are unique per process; one arrow per row change.
                            let id = format!("{pid}-{req}-{}-{what}", table.index());
                            events.push(json!({
                                "ph": "s", "cat": "cause", "name": "request -> row", "id": id, "pid": pid,
                                "tid": client, "ts": us(r.arrival)
                            }));
                            events.push(json!({
                                "ph": "f", "bp": "e", "cat": "cause", "name": "request -> row", "id": id, "pid": pid,
                                "tid": node, "ts": us(*at)
                            }));
                        }
                    }
                }
                TimelineEvent::Request { .. } | TimelineEvent::Answer { .. } => {}
            }
        }
        for rec in built.sim.trace().records() {
            if rec.kind == TraceKind::Fault && in_window(rec.time, rec.time) {
                let node = built.sim.network().name(rec.node).to_string();
                events.push(json!({
                    "ph": "i", "s": "g", "cat": "fault", "name": format!("fault: {} {node}", rec.label), "pid": pid,
                    "tid": rec.node.index(), "ts": us(rec.time)
                }));
            }
        }
    }
    anyhow::ensure!(any, "no pattern of {} matches {:?}", exp.source, filter.pattern);
    if let (Some(c), false) = (filter.customer, customer_seen) {
        anyhow::bail!(crate::UsageError(format!(
            "customer {c} does not unsubscribe between {from} and {} in replication 0 of {} (a pinned customer \
             needs a run where they unsubscribe)",
            if to == SimTime::MAX { "the end".to_string() } else { to.to_string() },
            exp.name
        )));
    }
    Ok(json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "experiment": exp.name,
            "seed": seed,
            "clock": "virtual time, microseconds since the start of the run",
            "customer": filter.customer,
        }
    }))
}
