//! Experiment configs: TOML through serde, with errors that name the file,
//! the key and the problem.
//!
//! An experiment file holds the scenario's keys at the top level (see
//! `patterns::Scenario`) plus the experiment's own: `name`, `description`,
//! `seed`, `replications`, `patterns`, `sweep` and `requests_csv_limit`.

use std::path::Path;

use patterns::{PatternConfig, Scenario};
use serde::{Deserialize, Serialize};
use sim_core::stable_hash;
use toml::{Table, Value};

use crate::overrides::{Overrides, Setting};

/// A config problem, always naming where.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {problem}")]
pub(crate) struct ConfigFileError {
    /// The file (or `<built-in baseline>`).
    pub file: String,
    /// The dotted key, or `(syntax)` for a TOML syntax error.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

/// One swept dimension: every path in `params` takes each of `values` in turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SweepDim {
    /// A label for charts and CSV (default: the first param).
    #[serde(default)]
    pub label: Option<String>,
    /// Config paths such as `workload.rate_per_s`, `network.default.latency.median`,
    /// `random_faults[0].mtbf` or `patterns[0].interval`.
    pub params: Vec<String>,
    /// The values, as they would be written in the config.
    #[schemars(with = "Vec<serde_json::Value>")]
    pub values: Vec<Value>,
    /// The unit of the values as numbers, for the CSV's `x_unit` column and
    /// the charts' axis (default: `s` when every value is a duration,
    /// otherwise none).
    #[serde(default)]
    pub unit: Option<String>,
}

impl SweepDim {
    /// The dimension's label.
    pub(crate) fn label(&self) -> &str {
        self.label.as_deref().unwrap_or_else(|| self.params.first().map(String::as_str).unwrap_or("sweep"))
    }

    /// The unit of [`numeric`] values: the given one, `s` for durations
    /// (which [`numeric`] turns into seconds), or none.
    pub(crate) fn unit(&self) -> &str {
        match &self.unit {
            Some(u) => u,
            None if self.values.iter().all(|v| matches!(v, Value::String(_)) && numeric(v).is_some()) => "s",
            None => "",
        }
    }
}

/// The experiment-level keys.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Head {
    /// The experiment's name, which names its output folder. Defaults to
    /// the file's stem.
    #[serde(default)]
    name: Option<String>,
    /// The question the experiment answers, shown atop its report.
    #[serde(default)]
    description: String,
    /// The master seed: every random stream of every replication derives
    /// from it, so the same seed gives byte-identical outputs.
    #[serde(default = "default_seed")]
    seed: u64,
    /// Independent replications per sweep point and pattern; the summary's
    /// 95% intervals are across them.
    #[serde(default = "default_replications")]
    replications: u32,
    /// The patterns to compare, each a table with its `kind` and knobs.
    /// Defaults to the book's three with their default knobs.
    #[serde(default)]
    #[schemars(with = "Option<Vec<PatternConfig>>")]
    patterns: Option<Vec<Value>>,
    /// Zero, one or two swept dimensions; with two, every combination runs.
    #[serde(default)]
    sweep: Vec<SweepDim>,
    /// The most rows `requests.csv` holds: a paired uniform sample of the
    /// requests when the run has more.
    #[serde(default = "default_requests_limit")]
    requests_csv_limit: u64,
}

fn default_seed() -> u64 {
    42
}
fn default_replications() -> u32 {
    5
}
fn default_requests_limit() -> u64 {
    10_000
}

/// The largest config file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The most sweep points one experiment may have.
const MAX_SWEEP_POINTS: u128 = 10_000;

const HEAD_KEYS: [&str; 7] = ["name", "description", "seed", "replications", "patterns", "sweep", "requests_csv_limit"];

/// One point of the sweep: the resolved scenario and patterns there.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    /// The swept values at this point (x, then y), rendered for CSV.
    pub coords: Vec<String>,
    /// The same values as numbers where they are numbers or durations (seconds).
    pub numeric: Vec<Option<f64>>,
    /// The scenario.
    pub scenario: Scenario,
    /// The patterns.
    pub patterns: Vec<PatternConfig>,
    /// A stable hash of the resolved scenario, patterns and seed.
    pub hash: String,
}

