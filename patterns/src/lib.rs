//! # patterns: the book's scenario, its three eventual-consistency patterns, and change data capture
//!
//! Built on [`sim_core`]'s public API only.
//!
//! ## The scenario
//!
//! A source service owns the master record: the book's Customer Profile
//! Service owns Profile. Any number of followers (1 to 64) each own a table
//! that must follow the source's delete: by default the book's two, the
//! Support Contract Service (Contract) and the Billing Payment Service
//! (Billing), or the `[[followers]]` a config lists ([`FollowerConfig`];
//! nodes and tables by name in [`topology`]). Every customer starts with a
//! row in every table. A customer unsubscribes and is told "unsubscribed,
//! you will no longer be billed"; eventually every table must agree. A
//! follower may have a periodic side effect on each of its rows
//! ([`SideEffectConfig`]): Billing charges every customer who still has a
//! billing row once per billing period, at the customer's own offset, and
//! a charge after the customer was told they are unsubscribed is an
//! anomaly; a Marketing follower's newsletter is another.
//!
//! Besides the unsubscribes, a workload may bring customers back after
//! they left (re-subscription, and the race of a late delete with it) and
//! background traffic: new subscriptions and profile updates
//! ([`config::WorkloadConfig`]).
//!
//! Requests arrive as a Poisson stream ([`client`]). Every service has a
//! pool of workers and a service-time distribution ([`ServiceConfig`]), so
//! requests queue and saturate; a synchronous call holds the caller's worker
//! until the reply or the timeout.
//!
//! ## The patterns
//!
//! - [`background_sync`]: Profile deletes and answers at once; a periodic
//!   job finds the change (table diff or change table) and deletes from
//!   every follower's table directly. Knobs: `interval` or `nightly_at`,
//!   `detect`, `batch_size`, `call_timeout`, and `tables` (a schedule of a
//!   table's own).
//! - [`orchestrated`]: the user waits while an orchestrator deletes from
//!   every table (followers in parallel, serially or in stages), with
//!   timeouts, retries and compensation. Knobs: `placement`, `order` or
//!   `stages`, `call_timeout`, `max_retries`, `backoff`, `on_failure`,
//!   `fencing`.
//! - [`cdc`] (change data capture, beyond the book): Profile deletes and
//!   answers; a log tailer reads Profile's commit log and publishes each
//!   delete to the broker, whose subscriptions deliver it as in the
//!   event-based pattern. No dual-write gap; a tailer crash re-publishes
//!   from its last committed offset, and an outage past the log's
//!   retention loses events. Knobs: `mode` (`poll` or `stream`),
//!   `poll_interval`, `stream_lag`, `retention`, `offset_commit_interval`.
//! - [`event_based`]: Profile deletes, publishes an event and answers;
//!   every follower's durable subscription applies it, with redelivery and
//!   a dead-letter queue. Knobs: `outbox`, `publish_gap`,
//!   `dual_write_crash_prob`, and the broker's under `services.broker`.
//!
//! ## How a pattern plugs in
//!
//! The data services ([`service`]) know no pattern: they execute database
//! operations, consume deliveries and charge. Each pattern lives in one
//! module, whose config type implements [`Pattern`] ([`plugin`]): which node
//! answers the user, what the Profile service does around its delete (a
//! [`service::Source`] hook), whether Profile's database fills a change
//! table or keeps a commit log, which components the pattern puts on the
//! orchestrator, broker, sync and tailer nodes, and what it measures
//! beyond the common report.
//! [`scenario::build`] asks the plug-in once per question; every node exists
//! in every pattern (idle where unused), so the workload and fault draws
//! stay the same across patterns. The simulation owns the tables and the
//! measurements ([`World`]) and lends them to one handler at a time.
//!
//! ## Adding a pattern
//!
//! A pattern that needs nothing new from the services touches:
//!
//! 1. **`patterns/src/<pattern>.rs`**, new: its config struct (serde, with
//!    `deny_unknown_fields` and a `name: Option<String>`), `impl Pattern`
//!    for it, and its components: a [`service::Source`] for what Profile
//!    does, and any [`node::Service`] it runs on the orchestrator, broker,
//!    sync or tailer node. New message kinds go into [`Msg`] (and its `label`).
//! 2. **`patterns/src/lib.rs`**: one `pub mod <pattern>;` line.
//! 3. **`patterns/src/pattern.rs`**: one variant of [`PatternConfig`] and
//!    one arm in [`PatternConfig::pattern`].
//!
//! Change data capture ([`cdc`]) needed more than that, and shows what
//! more looks like: a database feature of the source (its commit log, in
//! `service.rs`, switched on by [`Pattern::commit_log`] in `plugin.rs` and
//! `scenario.rs`), a node of its own (the tailer, in `topology.rs`), four
//! message kinds (`msg.rs`), a counter (`world.rs`), and the broker's
//! constructor and lost-event count shared with the event-based pattern
//! (`broker.rs`, `event_based.rs`).
//!
//! The report, the CSV files, the charts and `ecsim trace` pick it up by
//! its name. Two optional lines put it in the defaults: a config in
//! [`PatternConfig::book_defaults`] (run when a config lists no patterns)
//! and one in `explored_patterns` in `experiments/src/explore.rs` (the
//! configs `ecsim explore` hunts on). A new message kind also needs its arm wherever a
//! component must handle it: a component that receives a message it has no
//! part in panics naming both ([`msg::unexpected`]), so a forgotten arm
//! shows in the first test run rather than as silently lost work.

