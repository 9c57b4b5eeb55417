//! The config's JSON Schema, derived from the serde types that read a
//! config, so that it cannot drift from them.

use patterns::Scenario;

use crate::config::Head;

/// An experiment file: the experiment's own keys and the scenario's, side
/// by side at the top level (the layout `config::load` reads).
#[derive(schemars::JsonSchema)]
#[schemars(
    title = "ecsim experiment",
    description = "An ecsim experiment config (TOML): the experiment's keys and the scenario's, at the top level."
)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Only its schema is used.
struct ExperimentFile {
    #[serde(flatten)]
    head: Head,
    #[serde(flatten)]
    scenario: Scenario,
}

/// The JSON Schema (draft 2020-12) of an experiment file.
pub(crate) fn config_schema() -> serde_json::Value {
    schemars::schema_for!(ExperimentFile).to_value()
}

/// The schema as the committed file holds it: pretty JSON and a newline.
pub(crate) fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&config_schema()).unwrap_or_default();
    text.push('\n');
    text
}
