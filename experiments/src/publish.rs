//! A result folder is whole or untouched.
//!
//! A run claims its `--out` folder before it simulates: it takes a lock
//! beside it (a second run into the same folder fails fast, naming it),
//! refuses a folder that is not an ecsim result folder, and creates a fresh
//! staging folder beside it, which also proves the place writable. Every
//! output goes into the staging folder; when all are written and synced to
//! disk, the old folder is moved aside, the staging folder takes its name,
//! and the old one is deleted. A failure or an interruption before that
//! leaves the previous results as they were; the next run clears whatever
//! staging folder, lock or set-aside folder a killed run left behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

/// An output folder that must not be written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RefusedOutput(String);

/// Files that mark a folder as ecsim's own (besides shard files).
const MARKERS: [&str; 4] = ["manifest.json", "config.resolved.toml", "summary.csv", "validation.csv"];

/// A shard file or a shard's journal (`ecsim sweep` writes them).
pub(crate) fn is_shard_file(name: &str) -> bool {
    (name.starts_with("shard-") && name.ends_with(".jsonl"))
        || (name.starts_with(".shard-") && name.ends_with(".journal"))
}

/// Whether `dir` is ecsim's own: empty, or holding a result or a shard.
fn ours(dir: &Path) -> Result<bool> {
    if !dir.is_dir() {
        return Ok(false);
    }
    let mut empty = true;
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if MARKERS.contains(&name.as_str()) || is_shard_file(&name) {
            return Ok(true);
        }
        empty = false;
    }
    Ok(empty)
}

/// A claimed output folder, being written.
#[derive(Debug)]
pub(crate) struct Staging {
    out: PathBuf,
    staging: PathBuf,
    lock: PathBuf,
    committed: bool,
}

/// `<parent>/.<name>.<what>`, beside `out`.
fn beside(out: &Path, what: &str) -> Result<PathBuf> {
    let name = out.file_name().and_then(|n| n.to_str()).context("an output folder needs a name")?;
    Ok(out.with_file_name(format!(".{name}.{what}")))
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

impl Staging {
    /// Claims `out`: see the module docs.
    pub(crate) fn begin(out: &Path) -> Result<Staging> {
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        let lock = beside(out, "lock")?;
        let pid = std::process::id();
        for attempt in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(mut f) => {
                    writeln!(f, "{pid}").with_context(|| format!("cannot write {}", lock.display()))?;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt == 0 => {
                    let holder: Option<u32> = fs::read_to_string(&lock).ok().and_then(|s| s.trim().parse().ok());
                    match holder {
                        Some(h) if h != pid && alive(h) => {
                            return Err(RefusedOutput(format!(
                                "{}: another ecsim run (process {h}) is writing this folder",
                                out.display()
                            ))
                            .into())
                        }
                        // A killed run's lock: take it over.
                        _ => fs::remove_file(&lock).with_context(|| format!("cannot remove {}", lock.display()))?,
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("cannot lock {} ({})", out.display(), lock.display())),
            }
        }
        let mut claimed = Staging {
            out: out.to_path_buf(),
            staging: beside(out, &format!("staging-{pid}"))?,
            lock,
            committed: false,
        };
        claimed.recover()?;
        if out.exists() && !ours(out)? {
            return Err(RefusedOutput(format!(
                "{} exists and is not an ecsim result folder (it has none of {}, nor a shard file); \
                 choose another --out",
                out.display(),
                MARKERS.join(", ")
            ))
            .into());
        }
        fs::create_dir(&claimed.staging).with_context(|| {
            format!("cannot write beside {}: cannot create {}", out.display(), claimed.staging.display())
        })?;
        Ok(claimed)
    }

    /// Clears what a killed run left: its staging folders, and a folder it
    /// had set aside but not yet replaced (which is put back).
    fn recover(&mut self) -> Result<()> {
        let name = self.out.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let parent = self.out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        for entry in fs::read_dir(&parent)?.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = file.strip_prefix(&format!(".{name}.")) else { continue };
            if rest.starts_with("staging-") {
                fs::remove_dir_all(entry.path()).ok();
            } else if rest.starts_with("old-") {
                if self.out.exists() {
                    fs::remove_dir_all(entry.path()).ok();
                } else {
                    fs::rename(entry.path(), &self.out)
                        .with_context(|| format!("cannot restore {}", self.out.display()))?;
                }
            }
        }
        Ok(())
    }

    /// Where the run's journal goes: beside `out`, outliving an
    /// interrupted run so that `--resume` can pick it up.
    pub(crate) fn journal(&self) -> Result<PathBuf> {
        beside(&self.out, "journal.jsonl")
    }

    /// The folder every output goes into.
    pub(crate) fn dir(&self) -> &Path {
        &self.staging
    }

    /// Carries the files of the folder being replaced that `keep` selects
    /// into the new one, as hard links where the file system allows and as
    /// copies where not: `ecsim merge` writes into the folder that holds the
    /// shards, and the shards must survive the swap.
    pub(crate) fn carry_over(&self, keep: impl Fn(&str) -> bool) -> Result<()> {
        if !self.out.is_dir() {
            return Ok(());
        }
        for entry in fs::read_dir(&self.out)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep(&name) || !entry.file_type()?.is_file() {
                continue;
            }
            let to = self.staging.join(&name);
            if fs::hard_link(entry.path(), &to).is_err() {
                crate::output::before_write(&to)?;
                fs::copy(entry.path(), &to).with_context(|| format!("cannot copy {} aside", entry.path().display()))?;
            }
        }
        Ok(())
    }

    /// Syncs the staging folder to disk and swaps it into place.
    pub(crate) fn commit(mut self) -> Result<()> {
        for entry in fs::read_dir(&self.staging)? {
            let path = entry?.path();
            File::open(&path).and_then(|f| f.sync_all()).with_context(|| format!("cannot sync {}", path.display()))?;
        }
        File::open(&self.staging).and_then(|d| d.sync_all()).ok();
        let old = beside(&self.out, &format!("old-{}", std::process::id()))?;
        let had_old = self.out.exists();
        if had_old {
            fs::rename(&self.out, &old).with_context(|| format!("cannot move {} aside", self.out.display()))?;
        }
        fs::rename(&self.staging, &self.out)
            .with_context(|| format!("cannot move the results into {}", self.out.display()))?;
        self.committed = true;
        if had_old {
            fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            fs::remove_dir_all(&self.staging).ok();
        }
        fs::remove_file(&self.lock).ok();
    }
}
