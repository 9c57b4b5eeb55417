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
use crate::contract::{describe, ColumnDoc};
use crate::journal::VERSION;
use crate::output::{write_atomic, Written};
use crate::runner::replication_seed;

/// The manifest's file name.
pub(crate) const FILE: &str = "manifest.json";

/// The manifest's format and revision (2: columns, units, seeds, the
/// command and the request sample).
const FORMAT: &str = "ecsim-results-2";

/// One file of the folder; a CSV's columns with their units and meanings.
#[derive(Serialize)]
struct FileEntry {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<ColumnDoc>>,
}

/// How `requests.csv` was sampled.
#[derive(Serialize)]
struct RequestSample {
    /// Rows written.
    rows: u64,
    /// Requests sampled from: replication 0 of every point and pattern.
    population: u64,
    /// rows / population (1 when every request is there).
    fraction: f64,
    /// How the rows were chosen.
    method: &'static str,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'a str,
    ecsim_version: &'a str,
    experiment: &'a str,
    description: &'a str,
    /// The command that rewrites this folder byte for byte.
    command: String,
    config_hash: String,
    seed: u64,
    replications: u32,
    /// Every replication's seed, by replication.
    replication_seeds: Vec<u64>,
    sweep_points: usize,
    requests_csv: RequestSample,
    files: Vec<FileEntry>,
}

/// A CSV's columns, documented by the data contract; a column it does not
/// know is a bug in ecsim, not in the user's input.
fn columns(dir: &Path, file: &str, exp: &Experiment) -> Result<Vec<ColumnDoc>> {
    let path = dir.join(file);
    let mut r = csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let unit = |d: usize| exp.sweep.get(d).map_or("", |d| d.unit()).to_string();
    let (x_unit, y_unit) = (unit(0), unit(1));
    r.headers()
        .with_context(|| format!("cannot read {}", path.display()))?
        .iter()
        .map(|c| {
            describe(file, c, &x_unit, &y_unit)
                .with_context(|| format!("{}: column {c:?} is not in the data contract", path.display()))
        })
        .collect()
}

/// Writes `dir/manifest.json`, listing every file already in `dir`.
pub(crate) fn write(dir: &Path, exp: &Experiment, written: &Written) -> Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    names.retain(|f| f != FILE && !f.starts_with('.'));
    names.sort();
    let files = names
        .into_iter()
        .map(|name| {
            let columns = if name.ends_with(".csv") { Some(columns(dir, &name, exp)?) } else { None };
            Ok(FileEntry { name, columns })
        })
        .collect::<Result<_>>()?;
    let (rows, population) = (written.request_rows, written.request_population);
    let m = Manifest {
        format: FORMAT,
        ecsim_version: VERSION,
        experiment: &exp.name,
        description: exp.description.trim(),
        command: exp.command(),
        config_hash: exp.hash(),
        seed: exp.seed,
        replications: exp.replications,
        replication_seeds: (0..exp.replications).map(|r| replication_seed(exp.seed, r)).collect(),
        sweep_points: exp.points.len(),
        requests_csv: RequestSample {
            rows,
            population,
            fraction: if population == 0 { 1.0 } else { rows as f64 / population as f64 },
            method: "uniform without replacement: the requests with the smallest keys, drawn from the master \
                     seed, the sweep point and the request's index, so every pattern keeps the same requests",
        },
        files,
    };
    let mut text = serde_json::to_string_pretty(&m)?;
    text.push('\n');
    write_atomic(&dir.join(FILE), text.as_bytes())
}
