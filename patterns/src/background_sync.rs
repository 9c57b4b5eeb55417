//! Pattern 1: background synchronization.
//!
//! The Profile service deletes its row and answers the user at once. A
//! separate sync job wakes on a schedule (every `interval`, or nightly at
//! `nightly_at`), learns what changed, and deletes the customer's rows from
//! every follower's table (the book's Contract and Billing) directly,
//! writing into tables it does not own, one follower after the other.
//!
//! It learns what changed in one of two ways ([`Detect`]):
//! - `diff`: a full-table scan of Profile, then of each follower's table,
//!   diffed; the scans cost database time in proportion to table size;
//! - `change_table`: a trigger on Profile's delete fills a change table,
//!   which the job reads and clears.
//!
//! A follower table may run on a schedule of its own (`tables`), synced by
//! a job of its own on the same node; the main job syncs the rest.
//!
//! Deletes go in batches of `batch_size`. A call that fails or does not
//! answer within `call_timeout` is retried up to `max_retries` times with
//! exponential backoff; then the run is abandoned. All of the job's
//! progress is process memory: if it crashes mid-batch, the run is lost too.
//! Either way the next run starts over (deletes are idempotent, so redoing a
//! batch is harmless).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sim_core::{Component, NodeId, SimDuration, SimTime};

use crate::calls::{Attempts, RetryPolicy};
use crate::config::{self, ConfigError};
use crate::ctx::Ctx;
use crate::msg::{unexpected, CallId, CustomerId, Msg, Op};
use crate::node::Node;
use crate::plugin::{Env, Pattern};
use crate::topology::{Role, TableId, Topology};
use crate::world::World;

/// How the sync job learns which customers left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Detect {
    /// Diff full-table scans.
    #[default]
    Diff,
    /// Read a change table filled by a delete trigger on Profile.
    ChangeTable,
}

/// Knobs of background synchronization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// A name for outputs (default `background_sync`).
    pub name: Option<String>,
    /// Run every this long (first run one interval after the start).
    pub interval: SimDuration,
    /// Instead, run once a day at this time of day (virtual time 0 is midnight).
    pub nightly_at: Option<SimDuration>,
    /// Diff or change table.
    pub detect: Detect,
    /// Rows per delete batch.
    pub batch_size: u32,
    /// Give up on a call that has not answered within this time.
    pub call_timeout: SimDuration,
    /// Retries of a failed or timed-out call before the run is abandoned.
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each further one.
    pub retry_backoff: SimDuration,
    /// Follower tables synced on a schedule of their own, each by a job of
    /// its own (the rest by the main job, on `interval` or `nightly_at`).
    /// Diff only: one change table cannot be cleared by several jobs.
    /// Written to resolved configs only when given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableSchedule>,
}

/// A follower table synced on its own schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TableSchedule {
    /// The table, by name.
    pub table: String,
    /// Run every this long.
    pub interval: SimDuration,
    /// Instead, run once a day at this time of day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nightly_at: Option<SimDuration>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            name: None,
            interval: SimDuration::from_hours(1),
            nightly_at: None,
            detect: Detect::Diff,
            batch_size: 500,
            call_timeout: SimDuration::from_mins(5),
            max_retries: 3,
            retry_backoff: SimDuration::from_secs(1),
            tables: Vec::new(),
        }
    }
}

