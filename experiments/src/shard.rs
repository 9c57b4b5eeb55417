//! Sweeps beyond one machine: `ecsim sweep --shard I/N` runs one shard of
//! an experiment's jobs, and `ecsim merge DIR` puts the shards back together
//! into exactly the files a single-machine run writes.
//!
//! Job `k` (in the runner's fixed job order) belongs to shard `k mod N`: the
//! rule depends on nothing but the config, and round-robin spreads the
//! expensive sweep points over the shards. A shard file holds its header
//! (format, config hash, shard, count, job list and the resolved config) and
//! one JSON line per finished job; floats round-trip exactly through JSON, so
//! the merge is byte-identical to an unsharded run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context as _, Result};
use patterns::RunReport;

use crate::config::{self, Experiment};
use crate::journal::{self, Header, Journal, Line};
use crate::output::write_atomic;
use crate::runner::{self, Job};

/// Shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShardSpec {
    /// From 0.
    pub index: u32,
    /// How many shards in all.
    pub count: u32,
}

impl FromStr for ShardSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("{s:?}: write the shard as I/N, e.g. 3/8"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("{s:?}: {i:?} is not a shard number"))?;
        let count: u32 = n.trim().parse().map_err(|_| format!("{s:?}: {n:?} is not a shard count"))?;
        if count == 0 || index >= count {
            return Err(format!("{s:?}: the shard must be between 0 and {}", count.saturating_sub(1)));
        }
        Ok(ShardSpec { index, count })
    }
}

fn env_u32(name: &str) -> Result<Option<u32>> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map(Some).map_err(|_| anyhow!("{name}={v:?} is not a number")),
        Err(_) => Ok(None),
    }
}

/// The shard from the environment: a Slurm job array
/// (`SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`, counted from
/// `SLURM_ARRAY_TASK_MIN`), or a Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX`, with the count given).
pub(crate) fn from_env(count: Option<u32>) -> Result<ShardSpec> {
    if let (Some(id), Some(n)) = (env_u32("SLURM_ARRAY_TASK_ID")?, env_u32("SLURM_ARRAY_TASK_COUNT")?) {
        let min = env_u32("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let spec = format!(
            "{}/{n}",
            id.checked_sub(min).ok_or_else(|| anyhow!("SLURM_ARRAY_TASK_ID below SLURM_ARRAY_TASK_MIN"))?
        );
        return spec.parse().map_err(|e: String| anyhow!("from the Slurm array: {e}"));
    }
    if let Some(i) = env_u32("JOB_COMPLETION_INDEX")? {
        let n = count.ok_or_else(|| anyhow!("JOB_COMPLETION_INDEX is set: give the shard count with --count N"))?;
        return format!("{i}/{n}").parse().map_err(|e: String| anyhow!("from JOB_COMPLETION_INDEX: {e}"));
    }
    bail!("no shard given: use --shard I/N, or run inside a Slurm job array or a Kubernetes Indexed Job")
}

fn file_name(spec: ShardSpec, hash: &str) -> String {
    format!("shard-{:04}-of-{:04}-{hash}.jsonl", spec.index, spec.count)
}

/// Runs one shard and writes its file into `out`. Returns the file.
///
/// Each finished job also goes at once into a journal beside the shard file
/// (`.shard-….jsonl.journal`), which `resume` picks up after an
/// interruption, and which is deleted once the shard file is written.
pub(crate) fn run_shard(
    exp: &Experiment,
    spec: ShardSpec,
    out: &Path,
    threads: Option<usize>,
    quiet: bool,
    resume: bool,
) -> Result<PathBuf> {
    let total = runner::jobs(exp).len();
    let mine: Vec<usize> = (0..total).filter(|k| *k as u32 % spec.count == spec.index).collect();
    let header = Header::new(exp, spec.index, spec.count, mine.clone());
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let name = file_name(spec, &header.config_hash);
    let (journal, done) = Journal::open(&out.join(format!(".{name}.journal")), &header, resume)?;
    if resume {
        eprintln!("resuming: {} of {} runs kept from {}", done.len(), mine.len(), journal.path().display());
    }
    let record = |k, job, r: &RunReport| journal.record(k, job, r);
    let results = runner::run_jobs(exp, &mine, done, &record, threads, quiet)?;
    let mut buf = serde_json::to_vec(&header)?;
    buf.push(b'\n');
    for (k, (job, report)) in mine.iter().zip(results) {
        serde_json::to_writer(&mut buf, &Line { index: *k, job, report })?;
        buf.push(b'\n');
    }
    let path = out.join(name);
    write_atomic(&path, &buf)?;
    journal.remove()?;
    Ok(path)
}

/// What a merge found wrong; every problem is named.
#[derive(Debug, thiserror::Error)]
#[error("cannot merge {dir}:\n  {}", problems.join("\n  "))]
pub(crate) struct MergeError {
    /// The folder.
    pub dir: String,
    /// One sentence per problem.
    pub problems: Vec<String>,
}