/// A loaded, validated experiment.
#[derive(Clone, Debug)]
pub(crate) struct Experiment {
    /// Its name (output folder).
    pub name: String,
    /// What question it answers.
    pub description: String,
    /// The master seed.
    pub seed: u64,
    /// Replications per point and pattern.
    pub replications: u32,
    /// The sweep dimensions (zero to two).
    pub sweep: Vec<SweepDim>,
    /// Every sweep point (one when there is no sweep).
    pub points: Vec<Point>,
    /// Write requests.csv only up to this many rows.
    pub requests_csv_limit: u64,
    /// The resolved config of the first point, for the copy in the results.
    pub resolved_toml: String,
    /// Where it came from.
    pub source: String,
    /// The command line's overrides.
    pub overrides: Overrides,
    /// The command that reproduces this experiment, when it is not the
    /// one [`Experiment::command`] derives (a merge: the shards' command).
    pub reproduce: Option<String>,
}

impl Experiment {
    /// `config.resolved.toml`: the resolved config, preceded by the
    /// command line's overrides as comments (a comment, so the file still
    /// loads to the same config and hash).
    pub(crate) fn resolved_file(&self) -> String {
        if self.overrides.set.is_empty() {
            return self.resolved_toml.clone();
        }
        let lines: String = self.overrides.set.iter().map(|s| format!("# --set {}\n", s.text)).collect();
        format!("# Overridden on the command line:\n{lines}{}", self.resolved_toml)
    }
}

/// The built-in default experiment.
pub(crate) const BASELINE: &str = include_str!("../configs/baseline.toml");

impl Experiment {
    /// A stable hash of everything that determines the outputs.
    pub(crate) fn hash(&self) -> String {
        format!("{:016x}", stable_hash(self.resolved_toml.as_bytes()))
    }

    /// The command that reproduces this experiment: the bundled experiment
    /// by name when the config is the bundled one, otherwise the config as
    /// given, with the command line's overrides (a merge keeps its shards').
    pub(crate) fn command(&self) -> String {
        if let Some(c) = &self.reproduce {
            return c.clone();
        }
        if self.is_bundled() {
            return format!("ecsim run {}", self.name);
        }
        // A bundled config named "<bundled load>" is run by its name.
        let source = if self.source.starts_with('<') { self.name.clone() } else { self.source.clone() };
        let mut parts = vec!["ecsim run".to_string(), source];
        parts.extend(self.overrides.args());
        parts.join(" ")
    }

    /// True if this is a bundled experiment exactly as bundled: its name's
    /// bundled config resolves to the same config, with no override.
    pub(crate) fn is_bundled(&self) -> bool {
        self.overrides.is_empty()
            && bundled(&self.name)
                .and_then(|text| load_str(text, &self.name).ok())
                .is_some_and(|b| b.resolved_toml == self.resolved_toml)
    }
}

/// A TOML syntax error: line, column, the offending line and a caret
/// under the column, from the error's byte span.
fn syntax_error(text: &str, file: &str, e: &toml::de::Error) -> ConfigFileError {
    let Some(span) = e.span() else {
        return ConfigFileError { file: file.into(), key: "(syntax)".into(), problem: toml_problem(e) };
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let (line, column) = (text[..line_start].lines().count() + 1, text[line_start..start].chars().count() + 1);
    let shown = &text[line_start..line_end];
    ConfigFileError {
        file: file.into(),
        key: format!("(syntax, line {line}, column {column})"),
        problem: format!("{}\n  {shown}\n  {}^", toml_problem(e).trim_end(), " ".repeat(column - 1)),
    }
}

/// The (dotted) key on the line a TOML error points at, found from the
/// error's byte span: the key text before `=`, under the last `[table]`
/// header, with an index for an array of tables (`faults[1].groups`).
fn key_at(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else { return "(unknown)".into() };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = &text[line_start..line_end];
    let mut table = String::new();
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for l in text[..line_start].lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            let n = seen.entry(name.trim().to_string()).or_insert(0);
            table = format!("{}[{n}]", name.trim());
            *n += 1;
        } else if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        }
    }
    let key = line.split('=').next().unwrap_or("").trim();
    let key = if line.contains('=') {
        key.to_string()
    } else {
        line.trim().trim_matches(|c| c == '[' || c == ']').to_string()
    };
    match (table.is_empty(), key.is_empty()) {
        (_, true) => table,
        (true, false) => key,
        (false, false) if key.starts_with(&table) => key,
        (false, false) => format!("{table}.{key}"),
    }
}