impl SyncConfig {
    pub(crate) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if self.interval.is_zero() {
            return config::err(&format!("{key}.interval"), "must be above zero");
        }
        if self.nightly_at.is_some_and(|t| t >= SimDuration::from_hours(24)) {
            return config::err(&format!("{key}.nightly_at"), "must be a time of day below 24h");
        }
        if self.call_timeout.is_zero() {
            return config::err(&format!("{key}.call_timeout"), "must be above zero");
        }
        if self.batch_size == 0 {
            return config::err(&format!("{key}.batch_size"), "must be at least 1");
        }
        Ok(())
    }

    /// How each of the job's calls waits and retries.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy { timeout: self.call_timeout, max_retries: self.max_retries, backoff: self.retry_backoff }
    }

    /// The first run strictly after `now`.
    pub fn next_run(&self, now: SimTime) -> SimTime {
        next_run(self.interval, self.nightly_at, now)
    }

    /// The jobs: each a schedule and the follower tables it syncs, in
    /// order; the main job (every table without a schedule of its own)
    /// first, if it has any.
    pub fn jobs(&self, topology: &Topology) -> Result<Vec<JobPlan>, ConfigError> {
        let mut own = vec![None; topology.table_count()];
        for (i, t) in self.tables.iter().enumerate() {
            let key = format!("tables[{i}]");
            let Some(id) = topology.follower_tables().find(|&f| topology.table_name(f) == t.table) else {
                let names: Vec<&str> = topology.follower_tables().map(|f| topology.table_name(f)).collect();
                return config::err(
                    &format!("{key}.table"),
                    format!("no follower owns a table {:?}; follower tables are {}", t.table, names.join(", ")),
                );
            };
            if own[id.index()].replace(i).is_some() {
                return config::err(&format!("{key}.table"), format!("table {:?} is scheduled twice", t.table));
            }
            if t.interval.is_zero() {
                return config::err(&format!("{key}.interval"), "must be above zero");
            }
            if t.nightly_at.is_some_and(|t| t >= SimDuration::from_hours(24)) {
                return config::err(&format!("{key}.nightly_at"), "must be a time of day below 24h");
            }
        }
        if !self.tables.is_empty() && self.detect == Detect::ChangeTable {
            return config::err(
                "tables",
                "per-table schedules need detect = \"diff\": one change table cannot be cleared by several jobs",
            );
        }
        let main: Vec<TableId> = topology.follower_tables().filter(|t| own[t.index()].is_none()).collect();
        let mut jobs = Vec::new();
        if !main.is_empty() {
            jobs.push(JobPlan { interval: self.interval, nightly_at: self.nightly_at, tables: main });
        }
        for t in &self.tables {
            let id = topology.follower_tables().find(|&f| topology.table_name(f) == t.table).expect("checked above");
            jobs.push(JobPlan { interval: t.interval, nightly_at: t.nightly_at, tables: vec![id] });
        }
        Ok(jobs)
    }
}

/// One sync job: when it runs and which follower tables it syncs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPlan {
    /// Run every this long...
    pub interval: SimDuration,
    /// ... or once a day at this time of day.
    pub nightly_at: Option<SimDuration>,
    /// The follower tables, in order.
    pub tables: Vec<TableId>,
}

/// The first run strictly after `now` of a job every `interval`, or nightly
/// at `nightly_at`.
fn next_run(interval: SimDuration, nightly_at: Option<SimDuration>, now: SimTime) -> SimTime {
    let day = SimDuration::from_hours(24).as_nanos();
    let (step, offset) = match nightly_at {
        Some(at) => (day, at.as_nanos()),
        None => (interval.as_nanos(), 0),
    };
    let n = now.as_nanos();
    let k = if n < offset { 0 } else { (n - offset) / step + 1 };
    let t = SimTime::from_nanos(offset + k * step);
    if t == SimTime::ZERO {
        SimTime::from_nanos(step)
    } else {
        t
    }
}

#[derive(Debug)]
enum Stage {
    /// Reading Profile (scan or change table).
    Read,
    /// Scanning a target table for which candidates it still has (diff).
    Scan(TableId),
    /// Deleting batches from a target table.
    Delete(TableId, Vec<Arc<[CustomerId]>>),
    /// Clearing the processed change-table entries.
    Clear,
}

#[derive(Debug)]
struct Run {
    stage: Stage,
    candidates: Arc<[CustomerId]>,
    /// The attempt awaiting its reply; `None` during a retry's backoff.
    call: Option<CallId>,
    attempts: Attempts,
    table: TableId,
    op: Op,
}

/// One sync job: a schedule and the follower tables it syncs.
#[derive(Debug)]
pub struct SyncJob {
    cfg: SyncConfig,
    /// Its index on the sync node, which its timers and call ids carry.
    job: u8,
    plan: JobPlan,
    /// Each table's owner, by table index (the source's first).
    tables: Vec<NodeId>,
    run: Option<Run>,
    next_call: CallId,
}

/// Call ids carry their job in the top byte, so the node routes replies.
const JOB_SHIFT: u32 = 56;

impl SyncJob {
    /// Job `job` of the plan, syncing tables owned by `tables`, by table
    /// index: the source's first, then each follower's.
    pub fn new(cfg: SyncConfig, job: u8, plan: JobPlan, tables: Vec<NodeId>) -> Self {
        SyncJob { cfg, job, plan, tables, run: None, next_call: 0 }
    }

