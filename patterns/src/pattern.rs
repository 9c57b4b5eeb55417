//! Which pattern to run: one variant per pattern, each the pattern's own
//! config, which implements [`Pattern`].

use serde::{Deserialize, Serialize};

use crate::background_sync::SyncConfig;
use crate::cdc::CdcConfig;
use crate::config::ConfigError;
use crate::event_based::EventConfig;
use crate::orchestrated::OrchestratedConfig;
use crate::plugin::Pattern;

/// Which pattern to run, and its knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatternConfig {
    /// Background synchronization.
    BackgroundSync(SyncConfig),
    /// Orchestrated request-based.
    Orchestrated(OrchestratedConfig),
    /// Event-based.
    EventBased(EventConfig),
    /// Change data capture.
    Cdc(CdcConfig),
}

impl PatternConfig {
    /// The pattern behind this config: the one place that dispatches on it.
    pub fn pattern(&self) -> &dyn Pattern {
        match self {
            PatternConfig::BackgroundSync(c) => c,
            PatternConfig::Orchestrated(c) => c,
            PatternConfig::EventBased(c) => c,
            PatternConfig::Cdc(c) => c,
        }
    }

    /// The name used in outputs: the config's `name`, or the pattern's.
    pub fn name(&self) -> String {
        self.pattern().name()
    }

    /// The three patterns with their book defaults.
    pub fn book_defaults() -> Vec<PatternConfig> {
        vec![
            PatternConfig::BackgroundSync(Default::default()),
            PatternConfig::Orchestrated(Default::default()),
            PatternConfig::EventBased(Default::default()),
        ]
    }

    /// Checks the pattern's knobs against `scenario`; `key` is where the
    /// pattern sits in the config.
    pub fn validate(&self, key: &str, scenario: &crate::Scenario) -> Result<(), ConfigError> {
        self.pattern().validate(key, scenario)
    }
}
