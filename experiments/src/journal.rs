//! Per-job records: the shard file format, and the journal that makes an
//! interrupted run resumable.
//!
//! A record file is one JSON header line (format, ecsim version, config
//! hash, shard, job list and the resolved config) and then one JSON line per
//! finished job. Floats round-trip exactly through JSON, so results read back
//! from a record are the results that were run, bit for bit.
//!
//! `ecsim sweep` writes its shard as such a file. `ecsim run` and
//! `ecsim sweep` also append each job to a *journal* beside their output the
//! moment it finishes; a run that completes deletes its journal, one that is
//! interrupted (Ctrl-C, a kill, a full disk, a node lost under Slurm) leaves
//! it, and `--resume` reruns only the jobs the journal lacks. Each line goes
//! out in one write, so a kill leaves at most one torn last line, which
//! resuming drops.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result};
use patterns::RunReport;
use serde::{Deserialize, Serialize};

use crate::config::Experiment;
use crate::runner::{Done, Job};

/// The record format's name and revision (2: replication seeds fit 63 bits).
pub(crate) const FORMAT: &str = "ecsim-shard-2";

/// The ecsim that wrote a record; results of two versions never mix.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A record file's first line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    /// [`FORMAT`].
    pub format: String,
    /// The ecsim version that ran the jobs (absent in older shards).
    #[serde(default)]
    pub version: String,
    /// [`Experiment::hash`] of the resolved config.
    pub config_hash: String,
    /// Which shard (0 for a whole run).
    pub shard: u32,
    /// Of how many shards (1 for a whole run).
    pub of: u32,
    /// The indices (into `runner::jobs`) this file is for.
    pub jobs: Vec<usize>,
    /// The resolved config, so that a merge needs nothing else.
    pub resolved_toml: String,
    /// The command that reproduces the run, for the merged manifest.
    #[serde(default)]
    pub command: String,
    /// The run's `--set` overrides, for the merged config.resolved.toml.
    #[serde(default)]
    pub set: Vec<String>,
}

impl Header {
    /// The header for `jobs` of shard `shard` of `of` of `exp`.
    pub(crate) fn new(exp: &Experiment, shard: u32, of: u32, jobs: Vec<usize>) -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION.into(),
            config_hash: exp.hash(),
            shard,
            of,
            jobs,
            resolved_toml: exp.resolved_toml.clone(),
            command: exp.command(),
            set: exp.overrides.set.iter().map(|s| s.text.clone()).collect(),
        }
    }
}

/// One finished job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Line {
    /// Its index into `runner::jobs`.
    pub index: usize,
    /// The job.
    pub job: Job,
    /// What it measured.
    pub report: RunReport,
}

/// A record file as read: the header, the good lines, and the first damaged
/// line's problem, if any (reading stops there).
#[derive(Debug)]
pub(crate) struct Read {
    pub header: Header,
    pub lines: Vec<Line>,
    pub damage: Option<String>,
}

/// Why a record file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The file cannot be opened or read.
    #[error("cannot read it ({0})")]
    Io(#[from] std::io::Error),
    /// The first line is no header.
    #[error("not a shard file (no header)")]
    NoHeader,
    /// A header of another format.
    #[error("format {0:?}, expected {FORMAT:?}")]
    Format(String),
}

/// Reads a record file.
pub(crate) fn read(path: &Path) -> Result<Read, ReadError> {
    let mut lines = BufReader::new(File::open(path)?).lines();
    let header: Header = match lines.next().transpose()?.map(|l| serde_json::from_str(&l)) {
        Some(Ok(h)) => h,
        _ => return Err(ReadError::NoHeader),
    };
    if header.format != FORMAT {
        return Err(ReadError::Format(header.format));
    }
    let mut body = Vec::new();
    let mut damage = None;
    for l in lines {
        match serde_json::from_str::<Line>(&l?) {
            Ok(line) => body.push(line),
            Err(e) => {
                damage = Some(format!("a damaged result line ({e})"));
                break;
            }
        }
    }
    Ok(Read { header, lines: body, damage })
}

/// A resume that cannot go ahead: exit code 2, the command line's fault.
#[derive(Debug, thiserror::Error)]
#[error("--resume: {0}")]
pub(crate) struct ResumeError(String);