    fn arm(&self, ctx: &mut Ctx<'_>) {
        let next = next_run(self.plan.interval, self.plan.nightly_at, ctx.now());
        ctx.schedule_at(next, Msg::SyncTick { job: self.job });
    }

    fn tick(&mut self, ctx: &mut Ctx<'_>) {
        self.arm(ctx);
        if self.run.is_none() {
            ctx.state_mut().counters.sync_runs += 1;
            let op = match self.cfg.detect {
                Detect::Diff => Op::ScanAbsent,
                Detect::ChangeTable => Op::ReadChanges,
            };
            self.call(ctx, TableId::SOURCE, op, Stage::Read, Arc::from(Vec::new()));
        }
    }

    fn timed_out(&mut self, ctx: &mut Ctx<'_>, call: CallId) {
        // Only the attempt awaited counts; an earlier one was answered or given up on.
        if let Some(run) = self.run.as_mut().filter(|r| r.call == Some(call)) {
            run.attempts.timed_out(ctx);
            self.failed(ctx);
        }
    }

    fn call(&mut self, ctx: &mut Ctx<'_>, table: TableId, op: Op, stage: Stage, candidates: Arc<[CustomerId]>) {
        self.run = Some(Run { stage, candidates, call: None, attempts: Attempts::default(), table, op });
        self.send(ctx);
    }

    /// Sends (or re-sends) the run's current call under a fresh id, so a
    /// late reply to an earlier attempt is ignored.
    fn send(&mut self, ctx: &mut Ctx<'_>) {
        let Some(run) = self.run.as_mut() else { return };
        let call = (u64::from(self.job) << JOB_SHIFT) | self.next_call;
        self.next_call += 1;
        run.call = Some(call);
        run.attempts.send(ctx, &self.cfg.retry_policy(), self.tables[run.table.index()], call, run.op.clone());
    }

    /// The current call failed or timed out: retry it, or abandon the run.
    fn failed(&mut self, ctx: &mut Ctx<'_>) {
        let Some(run) = self.run.as_mut() else { return };
        // No reply is awaited until the retry goes out.
        run.call = None;
        if !run.attempts.retry(ctx, &self.cfg.retry_policy(), Msg::Retry { call: u64::from(self.job) }) {
            ctx.state_mut().counters.sync_failed_runs += 1;
            self.run = None;
        }
    }

    fn batches(&self, ids: &[CustomerId]) -> Vec<Arc<[CustomerId]>> {
        // Reversed, so that `pop` yields them in order.
        ids.chunks(self.cfg.batch_size as usize).rev().map(Arc::from).collect()
    }

    /// Starts on follower table `table`: scan it (diff) or delete every
    /// candidate from it (change table).
    fn sync_table(&mut self, ctx: &mut Ctx<'_>, table: TableId, candidates: Arc<[CustomerId]>) {
        match self.cfg.detect {
            Detect::Diff => self.call(ctx, table, Op::ScanPresent(candidates.clone()), Stage::Scan(table), candidates),
            Detect::ChangeTable => {
                let batches = self.batches(&candidates);
                self.delete_next(ctx, table, batches, candidates)
            }
        }
    }

    /// Moves to the next step after `table`'s deletes are done: the job's
    /// next table, or the end of the run.
    fn after_deletes(&mut self, ctx: &mut Ctx<'_>, table: TableId, candidates: Arc<[CustomerId]>) {
        let next = self.plan.tables.iter().position(|&t| t == table).map(|k| k + 1);
        if let Some(&next) = next.and_then(|k| self.plan.tables.get(k)) {
            self.sync_table(ctx, next, candidates);
        } else if self.cfg.detect == Detect::ChangeTable {
            self.call(ctx, TableId::SOURCE, Op::ClearChanges(candidates.clone()), Stage::Clear, candidates)
        } else {
            self.run = None;
        }
    }