/// Serialises to TOML text; a failure (which would be a bug in ecsim, not
/// in the config) becomes an error naming the file instead of a panic.
fn to_text<T: Serialize + ?Sized>(v: &T, file: &str) -> Result<String, ConfigFileError> {
    toml::to_string(v).map_err(|e| ConfigFileError {
        file: file.to_string(),
        key: "(internal)".into(),
        problem: format!("cannot render the resolved config as TOML: {e}"),
    })
}

/// Converts to a TOML value, with the same error handling as [`to_text`].
fn to_value<T: Serialize + ?Sized>(v: &T, file: &str) -> Result<Value, ConfigFileError> {
    Value::try_from(v).map_err(|e| ConfigFileError {
        file: file.to_string(),
        key: "(internal)".into(),
        problem: format!("cannot render the resolved config as TOML: {e}"),
    })
}

fn toml_problem(e: &toml::de::Error) -> String {
    // The message without toml's own location banner (the key names it).
    e.message().to_string()
}

/// Command-line values that replace the config's own.
/// Parses and validates a config given as text.
pub(crate) fn load_str(text: &str, file: &str) -> Result<Experiment, ConfigFileError> {
    load_with(text, file, &Overrides::default())
}

/// Reads and validates a config file, with command-line overrides.
pub(crate) fn load_file_with(path: &Path, ov: &Overrides) -> Result<Experiment, ConfigFileError> {
    let file = path.display().to_string();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_CONFIG_BYTES {
        return Err(ConfigFileError {
            file,
            key: "(file)".into(),
            problem: format!("{size} bytes; a config is at most 1 MiB"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError {
        file: file.clone(),
        key: "(file)".into(),
        problem: format!("cannot read: {e}"),
    })?;
    load_with(&text, &file, ov)
}

/// Parses and validates a config given as text, with command-line
/// overrides applied before anything is resolved (so the resolved config
/// and its hash say what actually ran).
pub(crate) fn load_with(text: &str, file: &str, ov: &Overrides) -> Result<Experiment, ConfigFileError> {
    let fail = |key: String, problem: String| ConfigFileError { file: file.to_string(), key, problem };
    let table: Table = text.parse::<Table>().map_err(|e| syntax_error(text, file, &e))?;
    let mut head_table = Table::new();
    let mut body = Table::new();
    for (k, v) in table {
        if HEAD_KEYS.contains(&k.as_str()) {
            head_table.insert(k, v);
        } else {
            body.insert(k, v);
        }
    }
    // `--set` on an experiment-level key (seed, replications, ...) goes
    // where the file would have put it; the rest go into the resolved
    // config below.
    const SCALARS: [&str; 5] = ["name", "description", "seed", "replications", "requests_csv_limit"];
    let (head_sets, body_sets): (Vec<&Setting>, Vec<&Setting>) =
        ov.set.iter().partition(|s| SCALARS.contains(&s.path.as_str()) || s.path.starts_with("sweep"));
    for s in &head_sets {
        if s.path.starts_with("sweep") {
            return Err(fail(s.path.clone(), format!("--set {}: a sweep is set in the config file", s.text)));
        }
        head_table.insert(s.path.clone(), s.value.clone());
    }
    let head_text = to_text(&head_table, file)?;
    let mut head: Head = toml::from_str(&head_text).map_err(|e| fail(key_for(&head_text, &e), toml_problem(&e)))?;
    if let Some(seed) = ov.seed {
        head.seed = seed;
    }
    if let Some(r) = ov.replications {
        head.replications = r;
    }
    let name = match head.name.clone() {
        Some(n) => n,
        None => Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string(),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(fail("name".into(), "must be a plain folder name".into()));
    }
    if head.replications == 0 {
        return Err(fail("replications".into(), "must be at least 1".into()));
    }
    if head.sweep.len() > 2 {
        return Err(fail("sweep".into(), "at most two dimensions".into()));
    }
    for (i, dim) in head.sweep.iter().enumerate() {
        if dim.values.is_empty() {
            return Err(fail(format!("sweep[{i}].values"), "an empty sweep has nothing to run".into()));
        }
        if dim.params.is_empty() {
            return Err(fail(format!("sweep[{i}].params"), "name at least one config path".into()));
        }
    }
    // Every point is resolved and kept in memory: refuse a sweep too large
    // to enumerate before enumerating it.
    let points: u128 = head.sweep.iter().map(|d| d.values.len() as u128).product();
    if points > MAX_SWEEP_POINTS {
        return Err(fail("sweep".into(), format!("{points} sweep points; at most {MAX_SWEEP_POINTS}")));
    }
    // Parse the base once, to report its errors with their real keys.
    let base_patterns =
        Value::Array(head.patterns.clone().unwrap_or_else(|| {
            PatternConfig::book_defaults().iter().filter_map(|p| Value::try_from(p).ok()).collect()
        }));
    let (scenario, patterns) = resolve(file, &body, &base_patterns, None)?;
    // The fully resolved config: every default spelled out. Sweep paths must exist in it.
    let mut resolved = match to_value(&scenario, file)? {
        Value::Table(t) => t,
        _ => Table::new(),
    };
    resolved.insert("patterns".into(), to_value(&patterns, file)?);
    if !body_sets.is_empty() {
        for s in &body_sets {
            if lookup(&resolved, &s.path).is_none() {
                return Err(fail(
                    s.path.clone(),
                    format!(
                        "--set {}: not a key of this config (config.resolved.toml of a run, or `ecsim validate`, \
                         lists every key)",
                        s.text
                    ),
                ));
            }
            set(&mut resolved, &s.path, s.value.clone());
        }
        // Checked now, like a config file: the wrong type or an invalid
        // value is refused, naming the key.
        let mut body = resolved.clone();
        let pats = body.remove("patterns").unwrap_or_else(|| Value::Array(Vec::new()));
        let given = body_sets.iter().map(|s| format!("--set {}", s.text)).collect::<Vec<_>>().join(", ");
        let (scenario, patterns) = resolve(file, &body, &pats, Some(&format!("with {given}")))?;
        // Rebuilt from what was resolved, so that the recorded config is in
        // canonical form (`50` for a rate reads back as `50.0`) and loads
        // to the same hash.
        resolved = match to_value(&scenario, file)? {
            Value::Table(t) => t,
            _ => Table::new(),
        };
        resolved.insert("patterns".into(), to_value(&patterns, file)?);
    }
    for (i, dim) in head.sweep.iter().enumerate() {
        for p in &dim.params {
            if lookup(&resolved, p).is_none() {
                return Err(fail(format!("sweep[{i}].params"), format!("{p:?} is not a key of this config")));
            }
        }
    }
    // Every combination of the sweep values.
    let mut combos: Vec<Vec<usize>> = vec![vec![]];
    for dim in &head.sweep {
        combos = combos
            .into_iter()
            .flat_map(|c| (0..dim.values.len()).map(move |i| [c.clone(), vec![i]].concat()))
            .collect();
    }
    let mut points = Vec::new();
    for combo in combos {
        let mut t = resolved.clone();
        for (k, (d, &i)) in head.sweep.iter().zip(&combo).enumerate() {
            for p in &d.params {
                // An earlier dimension may have replaced a table this path runs through.
                if !set(&mut t, p, d.values[i].clone()) {
                    return Err(fail(
                        format!("sweep[{k}].params"),
                        format!("{p:?} does not exist once the other sweep dimension is set to {}", d.values[i]),
                    ));
                }
            }
        }
        let mut body = t.clone();
        let pats = body.remove("patterns").unwrap_or_else(|| Value::Array(Vec::new()));
        let key_hint =
            head.sweep.iter().zip(&combo).map(|(d, &i)| format!("{} = {}", d.label(), d.values[i])).collect::<Vec<_>>();
        let (scenario, patterns) =
            resolve(file, &body, &pats, Some(&format!("at sweep point {}", key_hint.join(", "))))?;
        let mut full = t.clone();
        full.insert("seed".into(), Value::Integer(head.seed as i64));
        let hash = format!("{:016x}", stable_hash(to_text(&full, file)?.as_bytes()));
        let coords = head.sweep.iter().zip(&combo).map(|(d, &i)| render(&d.values[i])).collect();
        let numeric = head.sweep.iter().zip(&combo).map(|(d, &i)| numeric(&d.values[i])).collect();
        points.push(Point { coords, numeric, scenario, patterns, hash });
    }
    let mut out = Table::new();
    out.insert("name".into(), Value::String(name.clone()));
    out.insert("description".into(), Value::String(head.description.clone()));
    out.insert("seed".into(), Value::Integer(head.seed as i64));
    out.insert("replications".into(), Value::Integer(i64::from(head.replications)));
    out.insert("requests_csv_limit".into(), Value::Integer(head.requests_csv_limit as i64));
    if !head.sweep.is_empty() {
        out.insert("sweep".into(), to_value(&head.sweep, file)?);
    }
    for (k, v) in resolved {
        out.insert(k, v);
    }
    let resolved_toml = to_text(&out, file)?;
    Ok(Experiment {
        name,
        description: head.description,
        seed: head.seed,
        replications: head.replications,
        sweep: head.sweep,
        points,
        requests_csv_limit: head.requests_csv_limit,
        resolved_toml,
        source: file.to_string(),
        overrides: ov.clone(),
        reproduce: None,
    })
}

/// Deserialises and validates a scenario and its patterns; `at_point`
/// says where an error arose ("at sweep point ...", "with --set ...").
fn resolve(
    file: &str,
    body: &Table,
    patterns: &Value,
    at_point: Option<&str>,
) -> Result<(Scenario, Vec<PatternConfig>), ConfigFileError> {
    let fail = |key: String, problem: String| {
        let problem = match at_point {
            Some(p) => format!("{problem} ({p})"),
            None => problem,
        };
        ConfigFileError { file: file.to_string(), key, problem }
    };
    // Deserialize from text, not from the value tree: only text errors carry
    // the span that names the key.
    let body_text = to_text(body, file)?;
    let scenario: Scenario = toml::from_str(&body_text).map_err(|e| fail(key_for(&body_text, &e), toml_problem(&e)))?;
    scenario.validate().map_err(|e| fail(e.key, e.problem))?;
    let list = patterns.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return Err(fail("patterns".into(), "name at least one pattern".into()));
    }
    let mut out = Vec::new();
    for (i, p) in list.into_iter().enumerate() {
        let p_text = match p {
            Value::Table(t) => to_text(&t, file)?,
            other => return Err(fail(format!("patterns[{i}]"), format!("expected a table, got {other}"))),
        };
        let cfg: PatternConfig = toml::from_str(&p_text).map_err(|e| {
            let k = key_for(&p_text, &e);
            fail(
                if k.starts_with('(') { format!("patterns[{i}]") } else { format!("patterns[{i}].{k}") },
                toml_problem(&e),
            )
        })?;
        cfg.validate(&format!("patterns[{i}]"), &scenario).map_err(|e| fail(e.key, e.problem))?;
        out.push(cfg);
    }
    let mut names: Vec<String> = out.iter().map(PatternConfig::name).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(fail("patterns".into(), "two patterns share a name; give each a distinct `name`".into()));
    }
    Ok((scenario, out))
}

fn key_for(text: &str, e: &toml::de::Error) -> String {
    // Inside an internally tagged enum (a fault, a pattern) serde buffers
    // the table and toml's span covers the whole table or array; find the
    // line the message is about instead.
    let span = match (e.span(), offending_line(text, e.message())) {
        (Some(s), Some(at)) if at >= s.start => Some(at..at),
        (None, Some(at)) => Some(at..at),
        (s, _) => s,
    };
    let k = key_at(text, span);
    if k == "(unknown)" {
        // Errors with no span (e.g. from values) name the field in the message.
        "(top level)".into()
    } else {
        k
    }
}

/// The byte offset of the line an "unknown field `x`" or "unknown variant
/// `v`" message is about: the line that sets `x`, or that sets a key to "v".
fn offending_line(text: &str, message: &str) -> Option<usize> {
    let quoted = |prefix: &str| message.split(prefix).nth(1)?.split('`').next().map(str::to_string);
    let mut offset = 0;
    let wanted: Box<dyn Fn(&str) -> bool> = if let Some(field) = quoted("unknown field `") {
        Box::new(move |l: &str| l.split('=').next().is_some_and(|k| k.trim() == field) && l.contains('='))
    } else if let Some(variant) = quoted("unknown variant `") {
        Box::new(move |l: &str| l.split_once('=').is_some_and(|(_, v)| v.trim().trim_matches('"') == variant))
    } else {
        return None;
    };
    for line in text.split_inclusive('\n') {
        if wanted(line.trim()) {
            return Some(offset + (line.len() - line.trim_start().len()));
        }
        offset += line.len();
    }
    None
}

fn path_parts(path: &str) -> Vec<PathPart<'_>> {
    let mut out = Vec::new();
    for seg in path.split('.') {
        let (name, rest) = seg.split_once('[').map_or((seg, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            out.push(PathPart::Key(name));
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                out.push(PathPart::Index(i));
            }
        }
    }
    out
}