/// A journal being appended to by the worker threads.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    /// Opens the journal at `path` for `header`'s jobs. With `resume`, keeps
    /// the jobs an earlier, interrupted run of the same config and version
    /// recorded there, and returns them by index; otherwise starts afresh.
    pub(crate) fn open(path: &Path, header: &Header, resume: bool) -> Result<(Journal, Done)> {
        let mut kept = BTreeMap::new();
        if resume && path.exists() {
            let old = read(path).map_err(|e| ResumeError(format!("{}: {e}", path.display())))?;
            let h = &old.header;
            if h.version != header.version {
                return Err(ResumeError(format!(
                    "{} was written by ecsim {}, this is {}; run without --resume to start over",
                    path.display(),
                    if h.version.is_empty() { "(older)" } else { &h.version },
                    header.version
                ))
                .into());
            }
            if (&h.config_hash, h.shard, h.of) != (&header.config_hash, header.shard, header.of) {
                return Err(ResumeError(format!(
                    "{} is an interrupted run of another config (hash {}, shard {}/{}), not of this one \
                     (hash {}, shard {}/{}); run without --resume to start over",
                    path.display(),
                    h.config_hash,
                    h.shard,
                    h.of,
                    header.config_hash,
                    header.shard,
                    header.of
                ))
                .into());
            }
            // A torn last line (the process died mid-write) is dropped: that job reruns.
            for line in old.lines {
                if header.jobs.contains(&line.index) {
                    kept.insert(line.index, line);
                }
            }
        }
        // Rewrite header and kept lines, then append: a torn tail never stays.
        let mut buf = serde_json::to_vec(header)?;
        buf.push(b'\n');
        for line in kept.values() {
            serde_json::to_writer(&mut buf, line)?;
            buf.push(b'\n');
        }
        let kept = kept.into_iter().map(|(k, l)| (k, (l.job, l.report))).collect();
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(&buf).with_context(|| format!("cannot write {}", path.display()))?;
        Ok((Journal { path: path.to_path_buf(), file: Mutex::new(file) }, kept))
    }

    /// Appends one finished job, in a single write.
    pub(crate) fn record(&self, index: usize, job: Job, report: &RunReport) -> Result<()> {
        #[derive(Serialize)]
        struct LineRef<'a> {
            index: usize,
            job: Job,
            report: &'a RunReport,
        }
        let mut buf = serde_json::to_vec(&LineRef { index, job, report })?;
        buf.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        file.write_all(&buf).with_context(|| format!("cannot append to {}", self.path.display()))
    }

    /// The run completed and its outputs are in place: the journal goes.
    pub(crate) fn remove(self) -> Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path).with_context(|| format!("cannot remove {}", self.path.display()))
    }

    /// Where the journal is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner;

    const TINY: &str = "name = \"tiny\"\nseed = 4\nreplications = 2\ncustomers = 200\n\
                        [workload]\nrate_per_s = 5.0\nduration = \"20s\"\ndrain = \"2m\"\n";

    fn json(results: &[(Job, RunReport)]) -> String {
        serde_json::to_string(results).unwrap()
    }

    /// A resumed run keeps the recorded jobs, drops a torn last line, reruns
    /// the rest, and gives exactly the results of an uninterrupted run; a
    /// journal of another config is refused.
    #[test]
    fn resume_keeps_whole_lines_and_reproduces_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let exp = crate::config::load_str(TINY, "tiny.toml").unwrap();
        let all: Vec<usize> = (0..runner::jobs(&exp).len()).collect();
        assert_eq!(all.len(), 6);
        let header = Header::new(&exp, 0, 1, all.clone());
        let path = dir.path().join("j.jsonl");

        let (journal, kept) = Journal::open(&path, &header, false).unwrap();
        assert!(kept.is_empty());
        let record = |k, job, r: &RunReport| journal.record(k, job, r);
        let whole = runner::run_jobs(&exp, &all, BTreeMap::new(), &record, Some(1), true).unwrap();
        drop(journal);
        assert_eq!(read(&path).unwrap().lines.len(), 6);

        // Keep the header and two finished jobs, then a line torn mid-write.
        let text = std::fs::read_to_string(&path).unwrap();
        let mut cut: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
        cut.push_str(&text.lines().nth(3).unwrap()[..40]);
        std::fs::write(&path, cut).unwrap();
        assert!(read(&path).unwrap().damage.is_some());

        let (journal, kept) = Journal::open(&path, &header, true).unwrap();
        assert_eq!(kept.len(), 2);
        assert!(read(&path).unwrap().damage.is_none(), "the torn line stayed");
        let record = |k, job, r: &RunReport| journal.record(k, job, r);
        let resumed = runner::run_jobs(&exp, &all, kept, &record, Some(1), true).unwrap();
        assert_eq!(json(&resumed), json(&whole));
        assert_eq!(read(&path).unwrap().lines.len(), 6);

        // Another seed is another config: refused, and the journal is untouched.
        let other = crate::config::load_str(&TINY.replace("seed = 4", "seed = 5"), "tiny.toml").unwrap();
        let before = std::fs::read(&path).unwrap();
        let e = Journal::open(&path, &Header::new(&other, 0, 1, all.clone()), true).unwrap_err();
        assert!(e.downcast_ref::<ResumeError>().is_some(), "{e:#}");
        assert_eq!(std::fs::read(&path).unwrap(), before);

        // Without --resume a journal starts afresh.
        let (_, kept) = Journal::open(&path, &header, false).unwrap();
        assert!(kept.is_empty());
        assert_eq!(read(&path).unwrap().lines.len(), 0);
    }
}