//! ## The metrics ([`RunReport`])
//!
//! - **Response time**: from the request's arrival at the client to the
//!   answer, over answered requests; **error share**: errors and timeouts
//!   over all requests.
//! - **Consistency lag from the answer**: for each customer told
//!   "unsubscribed" whose rows are all gone, the time from the answer until
//!   every follower's row was gone (zero if they went before the answer, as
//!   in the orchestrated pattern). **From the
//!   Profile deletion**: from the Profile row's deletion until the last row
//!   went.
//! - **Inconsistent at end**: customers whose rows disagree after the
//!   drain period. **Inconsistency over time**: the same count at every
//!   change.
//! - **Throughput**: "unsubscribed" answers given during the arrival window,
//!   per second of virtual time.
//! - **Failure counters** ([`Counters`]): retries, timeouts, compensations,
//!   failed compensations, redeliveries, duplicates, dead letters, manual
//!   repairs, events lost, charges after unsubscribe (count and cents; per
//!   follower in [`RunReport::side_effects`]).
//! - **Cost**: network messages and database operations per request.
//!
//! ## Example
//!
//! ```
#![doc = include_str!("../examples/compare.rs")]
//! ```

pub mod background_sync;
pub mod broker;
pub mod calls;
pub mod cdc;
mod charge_order;
pub mod client;
pub mod config;
pub mod ctx;
pub mod event_based;
pub mod followers;
mod id_window;
pub mod invariants;
pub mod metrics;
pub mod msg;
pub mod node;
pub mod orchestrated;
pub mod pattern;
pub mod plugin;
mod presence;
pub mod promises;
pub mod report;
pub mod request;
pub mod requests;
pub mod samples;
pub mod scenario;
pub mod series;
pub mod service;
pub mod tally;
pub mod topology;
pub mod validation;
pub mod workers;
pub mod world;

pub use config::{Arrival, ConfigError, PinnedArrival, Scenario, ServiceConfig};
pub use ctx::Ctx;
pub use followers::{Follower, FollowerConfig, SideEffectConfig};
pub use invariants::Violation;
pub use msg::Msg;
pub use pattern::PatternConfig;
pub use plugin::Pattern;
pub use report::RunReport;
pub use requests::RequestSample;
pub use samples::{cdf_probabilities, Percentiles};
pub use scenario::{build, run, Built, RunOptions, ScenarioError};
pub use topology::{Role, TableId, Topology, UnknownNode, MAX_FOLLOWERS};
pub use world::{Counters, Lags, Outcome, World};