/// Checks that every shard of one sweep is in `dir`, complete and for the
/// same config, and returns the config and every job's results in the order
/// of an unsharded run. Writes nothing.
pub(crate) fn merge(dir: &Path) -> Result<(Experiment, Vec<(Job, RunReport)>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.starts_with("shard-") && n.ends_with(".jsonl")
        })
        .collect();
    files.sort();
    let fail = |problems: Vec<String>| MergeError { dir: dir.display().to_string(), problems };
    if files.is_empty() {
        return Err(fail(vec!["no shard files (shard-*.jsonl)".into()]).into());
    }
    let mut problems = Vec::new();
    let mut headers: Vec<(PathBuf, Header, Vec<Line>)> = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let (header, body) = match journal::read(f) {
            Ok(r) => {
                if let Some(d) = r.damage {
                    problems.push(format!("{name}: {d}"));
                }
                (r.header, r.lines)
            }
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        headers.push((f.clone(), header, body));
    }
    // Shards of different ecsim versions may model differently: never mix them.
    let versions: BTreeMap<&str, Vec<String>> = headers.iter().fold(BTreeMap::new(), |mut m, (p, h, _)| {
        m.entry(h.version.as_str())
            .or_default()
            .push(p.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string());
        m
    });
    if versions.len() > 1 {
        let list: Vec<String> = versions
            .iter()
            .map(|(v, files)| format!("{} by {}", files.join(", "), if v.is_empty() { "an older ecsim" } else { v }))
            .collect();
        problems.push(format!("shards from different ecsim versions: {}", list.join("; ")));
        return Err(fail(problems).into());
    }
    // The majority config hash and shard count define the sweep; the rest are mismatched.
    let mut votes: BTreeMap<(String, u32), usize> = BTreeMap::new();
    for (_, h, _) in &headers {
        *votes.entry((h.config_hash.clone(), h.of)).or_default() += 1;
    }
    let Some(((hash, count), _)) = votes.iter().max_by_key(|(k, v)| (**v, std::cmp::Reverse((*k).clone()))) else {
        return Err(fail(problems).into());
    };
    let (hash, count) = (hash.clone(), *count);
    let mut by_shard: BTreeMap<u32, (Header, Vec<Line>)> = BTreeMap::new();
    let mut shard_file: BTreeMap<u32, String> = BTreeMap::new();
    for (path, h, body) in headers {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        if h.config_hash != hash || h.of != count {
            problems.push(format!(
                "{name}: shard {}/{} of config {}, but the sweep is {count} shards of config {hash}",
                h.shard, h.of, h.config_hash
            ));
            continue;
        }
        if h.jobs.iter().any(|k| *k as u32 % count != h.shard) {
            problems.push(format!("{name}: shard {} lists jobs of other shards", h.shard));
            continue;
        }
        if h.jobs.len() != body.len() || h.jobs.iter().zip(&body).any(|(k, l)| *k != l.index) {
            problems.push(format!(
                "{name}: shard {} is incomplete ({} of {} results)",
                h.shard,
                body.len(),
                h.jobs.len()
            ));
            continue;
        }
        if let Some((_, held)) = by_shard.get(&h.shard) {
            // A second file for one shard: harmless if identical, else which is right is unknowable.
            let same = serde_json::to_string(held).ok() == serde_json::to_string(&body).ok();
            if !same {
                problems.push(format!(
                    "{} and {name} both hold shard {} with different results",
                    shard_file[&h.shard], h.shard
                ));
            }
            continue;
        }
        shard_file.insert(h.shard, name);
        by_shard.insert(h.shard, (h, body));
    }
    let missing: Vec<String> = (0..count).filter(|i| !by_shard.contains_key(i)).map(|i| i.to_string()).collect();
    if !missing.is_empty() {
        problems.push(format!("missing shard(s) {} of {count} (config {hash})", missing.join(", ")));
    }
    if !problems.is_empty() {
        return Err(fail(problems).into());
    }
    let first = by_shard.values().next().expect("at least one shard");
    let mut exp = config::load_str(&first.0.resolved_toml, "<shard header>")?;
    if !first.0.command.is_empty() {
        exp.reproduce = Some(first.0.command.clone());
    }
    // Already in the resolved values; kept for the comments that say so.
    for text in &first.0.set {
        let s = text.parse().map_err(|e: String| fail(vec![format!("a shard's --set {text}: {e}")]))?;
        exp.overrides.set.push(s);
    }
    if exp.hash() != hash {
        return Err(fail(vec![format!("the shards' config does not reproduce its hash {hash}")]).into());
    }
    let expected = runner::jobs(&exp);
    let mut all: Vec<Option<(Job, RunReport)>> = vec![None; expected.len()];
    for (_, body) in by_shard.into_values() {
        for l in body {
            if l.index >= expected.len() || expected[l.index] != l.job {
                return Err(fail(vec![format!("job {} does not belong to this sweep", l.index)]).into());
            }
            all[l.index] = Some((l.job, l.report));
        }
    }
    let results: Vec<(Job, RunReport)> = all
        .into_iter()
        .enumerate()
        .map(|(k, r)| r.ok_or_else(|| anyhow!("job {k} is in no shard")))
        .collect::<Result<_>>()?;
    Ok((exp, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_check_their_range() {
        assert_eq!("3/8".parse::<ShardSpec>(), Ok(ShardSpec { index: 3, count: 8 }));
        assert!("8/8".parse::<ShardSpec>().is_err());
        assert!("x/8".parse::<ShardSpec>().is_err());
        assert!("3".parse::<ShardSpec>().is_err());
        assert!("0/0".parse::<ShardSpec>().is_err());
    }
}
