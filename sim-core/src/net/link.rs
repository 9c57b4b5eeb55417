//! One directed link: its configuration and its running state.

use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::rng::SimRng;
use crate::time::SimTime;

/// How a link orders the messages it carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    /// Messages arrive in the order they were sent, like a TCP connection:
    /// a message never overtakes an earlier one on the same link.
    #[default]
    Fifo,
    /// Each message takes its own latency draw and may overtake others.
    Reorder,
}

/// The configuration of a directed link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// One-way latency.
    pub latency: Dist,
    /// Probability that a message is lost.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub loss: f64,
    /// Probability that a delivered message is delivered twice.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub duplicate: f64,
    /// Message ordering.
    pub ordering: Ordering,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig { latency: Dist::default(), loss: 0.0, duplicate: 0.0, ordering: Ordering::Fifo }
    }
}

impl LinkConfig {
    /// A lossless FIFO link with the given latency.
    pub fn with_latency(latency: Dist) -> Self {
        LinkConfig { latency, ..Self::default() }
    }

    /// Checks that probabilities are probabilities and the latency is sane.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [("loss", self.loss), ("duplicate", self.duplicate)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be a probability in [0, 1], got {p}"));
            }
        }
        self.latency.validate().map_err(|e| format!("latency: {e}"))
    }
}

/// A link's state during a run.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) config: LinkConfig,
    pub(crate) rng: SimRng,
    /// The latest delivery instant handed out, for FIFO links.
    pub(crate) last_delivery: SimTime,
    /// How many active partitions cut this link.
    pub(crate) cuts: u32,
}