    fn delete_next(
        &mut self,
        ctx: &mut Ctx<'_>,
        table: TableId,
        mut batches: Vec<Arc<[CustomerId]>>,
        candidates: Arc<[CustomerId]>,
    ) {
        match batches.pop() {
            Some(b) => self.call(ctx, table, Op::DeleteMany(b), Stage::Delete(table, batches), candidates),
            None => self.after_deletes(ctx, table, candidates),
        }
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_>, call: CallId, ok: bool, rows: Option<Arc<[CustomerId]>>) {
        if self.run.as_ref().is_none_or(|r| r.call != Some(call)) {
            return;
        }
        if !ok {
            self.failed(ctx);
            return;
        }
        let mut run = self.run.take().expect("checked above");
        run.attempts.disarm(ctx);
        let rows = rows.unwrap_or_else(|| Arc::from(Vec::new()));
        match run.stage {
            Stage::Read => self.sync_table(ctx, self.plan.tables[0], rows),
            Stage::Scan(table) => {
                let batches = self.batches(&rows);
                self.delete_next(ctx, table, batches, run.candidates)
            }
            Stage::Delete(table, batches) => self.delete_next(ctx, table, batches, run.candidates),
            Stage::Clear => {}
        }
    }
}

/// The sync node: its jobs, the main one and one per table with a
/// schedule of its own. A crash of the node loses every job's run.
#[derive(Debug)]
pub struct SyncJobs {
    jobs: Vec<SyncJob>,
}

impl SyncJobs {
    /// The jobs of `cfg` over `topology`'s tables.
    ///
    /// # Panics
    /// If `cfg`'s table schedules do not fit `topology` (validation refuses them).
    pub fn new(cfg: &SyncConfig, topology: &Topology) -> Self {
        let owners: Vec<NodeId> = topology.tables().map(|t| topology.owner(t)).collect();
        let plans = cfg.jobs(topology).expect("validated table schedules");
        let jobs = plans
            .into_iter()
            .enumerate()
            .map(|(i, plan)| SyncJob::new(cfg.clone(), i as u8, plan, owners.clone()))
            .collect();
        SyncJobs { jobs }
    }

    fn job(&mut self, call: CallId) -> Option<&mut SyncJob> {
        self.jobs.get_mut((call >> JOB_SHIFT) as usize)
    }
}

impl Component<World> for SyncJobs {
    type Msg = Msg;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.jobs.iter().for_each(|j| j.arm(ctx));
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::SyncTick { job } => {
                if let Some(j) = self.jobs.get_mut(usize::from(job)) {
                    j.tick(ctx);
                }
            }
            Msg::Reply { call, ok, rows } => {
                if let Some(j) = self.job(call) {
                    j.on_reply(ctx, call, ok, rows);
                }
            }
            Msg::CallTimeout { call } => {
                if let Some(j) = self.job(call) {
                    j.timed_out(ctx, call);
                }
            }
            // A retry names its job.
            Msg::Retry { call } => {
                if let Some(j) = self.jobs.get_mut(call as usize) {
                    j.send(ctx);
                }
            }
            other => unexpected("the sync job", &other),
        }
    }

    fn on_crash(&mut self, _at: SimTime, world: &mut World) {
        for j in &mut self.jobs {
            if j.run.take().is_some() {
                world.counters.sync_failed_runs += 1;
            }
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_>) {
        self.jobs.iter().for_each(|j| j.arm(ctx));
    }
}

impl crate::node::Service for SyncJobs {}

impl Pattern for SyncConfig {
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "background_sync".into())
    }

    fn validate(&self, key: &str, scenario: &crate::config::Scenario) -> Result<(), ConfigError> {
        SyncConfig::validate(self, key)?;
        self.jobs(&scenario.topology())
            .map(|_| ())
            .map_err(|e| ConfigError { key: format!("{key}.{}", e.key), problem: e.problem })
    }

    fn change_table(&self) -> bool {
        self.detect == Detect::ChangeTable
    }

    fn component(&self, role: Role, env: &Env<'_>) -> Option<Node> {
        (role == Role::Sync).then(|| Node::new(SyncJobs::new(self, env.topology)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_hourly_and_nightly_runs() {
        let h = |x: u64| SimTime::ZERO + SimDuration::from_hours(x);
        let hourly = SyncConfig::default();
        assert_eq!(hourly.next_run(SimTime::ZERO), h(1));
        assert_eq!(hourly.next_run(h(1)), h(2));
        assert_eq!(hourly.next_run(h(1) + SimDuration::from_secs(1)), h(2));
        let nightly = SyncConfig { nightly_at: Some(SimDuration::from_hours(23)), ..SyncConfig::default() };
        assert_eq!(nightly.next_run(SimTime::ZERO), h(23));
        assert_eq!(nightly.next_run(h(23)), h(47));
        assert_eq!(nightly.next_run(h(30)), h(47));
    }
}