enum PathPart<'a> {
    Key(&'a str),
    Index(usize),
}

fn lookup<'a>(t: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path_parts(path).into_iter();
    let mut cur: &Value = match parts.next()? {
        PathPart::Key(k) => t.get(k)?,
        PathPart::Index(_) => return None,
    };
    for p in parts {
        cur = match p {
            PathPart::Key(k) => cur.as_table()?.get(k)?,
            PathPart::Index(i) => cur.as_array()?.get(i)?,
        };
    }
    Some(cur)
}

/// Sets the value at `path`; false if the path does not exist.
fn set(t: &mut Table, path: &str, v: Value) -> bool {
    let parts = path_parts(path);
    let Some(PathPart::Key(first)) = parts.first() else { return false };
    let Some(mut cur) = t.get_mut(*first) else { return false };
    for p in &parts[1..] {
        let next = match p {
            PathPart::Key(k) => cur.as_table_mut().and_then(|t| t.get_mut(*k)),
            PathPart::Index(i) => cur.as_array_mut().and_then(|a| a.get_mut(*i)),
        };
        let Some(next) = next else { return false };
        cur = next;
    }
    *cur = v;
    true
}

/// A value as it goes into a CSV cell.
pub(crate) fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as a number: numbers as they are, durations in seconds.
pub(crate) fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::String(s) => s.parse::<sim_core::SimDuration>().ok().map(|d| d.as_secs_f64()),
        _ => None,
    }
}

