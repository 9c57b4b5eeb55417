//! `manifest.json`: what a result folder is, and which ecsim made it.
//!
//! Written last into a run's (or merge's) staging folder, so that a folder
//! holding a manifest is whole. It records only what is deterministic (no
//! dates, hosts or paths), so a rerun stays byte-identical, and it marks the
//! folder as ecsim's own for the next run into the same `--out`.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::config::Experiment;
use crate::journal::VERSION;
use crate::output::write_atomic;

/// The manifest's file name.
pub(crate) const FILE: &str = "manifest.json";

/// The manifest's format and revision.
const FORMAT: &str = "ecsim-results-1";

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'a str,
    ecsim_version: &'a str,
    experiment: &'a str,
    config_hash: String,
    seed: u64,
    replications: u32,
    sweep_points: usize,
    files: Vec<String>,
}

/// Writes `dir/manifest.json`, listing every file already in `dir`.
pub(crate) fn write(dir: &Path, exp: &Experiment) -> Result<()> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    files.retain(|f| f != FILE && !f.starts_with('.'));
    files.sort();
    let m = Manifest {
        format: FORMAT,
        ecsim_version: VERSION,
        experiment: &exp.name,
        config_hash: exp.hash(),
        seed: exp.seed,
        replications: exp.replications,
        sweep_points: exp.points.len(),
        files,
    };
    let mut text = serde_json::to_string_pretty(&m)?;
    text.push('\n');
    write_atomic(&dir.join(FILE), text.as_bytes())
}
