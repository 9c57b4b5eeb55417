//! The testbed: the book's three eventual-consistency patterns running for
//! real, on PostgreSQL and RabbitMQ, measured so that ecsim's predictions
//! can be checked against them.
//!
//! Without the `services` feature this crate is only the records a run
//! writes and their analysis ([`record`], [`info`], [`measure`],
//! [`stats`]), which `ecsim testbed` reads to calibrate a config and compare
//! its prediction with the measurement. With it (the default), it is also
//! the services themselves and the `ecsim-testbed` binary that runs them.

pub mod info;
pub mod measure;
pub mod record;
pub mod stats;

#[cfg(feature = "services")]
pub mod broker;
#[cfg(feature = "services")]
pub mod clock;
#[cfg(feature = "services")]
pub mod db;
#[cfg(feature = "services")]
pub mod http;
#[cfg(feature = "services")]
pub mod load;
#[cfg(feature = "services")]
pub mod run;
#[cfg(feature = "services")]
pub mod service;
#[cfg(feature = "services")]
pub mod sync;