/// The bundled configs folder, next to this crate's sources.
/// The bundled experiments, embedded in the binary: `(name, config text)`.
pub(crate) const BUNDLED: [(&str, &str); 12] = [
    ("baseline", BASELINE),
    ("broker-outage", include_str!("../configs/broker-outage.toml")),
    ("cdc", include_str!("../configs/cdc.toml")),
    ("failures", include_str!("../configs/failures.toml")),
    ("fan-out", include_str!("../configs/fan-out.toml")),
    ("latency", include_str!("../configs/latency.toml")),
    ("load", include_str!("../configs/load.toml")),
    ("max-throughput", include_str!("../configs/max-throughput.toml")),
    ("partition", include_str!("../configs/partition.toml")),
    ("partition-trace", include_str!("../configs/partition-trace.toml")),
    ("resubscribe", include_str!("../configs/resubscribe.toml")),
    ("sync-interval", include_str!("../configs/sync-interval.toml")),
];

/// A bundled experiment's config text, by name.
pub(crate) fn bundled(name: &str) -> Option<&'static str> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_in_the_folder_is_embedded_under_its_name() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.unwrap().path().file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        files.sort();
        let embedded: Vec<String> = BUNDLED.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(files, embedded);
        for (name, text) in BUNDLED {
            assert_eq!(load_str(text, name).unwrap().name, name);
        }
    }

    #[test]
    fn the_baseline_loads_with_every_default_resolved() {
        let e = load_str(BASELINE, "baseline.toml").unwrap();
        assert_eq!(e.name, "baseline");
        assert_eq!(e.points.len(), 1);
        assert_eq!(e.points[0].patterns.len(), 3);
        assert!(e.resolved_toml.contains("scan_time_per_row"));
    }

    #[test]
    fn sweeps_form_a_grid_and_set_every_param() {
        let text = r#"
            name = "t"
            [[sweep]]
            params = ["services.contract.error_rate", "services.billing.error_rate"]
            values = [0.0, 0.1]
            [[sweep]]
            params = ["network.default.latency.median"]
            values = ["1ms", "5ms", "20ms"]
        "#;
        let e = load_str(text, "t.toml").unwrap();
        assert_eq!(e.points.len(), 6);
        let p = &e.points[5];
        assert_eq!(p.scenario.services.billing.error_rate, 0.1);
        assert_eq!(p.scenario.services.contract.error_rate, 0.1);
        assert_eq!(p.numeric, vec![Some(0.1), Some(0.02)]);
        assert_ne!(e.points[0].hash, e.points[1].hash);
    }

    #[test]
    fn a_sweep_path_hidden_by_another_dimension_is_an_error() {
        let text = r#"
            name = "t"
            [[sweep]]
            params = ["network.default.latency"]
            values = ["1ms"]
            [[sweep]]
            params = ["network.default.latency.median"]
            values = ["5ms"]
        "#;
        let e = load_str(text, "t.toml").unwrap_err();
        assert_eq!(e.key, "sweep[1].params", "{e}");
    }

    #[test]
    fn key_at_finds_table_and_key() {
        let text = "name = \"x\"\n[workload]\nduration = \"zz\"\n";
        let at = text.find("\"zz\"").unwrap();
        assert_eq!(key_at(text, Some(at..at + 4)), "workload.duration");
    }
}
