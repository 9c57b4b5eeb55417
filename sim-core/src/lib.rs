//! # sim-core: a deterministic discrete-event simulation kernel
//!
//! sim-core knows nothing about customers, tables or consistency patterns.
//! It offers what such models are built on:
//!
//! - **Integer virtual time** ([`SimTime`], [`SimDuration`]): `u64`
//!   nanoseconds, parsed from and printed as `"250ms"`, `"1.5s"`, `"2h"`.
//!   No floating point ever reaches the clock.
//! - **A total event order.** Events run by time, then by insertion
//!   sequence: two events at the same instant run first in, first out. The
//!   queue ([`EventQueue`]) is a radix heap with O(1) timer cancellation.
//! - **Components** ([`Component`]) that receive typed messages and timers
//!   through a [`Context`]: the clock, timers, the network, their own
//!   random stream, and the model state the simulation owns and lends to
//!   one handler at a time ([`Simulation::with_state`]), so models share
//!   state without `RefCell`.
//! - **Seeded randomness** ([`RngFactory`]): one master seed, one ChaCha
//!   stream per component and purpose, keyed by name. Adding a component
//!   does not change any other component's draws. [`KeyedDraws`] gives
//!   draws by key instead of by order, for draws components must share.
//! - **Distributions** ([`Dist`]) for latencies and service times.
//! - **A network** ([`Network`]) of directed links with latency, loss,
//!   duplication and FIFO or free ordering, and partitions.
//! - **Faults as data** ([`FaultPlan`]): partitions, crashes and restarts,
//!   pauses, slowdowns and latency spikes at fixed times or drawn from rates.
//! - **Observability**: [`Stats`] counters and an optional [`Trace`] whose
//!   hash proves two runs identical.
//!
//! ## Determinism
//!
//! The same components, the same seed and the same calls give the same run,
//! event for event, on any machine: there is no wall clock, no OS
//! randomness and no iteration over hash maps anywhere in the kernel. A
//! simulation is single-threaded; run many side by side for parallelism.
//!
//! ## Example
//!
//! ```
#![doc = include_str!("../examples/ping_pong.rs")]
//! ```

pub mod component;
pub mod context;
pub mod dist;
pub mod draw;
mod event;
pub mod fault;
pub mod keyed;
pub mod net;
pub mod node;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod stats;
pub mod time;
pub mod trace;

pub use component::Component;
pub use context::{Context, TimerId};
pub use dist::{Dist, DistError};
pub use fault::{Fault, FaultError, FaultPlan, FaultSpec, FaultWindow, RandomFault};
pub use keyed::KeyedDraws;
pub use net::{DropReason, LinkConfig, Network, Ordering, Partition, PartitionId};
pub use node::NodeId;
pub use queue::{EventId, EventQueue};
pub use rng::{stable_hash, RngFactory, SimRng};
pub use sim::Simulation;
pub use stats::Stats;
pub use time::{ParseDurationError, SimDuration, SimTime};
pub use trace::{Trace, TraceKind, TraceMode, TraceRecord};
