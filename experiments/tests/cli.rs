//! The ecsim binary, end to end: what a user sees.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ecsim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecsim")).args(args).current_dir(cwd).output().expect("ecsim runs")
}

const SMALL: &str = r#"
name = "small"
description = "a quick one"
seed = 9
replications = 3
customers = 3000

[workload]
rate_per_s = 4.0
duration = "5m"
drain = "65m"

[billing]
period = "1h"

[[faults]]
kind = "crash"
node = "billing"
at = "2m"
restart_after = "1m"

[[sweep]]
params = ["network.default.latency.median"]
values = ["1ms", "10ms"]
"#;

/// Waits (up to 20 s) until `path` exists: a spawned run has claimed its folder.
fn wait_for(path: &Path) {
    let start = std::time::Instant::now();
    while !path.exists() && start.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// What a run left beside the folder `out` in `dir`: locks, staging or set-aside folders.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out."))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv" || x == "toml" || x == "html" || x == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn outputs_are_byte_identical_whatever_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", SMALL);
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    let a =
        ecsim(&["run", cfg.to_str().unwrap(), "--threads", "1", "--quiet", "--out", one.to_str().unwrap()], tmp.path());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b =
        ecsim(&["run", cfg.to_str().unwrap(), "--threads", "2", "--quiet", "--out", two.to_str().unwrap()], tmp.path());
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let (fa, fb) = (read_all(&one), read_all(&two));
    let names: Vec<&str> = fa.iter().map(|f| f.0.as_str()).collect();
    for want in [
        "aggregate.csv",
        "cdf.csv",
        "config.resolved.toml",
        "faults.csv",
        "requests.csv",
        "summary.csv",
        "timeseries.csv",
    ] {
        assert!(names.contains(&want), "missing {want}: {names:?}");
    }
    assert_eq!(fa, fb);
    // 2 points x 3 patterns x 3 replications, plus the header.
    let summary = String::from_utf8(fa.iter().find(|f| f.0 == "summary.csv").unwrap().1.clone()).unwrap();
    assert_eq!(summary.lines().count(), 1 + 18);
    // Every row carries its replication's seed, derived from the master seed
    // 9 alone: the same for every pattern and point, different per replication.
    for row in summary_rows(&one.join("summary.csv")) {
        let r: u64 = row["replication"].parse().unwrap();
        let want = sim_core::RngFactory::new(9).child_seed("replication", r) & i64::MAX as u64;
        assert_eq!(row["seed"], want.to_string(), "{row:?}");
        assert!(row["seed"].parse::<i64>().is_ok(), "a seed fits a signed 64-bit integer: {row:?}");
    }
    let seeds: std::collections::BTreeSet<String> =
        summary_rows(&one.join("summary.csv")).into_iter().map(|r| r["seed"].clone()).collect();
    assert_eq!(seeds.len(), 3, "one seed per replication");
    for png in ["lag_cdf.png", "response_cdf.png", "inconsistency.png", "sweep_lag_p99_s.png"] {
        assert!(one.join(png).exists(), "missing {png}");
    }
    // A different seed changes the numbers.
    let three = tmp.path().join("three");
    let c =
        ecsim(&["run", cfg.to_str().unwrap(), "--seed", "10", "--quiet", "--out", three.to_str().unwrap()], tmp.path());
    assert!(c.status.success());
    assert_ne!(read_all(&three).iter().find(|f| f.0 == "summary.csv"), fa.iter().find(|f| f.0 == "summary.csv"));
}

#[test]
fn chart_redraws_from_the_csv_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", SMALL);
    let out = tmp.path().join("out");
    assert!(ecsim(
        &["run", cfg.to_str().unwrap(), "--quiet", "--replications", "2", "--out", out.to_str().unwrap()],
        tmp.path()
    )
    .status
    .success());
    let drawn_by_run = std::fs::read(out.join("lag_cdf.png")).unwrap();
    std::fs::remove_file(out.join("lag_cdf.png")).unwrap();
    let r = ecsim(&["chart", out.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // Drawn from the CSV files alone, the chart is the very one the run drew.
    assert!(std::fs::read(out.join("lag_cdf.png")).unwrap() == drawn_by_run, "redrawn PNG differs");
    // Damaged data is refused, not drawn.
    let agg = std::fs::read_to_string(out.join("aggregate.csv")).unwrap();
    let mut lines: Vec<String> = agg.lines().map(str::to_string).collect();
    let cells: Vec<&str> = lines[1].split(',').collect();
    let n = cells.len();
    lines[1] = cells[..n - 3]
        .iter()
        .map(|c| c.to_string())
        .chain(["NaN".into(), cells[n - 2].into(), cells[n - 1].into()])
        .collect::<Vec<_>>()
        .join(",");
    std::fs::write(out.join("aggregate.csv"), lines.join("\n") + "\n").unwrap();
    let r = ecsim(&["chart", out.to_str().unwrap()], tmp.path());
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("aggregate.csv: data row 1: mean is NaN"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// Each bad config must exit with code 2, name the file, the key and the
/// problem, and write nothing.
#[test]
fn bad_configs_get_clear_errors_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str, &str); 27] = [
        (
            "a follower with no table",
            "name = \"x\"\n[[followers]]\nname = \"marketing\"\n",
            "followers[0].table",
            "table it owns",
        ),
        (
            "a duplicate service name",
            "name = \"x\"\n[[followers]]\nname = \"a\"\ntable = \"a\"\n[[followers]]\nname = \"a\"\ntable = \"b\"\n",
            "followers[1].name",
            "duplicate service name",
        ),
        (
            "a fault on a service the config does not have",
            "name = \"x\"\n[[followers]]\nname = \"marketing\"\ntable = \"subscribers\"\n[[faults]]\nkind = \"crash\"\nnode = \"billing\"\nat = \"1m\"\n",
            "faults[0].node",
            "unknown node \"billing\"",
        ),
        (
            "more than 64 followers",
            "name = \"x\"\n[[followers]]\nname = \"svc\"\ntable = \"rows\"\ncount = 65\n",
            "followers",
            "65 followers in all; at most 64",
        ),
        (
            "a built-in follower's key beside configured followers",
            "name = \"x\"\n[services.billing]\nworkers = 3\n[[followers]]\nname = \"marketing\"\ntable = \"subscribers\"\n",
            "services.billing",
            "built-in",
        ),
        (
            "a stage naming no follower",
            "name = \"x\"\n[[patterns]]\nkind = \"orchestrated\"\nstages = [[\"contract\"], [\"biling\"]]\n",
            "patterns[0].stages",
            "unknown node \"biling\"",
        ),
        ("syntax", "name = \"x\"\n[workload\nrate_per_s = 1.0\n", "line", "invalid"),
        ("unknown key", "name = \"x\"\n[workload]\nrate_per_sec = 1.0\n", "workload.rate_per_sec", "unknown field"),
        ("negative rate", "name = \"x\"\n[workload]\nrate_per_s = -5.0\n", "workload.rate_per_s", ">= 0"),
        ("probability above 1", "name = \"x\"\n[network.default]\nloss = 1.5\n", "network.default", "probability"),
        (
            "unknown service in a partition",
            "name = \"x\"\n[[faults]]\nkind = \"partition\"\nat = \"1m\"\nduration = \"1m\"\ngroups = [[\"billing\"], [\"payroll\"]]\n",
            "faults[0]",
            "payroll",
        ),
        ("empty sweep", "name = \"x\"\n[[sweep]]\nparams = [\"workload.rate_per_s\"]\nvalues = []\n", "sweep[0].values", "empty"),
        ("bad duration", "name = \"x\"\n[workload]\nduration = \"ten minutes\"\n", "workload.duration", "duration"),
        (
            "closed loop with scripted arrivals",
            "name = \"x\"\n[workload]\nat = [\"1m\"]\n[workload.closed_loop]\nusers = 2\nthink_time = { kind = \"exponential\", mean = \"1s\" }\n",
            "workload.closed_loop",
            "exclude each other",
        ),
        (
            "three partition groups",
            "name = \"x\"\n[[faults]]\nkind = \"partition\"\nat = \"1m\"\nduration = \"1m\"\ngroups = [[\"billing\"], [\"profile\"], [\"contract\"]]\n",
            "faults[0].groups",
            "one or two lists",
        ),
        (
            "an empty partition side",
            "name = \"x\"\n[[faults]]\nkind = \"partition\"\nat = \"1m\"\nduration = \"1m\"\ngroups = [[\"billing\"], []]\n",
            "faults[0].groups",
            "both sides",
        ),
        (
            "zero mtbf",
            "name = \"x\"\n[[random_faults]]\nkind = \"crashes\"\nnode = \"billing\"\nmtbf = \"0s\"\nmean_downtime = \"1m\"\n",
            "random_faults[0].mtbf",
            "above zero",
        ),
        (
            "a speed-up called a slowdown",
            "name = \"x\"\n[[faults]]\nkind = \"slow\"\nnode = \"billing\"\nat = \"1m\"\nduration = \"1m\"\nfactor = 0.5\n",
            "faults[0].factor",
            "between 1 and 1e6",
        ),
        (
            "a fault after the run",
            "name = \"x\"\n[[faults]]\nkind = \"crash\"\nnode = \"billing\"\nat = \"100h\"\n",
            "faults[0].at",
            "the run is over",
        ),
        (
            "time past the horizon",
            "name = \"x\"\n[workload]\nduration = \"3000000h\"\ndrain = \"3000000h\"\n",
            "workload.drain",
            "largest virtual time",
        ),
        (
            "zero sync call timeout",
            "name = \"x\"\n[[patterns]]\nkind = \"background_sync\"\ncall_timeout = \"0s\"\n",
            "patterns[0].call_timeout",
            "above zero",
        ),
        (
            "a bad variant in the second pattern",
            "name = \"x\"\n[[patterns]]\nkind = \"event_based\"\n[[patterns]]\nkind = \"orchestrated\"\non_failure = \"retry_forever\"\n",
            "patterns[1].on_failure",
            "unknown variant",
        ),
        (
            "a misspelt field in the second fault",
            "name = \"x\"\n[[faults]]\nkind = \"crash\"\nnode = \"billing\"\nat = \"1m\"\n[[faults]]\nkind = \"slow\"\nnode = \"billing\"\nat = \"1m\"\nduration = \"1m\"\nfactr = 2.0\n",
            "faults[1].factr",
            "unknown field",
        ),
        (
            "a flood of random faults",
            "name = \"x\"\n[[random_faults]]\nkind = \"pauses\"\nnode = \"billing\"\nmean_gap = \"1us\"\nmean_length = \"1us\"\n",
            "random_faults[0].mean_gap",
            "at most",
        ),
        (
            "more users than customers",
            "name = \"x\"\ncustomers = 10\n[workload.closed_loop]\nusers = 4000000000\nthink_time = { kind = \"exponential\", mean = \"1s\" }\n",
            "workload.closed_loop.users",
            "at most one user per customer",
        ),
        (
            "an explosive sweep",
            "name = \"x\"\n[[sweep]]\nparams = [\"seed\"]\nvalues = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101]\n[[sweep]]\nparams = [\"customers\"]\nvalues = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100]\n",
            "sweep",
            "10100 sweep points; at most 10000",
        ),
        ("a syntax error's place", "name = \"x\"\n[workload\nrate_per_s = 1.0\n", "line 2, column 10", "[workload"),
    ];
    for (what, text, key, problem) in cases {
        let cfg = write(tmp.path(), "bad.toml", text);
        let out = tmp.path().join("out");
        for args in [
            vec!["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()],
            vec!["validate", cfg.to_str().unwrap()],
        ] {
            let r = ecsim(&args, tmp.path());
            let err = String::from_utf8_lossy(&r.stderr);
            assert_eq!(r.status.code(), Some(2), "{what}: {err}");
            assert!(err.contains("bad.toml"), "{what}: no file name in {err}");
            assert!(err.contains(key), "{what}: no key {key:?} in {err}");
            assert!(err.to_lowercase().contains(problem), "{what}: no {problem:?} in {err}");
            assert!(!err.contains("panicked"), "{what}: {err}");
            assert!(!out.exists(), "{what}: wrote output");
        }
    }
}

#[test]
fn every_bundled_config_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let r = ecsim(&["validate", p.to_str().unwrap()], &dir);
        assert!(r.status.success(), "{}: {}", p.display(), String::from_utf8_lossy(&r.stderr));
        n += 1;
    }
    assert!(n >= 7);
    let list = ecsim(&["list"], &dir);
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), n);
}

#[test]
fn help_shows_examples() {
    let r = ecsim(&["--help"], Path::new("."));
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("Examples:") && text.contains("ecsim run"));
}

fn summary_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    lines.map(|l| header.iter().cloned().zip(l.split(',').map(str::to_string)).collect()).collect()
}

/// The acceptance of `ecsim explore`: it finds the event-based dual-write
/// gap, shrinks it to at most two faults, the reproducer replays it, and
/// the outbox variant shows no such violation.
#[test]
fn explore_finds_the_dual_write_gap_and_the_outbox_closes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("explore");
    let r = ecsim(
        &["explore", "--seeds", "200", "--pattern", "event_based", "--quiet", "--out", out.to_str().unwrap()],
        tmp.path(),
    );
    // A broken promise fails the command with exit code 1, as a test runner would.
    assert_eq!(r.status.code(), Some(1), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("broken promise(s)"));
    let rows = summary_rows(&out.join("summary.csv"));
    let gap = rows.iter().find(|r| r["pattern"] == "event_based" && r["promise"] == "convergence").unwrap();
    assert!(gap["violations"].parse::<u64>().unwrap() > 0, "{gap:?}");
    assert!(gap["smallest_faults"].parse::<u64>().unwrap() <= 2, "{gap:?}");
    let outbox = rows.iter().find(|r| r["pattern"] == "event_based_outbox" && r["promise"] == "convergence").unwrap();
    assert_eq!(outbox["violations"], "0");

    // Replaying the reproducer with `ecsim run` breaks the same promise.
    let repro = out.join(&gap["reproducer"]);
    let replay = tmp.path().join("replay");
    let r = ecsim(&["run", repro.to_str().unwrap(), "--quiet", "--out", replay.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let run = &summary_rows(&replay.join("summary.csv"))[0];
    let inconsistent: u64 = run["inconsistent_at_end"].parse().unwrap();
    assert!(inconsistent > run["manual_repairs"].parse().unwrap());
    assert!(run["events_lost"].parse::<u64>().unwrap() > 0);
    // The trace of the reproducer is there, one JSON object per line.
    let trace = std::fs::read_to_string(out.join(gap["reproducer"].replace(".toml", ".trace.jsonl"))).unwrap();
    assert!(trace.lines().count() > 1000 && trace.lines().all(|l| l.starts_with('{') && l.ends_with('}')));
    assert!(trace.contains("\"label\":\"crash\""));
}

/// The orchestrated pattern's late delete, found by explore and replayed:
/// the replay counts it as `late_deletes`, and the same run with fencing
/// tokens leaves no late delete and nothing inconsistent.
#[test]
fn explore_finds_the_late_delete_and_fencing_cures_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("explore");
    let r = ecsim(
        &["explore", "--seeds", "60", "--pattern", "orchestrated", "--quiet", "--out", out.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(r.status.code(), Some(1), "{}", String::from_utf8_lossy(&r.stderr));
    let rows = summary_rows(&out.join("summary.csv"));
    let broken = |p: &str| -> u64 {
        let row = rows.iter().find(|r| r["pattern"] == p && r["promise"] == "convergence").unwrap();
        row["violations"].parse().unwrap()
    };
    assert!(broken("orchestrated_fenced") * 4 < broken("orchestrated"), "{rows:?}");

    let row = rows.iter().find(|r| r["pattern"] == "orchestrated" && r["promise"] == "convergence").unwrap();
    let repro = std::fs::read_to_string(out.join(&row["reproducer"])).unwrap();
    let fenced = repro.replace("kind = \"orchestrated\"", "kind = \"orchestrated\"\nfencing = true");
    assert_ne!(fenced, repro);
    for (name, text) in [("plain", repro), ("fenced", fenced)] {
        let cfg = write(tmp.path(), &format!("{name}.toml"), &text);
        let replay = tmp.path().join(name);
        let r = ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", replay.to_str().unwrap()], tmp.path());
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let run = &summary_rows(&replay.join("summary.csv"))[0];
        let (late, inconsistent): (u64, u64) =
            (run["late_deletes"].parse().unwrap(), run["inconsistent_at_end"].parse().unwrap());
        if name == "plain" {
            assert!(late > 0 && inconsistent >= late, "{run:?}");
        } else {
            assert_eq!((late, inconsistent), (0, 0), "{run:?}");
        }
    }
}

/// Change data capture with a day of log retention breaks no promise under
/// the explored faults (source crashes among them); with one minute, a
/// tailer that falls behind loses events, and the shrunk reproducer shows
/// it: the lost events are exactly the customers left inconsistent, and a
/// long retention cures the same faults.
#[test]
fn explore_finds_the_tailer_falling_behind_the_log_retention() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("explore");
    let r =
        ecsim(&["explore", "--seeds", "40", "--pattern", "cdc", "--quiet", "--out", out.to_str().unwrap()], tmp.path());
    assert_eq!(r.status.code(), Some(1), "{}", String::from_utf8_lossy(&r.stderr));
    let rows = summary_rows(&out.join("summary.csv"));
    let broken = |p: &str| -> u64 {
        rows.iter().filter(|r| r["pattern"] == p).map(|r| r["violations"].parse::<u64>().unwrap()).sum()
    };
    assert_eq!(broken("cdc"), 0, "{rows:?}");
    assert!(broken("cdc_short_retention") > 0, "{rows:?}");
    let row = rows.iter().find(|r| r["pattern"] == "cdc_short_retention" && r["promise"] == "convergence").unwrap();
    let repro = std::fs::read_to_string(out.join(&row["reproducer"])).unwrap();
    let long = repro.replace("retention = \"1m\"", "retention = \"1d\"");
    assert_ne!(long, repro);
    for (name, text) in [("short", repro), ("long", long)] {
        let cfg = write(tmp.path(), &format!("{name}.toml"), &text);
        let replay = tmp.path().join(name);
        let r = ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", replay.to_str().unwrap()], tmp.path());
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let run = &summary_rows(&replay.join("summary.csv"))[0];
        let (lost, inconsistent): (u64, u64) =
            (run["events_lost"].parse().unwrap(), run["inconsistent_at_end"].parse().unwrap());
        if name == "short" {
            assert!(lost > 0 && inconsistent == lost, "{run:?}");
        } else {
            assert_eq!((lost, inconsistent), (0, 0), "{run:?}");
        }
    }
}

/// `explore --followers N` hunts in a system of N followers: its faults hit
/// them by name, and a reproducer replays with the same followers and the
/// same broken promise.
#[test]
fn explore_hunts_in_a_system_of_n_followers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("explore");
    let args = ["explore", "--seeds", "30", "--followers", "5", "--pattern", "orchestrated", "--quiet", "--out"];
    let r = ecsim(&[&args[..], &[out.to_str().unwrap()]].concat(), tmp.path());
    assert_eq!(r.status.code(), Some(1), "{}", String::from_utf8_lossy(&r.stderr));
    let rows = summary_rows(&out.join("summary.csv"));
    let row = rows.iter().find(|r| r["pattern"] == "orchestrated" && r["promise"] == "convergence").unwrap();
    assert!(row["violations"].parse::<u64>().unwrap() > 0, "{rows:?}");
    let repro = std::fs::read_to_string(out.join(&row["reproducer"])).unwrap();
    assert!(repro.contains("count = 5") && repro.contains("name = \"svc\""), "{repro}");
    let cfg = write(tmp.path(), "repro.toml", &repro);
    let replay = tmp.path().join("replay");
    let r = ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", replay.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let run = &summary_rows(&replay.join("summary.csv"))[0];
    assert!(run["inconsistent_at_end"].parse::<u64>().unwrap() > run["manual_repairs"].parse::<u64>().unwrap());
    // Out of range: a usage error naming the flag.
    let r = ecsim(&["explore", "--followers", "65", "--out", tmp.path().join("x").to_str().unwrap()], tmp.path());
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--followers"));
}

#[test]
fn trace_writes_chrome_trace_events_in_virtual_time() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", SMALL);
    // A customer who unsubscribes in replication 0 (the one traced).
    let run = tmp.path().join("run");
    assert!(ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", run.to_str().unwrap()], tmp.path())
        .status
        .success());
    let customer = summary_rows(&run.join("requests.csv"))[0]["customer"].clone();
    // --out names a folder, as everywhere else.
    let dir = tmp.path().join("traces");
    let out = dir.join(format!("trace-customer-{customer}.json"));
    let r =
        ecsim(&["trace", cfg.to_str().unwrap(), "--customer", &customer, "--out", dir.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    let horizon_us = 70.0 * 60.0 * 1e6;
    let mut flows_started = std::collections::BTreeSet::new();
    let mut flows_ended = std::collections::BTreeSet::new();
    for e in events {
        let ph = e["ph"].as_str().unwrap();
        assert!(["M", "X", "s", "f", "i"].contains(&ph), "{e}");
        if ph == "M" {
            continue;
        }
        let ts = e["ts"].as_f64().unwrap();
        assert!((0.0..=horizon_us).contains(&ts), "{e}");
        assert!(e["pid"].as_u64().unwrap() >= 1 && e["tid"].as_u64().is_some());
        if ph == "X" {
            assert!(e["dur"].as_f64().unwrap() >= 0.0);
            if let Some(c) = e["args"].get("customer") {
                assert_eq!(c.to_string(), customer, "a span of another customer: {e}");
            }
        }
        match ph {
            "s" => assert!(flows_started.insert(e["id"].as_str().unwrap().to_string())),
            "f" => assert!(flows_ended.insert(e["id"].as_str().unwrap().to_string())),
            _ => {}
        }
    }
    assert_eq!(flows_started, flows_ended, "every arrow has both ends");
    let names: Vec<&str> = events.iter().filter_map(|e| e["name"].as_str()).collect();
    for want in [
        "process_name",
        "thread_name",
        "user waits (unsubscribe)",
        "profile row deleted",
        "contract row deleted",
        "billing row deleted",
        "consume CustomerUnsubscribed",
        "fault: crash billing",
        "fault: restart billing",
    ] {
        assert!(names.contains(&want), "no {want:?} in the trace");
    }
    // One process per pattern: three patterns, three row deletions each.
    assert_eq!(names.iter().filter(|n| **n == "process_name").count(), 3);
    assert_eq!(names.iter().filter(|n| n.ends_with("row deleted")).count(), 9);
}

/// 32 followers validate, run, and show in the trace: one track per
/// follower, named from the config, each with its own row's deletion.
#[test]
fn thirty_two_followers_run_and_trace_on_their_own_tracks() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(
        tmp.path(),
        "wide.toml",
        "name = \"wide\"\ncustomers = 500\nreplications = 1\n[workload]\nrate_per_s = 1.0\nduration = \"2m\"\n\
         drain = \"70m\"\nat = [{ at = \"1m\", customer = 123 }]\n\
         [[followers]]\nname = \"svc\"\ntable = \"rows\"\ncount = 32\n",
    );
    let cfg = cfg.to_str().unwrap();
    let r = ecsim(&["validate", cfg], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let run = tmp.path().join("run");
    let r = ecsim(&["run", cfg, "--quiet", "--out", run.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rows = summary_rows(&run.join("summary.csv"));
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row["inconsistent_at_end"], "0", "{row:?}");
        assert_eq!(row["answered_ok"], "1", "{row:?}");
    }
    let dir = tmp.path().join("traces");
    let r = ecsim(&["trace", cfg, "--customer", "123", "--out", dir.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("trace-customer-123.json")).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().unwrap();
    for pid in 1..=3u64 {
        let of = |ph: &'static str| events.iter().filter(move |e| e["ph"] == ph && e["pid"].as_u64() == Some(pid));
        let tracks: std::collections::BTreeMap<u64, String> = of("M")
            .filter(|e| e["name"] == "thread_name")
            .map(|e| (e["tid"].as_u64().unwrap(), e["args"]["name"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(tracks.len(), 38, "client, profile, 32 followers, orchestrator, broker, sync, tailer");
        for k in 1..=32u64 {
            let tid = tracks.iter().find(|(_, n)| **n == format!("svc{k}")).map(|(t, _)| *t).expect("a track");
            let deleted =
                of("X").any(|e| e["tid"].as_u64() == Some(tid) && e["name"] == format!("rows{k} row deleted"));
            assert!(deleted, "pattern {pid}: no deletion of rows{k} on svc{k}'s track");
        }
    }
}

#[test]
fn sharded_sweeps_merge_byte_identical_and_name_missing_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", SMALL);
    let single = tmp.path().join("single");
    assert!(ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", single.to_str().unwrap()], tmp.path())
        .status
        .success());
    let shards = tmp.path().join("shards");
    for i in 0..3 {
        let spec = format!("{i}/3");
        let r = ecsim(
            &["sweep", cfg.to_str().unwrap(), "--shard", &spec, "--quiet", "--out", shards.to_str().unwrap()],
            tmp.path(),
        );
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let merged = tmp.path().join("merged");
    let r = ecsim(&["merge", shards.to_str().unwrap(), "--quiet", "--out", merged.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(read_all(&single), read_all(&merged));
    assert_eq!(std::fs::read(single.join("lag_cdf.svg")).unwrap(), std::fs::read(merged.join("lag_cdf.svg")).unwrap());
    // With --set: the shards carry the overrides, and the merge writes what
    // the single run wrote, manifest and report included.
    let set = ["--set", "workload.rate_per_s=3"];
    let single_set = tmp.path().join("single-set");
    let r = ecsim(
        &[&["run", cfg.to_str().unwrap(), "--quiet", "--out", single_set.to_str().unwrap()][..], &set].concat(),
        tmp.path(),
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let shards_set = tmp.path().join("shards-set");
    for i in 0..2 {
        let spec = format!("{i}/2");
        let args = [
            &["sweep", cfg.to_str().unwrap(), "--shard", &spec, "--quiet", "--out", shards_set.to_str().unwrap()][..],
            &set,
        ]
        .concat();
        let r = ecsim(&args, tmp.path());
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let merged_set = tmp.path().join("merged-set");
    let r =
        ecsim(&["merge", shards_set.to_str().unwrap(), "--quiet", "--out", merged_set.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(read_all(&single_set), read_all(&merged_set));
    assert_ne!(read_all(&single), read_all(&single_set));

    // Merged into the shards' own folder (the default), twice: the shards
    // survive the swap of a whole folder, and nothing is left beside it.
    let shard_files = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = shard_files(&shards);
    assert_eq!(before.len(), 3);
    for _ in 0..2 {
        let r = ecsim(&["merge", shards.to_str().unwrap(), "--quiet"], tmp.path());
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        assert_eq!(shard_files(&shards), before, "the shards changed");
        // The manifest here also lists the shard files beside the results.
        let without_manifest =
            |d: &Path| read_all(d).into_iter().filter(|f| f.0 != "manifest.json").collect::<Vec<_>>();
        assert_eq!(without_manifest(&shards), without_manifest(&single));
    }
    let beside: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(beside, Vec::<String>::new());

    // A missing shard is named, and nothing is written.
    let one = std::fs::read_dir(&shards)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("shard-0001"))
        .unwrap();
    std::fs::remove_file(one).unwrap();
    let partial = tmp.path().join("partial");
    let r = ecsim(&["merge", shards.to_str().unwrap(), "--out", partial.to_str().unwrap()], tmp.path());
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("missing shard(s) 1 of 3"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(!partial.exists());

    // A shard from another config is named as mismatched.
    let other = write(tmp.path(), "other.toml", &SMALL.replace("seed = 9", "seed = 10"));
    let r = ecsim(
        &["sweep", other.to_str().unwrap(), "--shard", "1/3", "--quiet", "--out", shards.to_str().unwrap()],
        tmp.path(),
    );
    assert!(r.status.success());
    let r = ecsim(&["merge", shards.to_str().unwrap(), "--out", partial.to_str().unwrap()], tmp.path());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && err.contains("shard 1/3 of config") && err.contains("missing shard(s) 1 of 3"),
        "{err}"
    );

    // The shard can come from a Slurm job array's environment.
    let env_out = tmp.path().join("env");
    let r = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["sweep", cfg.to_str().unwrap(), "--quiet", "--out", env_out.to_str().unwrap()])
        .env("SLURM_ARRAY_TASK_ID", "3")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let names: Vec<String> =
        std::fs::read_dir(&env_out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    assert!(names.iter().any(|n| n.starts_with("shard-0002-of-0003")), "{names:?}");
}

/// Every way a shard can be damaged is named by `merge`, which then writes
/// nothing: a shard file with no header, another format, a damaged result
/// line, a truncated file, a job list that belongs to another shard, and a
/// config that does not reproduce its own hash.
#[test]
fn merge_names_every_kind_of_damaged_shard_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", SMALL);
    let shards = tmp.path().join("shards");
    for spec in ["0/2", "1/2"] {
        let r = ecsim(
            &["sweep", cfg.to_str().unwrap(), "--shard", spec, "--quiet", "--out", shards.to_str().unwrap()],
            tmp.path(),
        );
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&shards).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let (first, second) = (std::fs::read_to_string(&files[0]).unwrap(), std::fs::read_to_string(&files[1]).unwrap());
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    // The header with one field changed.
    let header = |f: &dyn Fn(&mut serde_json::Value)| {
        let (head, rest) = first.split_once('\n').unwrap();
        let mut h: serde_json::Value = serde_json::from_str(head).unwrap();
        f(&mut h);
        format!("{h}\n{rest}")
    };
    let lines: Vec<&str> = first.lines().collect();
    let cases: Vec<(&str, String, String)> = vec![
        ("no header", "not json\n".to_string(), format!("{name}: not a shard file (no header)")),
        (
            "format",
            header(&|h| h["format"] = "ecsim-shard-0".into()),
            format!("{name}: format \"ecsim-shard-0\", expected \"ecsim-shard-2\""),
        ),
        (
            "damaged line",
            format!("{}\n{{\"index\": oops\n", lines[..lines.len() - 1].join("\n")),
            format!("{name}: a damaged result line"),
        ),
        (
            "truncated",
            format!("{}\n", lines[..lines.len() - 1].join("\n")),
            format!("{name}: shard 0 is incomplete ({} of {} results)", lines.len() - 2, lines.len() - 1),
        ),
        ("foreign jobs", header(&|h| h["jobs"][0] = 1.into()), format!("{name}: shard 0 lists jobs of other shards")),
        (
            "hash",
            header(&|h| {
                let toml = h["resolved_toml"].as_str().unwrap().replace("seed = 9", "seed = 8");
                h["resolved_toml"] = toml.into();
            }),
            "the shards' config does not reproduce its hash".to_string(),
        ),
    ];
    let cases = [
        cases,
        vec![(
            "version",
            header(&|h| h["version"] = "0.0.1".into()),
            "shards from different ecsim versions".to_string(),
        )],
    ]
    .concat();
    for (what, text, want) in cases {
        let dir = tmp.path().join(format!("case-{}", what.replace(' ', "-")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&name), &text).unwrap();
        std::fs::write(dir.join(files[1].file_name().unwrap()), &second).unwrap();
        let out = tmp.path().join(format!("out-{}", what.replace(' ', "-")));
        let r = ecsim(&["merge", dir.to_str().unwrap(), "--out", out.to_str().unwrap()], tmp.path());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{what}: merged a damaged shard");
        assert!(err.contains(&want), "{what}: expected {want:?} in:\n{err}");
        assert!(!out.exists(), "{what}: wrote {}", out.display());
    }
    // Two files for one shard with different results: both named.
    let dir = tmp.path().join("case-duplicate");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&name), &first).unwrap();
    let mut altered: Vec<String> = first.lines().map(str::to_string).collect();
    let last = altered.len() - 1;
    let mut line: serde_json::Value = serde_json::from_str(&altered[last]).unwrap();
    line["report"]["requests"] = 1.into();
    altered[last] = line.to_string();
    std::fs::write(dir.join("shard-0000-copy.jsonl"), altered.join("\n") + "\n").unwrap();
    std::fs::write(dir.join(files[1].file_name().unwrap()), &second).unwrap();
    let out = tmp.path().join("out-duplicate");
    let r = ecsim(&["merge", dir.to_str().unwrap(), "--out", out.to_str().unwrap()], tmp.path());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(err.contains("both hold shard 0 with different results") && err.contains("shard-0000-copy.jsonl"), "{err}");
    assert!(!out.exists());
}

#[test]
fn a_config_without_a_name_is_named_after_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(
        tmp.path(),
        "my-what-if.toml",
        &SMALL.replace("name = \"small\"\n", "").replace("replications = 3", "replications = 1"),
    );
    let out = tmp.path().join("out");
    let r = ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let resolved = std::fs::read_to_string(out.join("config.resolved.toml")).unwrap();
    assert!(resolved.contains("name = \"my-what-if\""), "{resolved}");
}

/// The guards a hostile command line meets: a closed pipe, absurd thread
/// counts, absurd work, bundled experiments by name.
#[test]
fn hostile_command_lines_get_clear_answers() {
    let tmp = tempfile::tempdir().unwrap();
    // A reader that goes away at once: no panic, exit 0.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .arg("list")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    let r = ecsim(&["validate", "baseline", "--threads", "100000"], tmp.path());
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--threads 100000: at most"));

    // A bundled experiment by name, wherever the command runs.
    let r = ecsim(&["validate", "partition"], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

    let big = write(
        tmp.path(),
        "big.toml",
        "customers = 4000000000\n[workload]\nrate_per_s = 100000.0\nduration = \"30d\"\n",
    );
    let r = ecsim(&["validate", big.to_str().unwrap()], tmp.path());
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("big.toml: workload.rate_per_s: about") && err.contains("--force"), "{err}");
    assert!(ecsim(&["validate", big.to_str().unwrap(), "--force"], tmp.path()).status.success());

    // Memory: four billion requests' records (about 1.2 TB) name the key
    // that drops them; retiring them leaves the customers (160 GB), which
    // only a machine of more than 200 GB holds.
    let long = "customers = 4000000000\nreplications = 1\n[[patterns]]\nkind = \"event_based\"\n\
                [workload]\nrate_per_s = 1600.0\nduration = \"30d\"\n";
    let kept = write(tmp.path(), "long.toml", long);
    let r = ecsim(&["validate", kept.to_str().unwrap()], tmp.path());
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("long.toml: workload.retire_after: needs about"), "{err}");
    let retired = write(tmp.path(), "retired.toml", &format!("{long}retire_after = \"1h\"\n"));
    let r = ecsim(&["validate", retired.to_str().unwrap()], tmp.path());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success() || err.contains("retired.toml: customers: needs about"), "{err}");

    let huge = tmp.path().join("huge.toml");
    std::fs::write(&huge, format!("name = \"x\"\n# {}\n", "x".repeat(2 << 20))).unwrap();
    let r = ecsim(&["validate", huge.to_str().unwrap()], tmp.path());
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("at most 1 MiB"));
}

/// A result folder is whole or untouched: foreign folders are refused, a
/// later run leaves no file of an earlier one, a second run into a folder
/// being written fails fast, and nothing is left beside the folder.
#[test]
fn result_folders_are_whole_or_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", SMALL);
    let out = tmp.path().join("out");

    // Not ours: refused with exit 2, and left as it was.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let r = ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()], tmp.path());
    assert_eq!(r.status.code(), Some(2), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not an ecsim result folder"));
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    std::fs::remove_dir_all(&out).unwrap();

    // A sweep, then a run without one: no sweep chart survives.
    let r = ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.join("sweep_lag_p99_s.png").exists());
    let flat = write(tmp.path(), "flat.toml", SMALL.split("[[sweep]]").next().unwrap());
    let r = ecsim(&["run", flat.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let left: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|f| !f.starts_with("sweep_")), "stale files: {left:?}");
    // The manifest, written last, lists every other file and the version.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let mut listed: Vec<String> =
        manifest["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect();
    listed.push("manifest.json".into());
    listed.sort();
    let mut present = left.clone();
    present.sort();
    assert_eq!(listed, present);
    assert_eq!(manifest["ecsim_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["experiment"], "small");

    // A second run while the first holds the folder: it fails at once,
    // naming the folder, and the first one finishes whole.
    let slow = write(tmp.path(), "slow.toml", &SMALL.replace("replications = 3", "replications = 40"));
    let first = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["run", slow.to_str().unwrap(), "--quiet", "--threads", "1", "--out", out.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&tmp.path().join(".out.lock"));
    let second = ecsim(&["run", flat.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()], tmp.path());
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(second.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another ecsim run"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 2 * 3 * 40, "the first run's results, whole");

    // Nothing is left beside the folder: no lock, no staging, no old copy.
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

/// `ecsim trace` refuses what cannot give a timeline: a window that ends
/// before it starts, and a customer who does not unsubscribe in it.
#[test]
fn trace_refuses_an_empty_window_and_a_customer_who_never_leaves() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", SMALL);
    let out = tmp.path().join("t");
    let r = ecsim(
        &["trace", cfg.to_str().unwrap(), "--from", "40m", "--to", "30m", "--out", out.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--from 40m is later than --to 30m"));
    // 3,000 customers, about 1,200 leave: customer 2,999,999 does not exist, so never leaves.
    let r =
        ecsim(&["trace", cfg.to_str().unwrap(), "--customer", "2999999", "--out", out.to_str().unwrap()], tmp.path());
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("customer 2999999 does not unsubscribe"));
    assert!(!out.exists(), "wrote a trace anyway");
}

/// Ctrl-C stops a run within a second, leaves the previous results as they
/// were and nothing beside them but the journal of the runs that finished;
/// `--resume` then reruns only the rest, and the results are byte for byte
/// those of an uninterrupted run.
#[test]
fn ctrl_c_stops_quickly_and_resume_finishes_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", SMALL);
    let out = tmp.path().join("out");
    assert!(ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()], tmp.path())
        .status
        .success());
    let before = read_all(&out);
    // Six runs, one thread: a short one first, so that the journal holds a
    // finished run when Ctrl-C comes, then longer ones.
    let long = write(
        tmp.path(),
        "long.toml",
        "name = \"long\"\nseed = 5\nreplications = 1\ncustomers = 400000\n\
         [workload]\nrate_per_s = 100.0\nduration = \"1h\"\n\
         [[sweep]]\nparams = [\"workload.duration\"]\nvalues = [\"1m\", \"30m\"]\n",
    );
    let journal = tmp.path().join(".out.journal.jsonl");
    let args = ["run", long.to_str().unwrap(), "--quiet", "--threads", "1", "--out", out.to_str().unwrap()];
    let child =
        Command::new(env!("CARGO_BIN_EXE_ecsim")).args(args).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let finished = |j: &Path| std::fs::read_to_string(j).map_or(0, |t| t.lines().count().saturating_sub(1));
    let start = std::time::Instant::now();
    while finished(&journal) < 1 && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let sent = std::time::Instant::now();
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let done = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < std::time::Duration::from_secs(1), "took {:?} to stop", sent.elapsed());
    assert_eq!(done.status.code(), Some(130), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stderr).contains("--resume"));
    assert_eq!(read_all(&out), before, "the previous results changed");
    assert_eq!(leftovers(tmp.path()), vec![".out.journal.jsonl".to_string()]);
    let kept = finished(&journal);
    assert!((1..6).contains(&kept), "{kept} runs in the journal");

    // Resuming under another seed is another config: refused, journal kept.
    let mut other = args.to_vec();
    other.extend(["--resume", "--seed", "6"]);
    let r = ecsim(&other, tmp.path());
    assert_eq!(r.status.code(), Some(2), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("another config"), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(finished(&journal), kept);

    let mut resume = args.to_vec();
    resume.push("--resume");
    let r = Command::new(env!("CARGO_BIN_EXE_ecsim")).args(&resume[..]).current_dir(tmp.path()).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains(&format!("resuming: {kept} of 6 runs kept")),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
    let fresh = tmp.path().join("fresh");
    let mut whole = args.to_vec();
    whole[6] = fresh.to_str().unwrap();
    assert!(ecsim(&whole, tmp.path()).status.success());
    assert_eq!(read_all(&out), read_all(&fresh), "resumed results differ from an uninterrupted run");
}

/// A failure at any write step leaves the previous results whole and
/// nothing beside them: the run writes into a staging folder and swaps it
/// in only when every file is written.
#[test]
fn a_failure_at_any_write_step_leaves_the_previous_results_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(tmp.path(), "small.toml", &SMALL.replace("replications = 3", "replications = 1"));
    let out = tmp.path().join("out");
    assert!(ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()], tmp.path())
        .status
        .success());
    let before = read_all(&out);
    let other = write(
        tmp.path(),
        "other.toml",
        &SMALL.replace("replications = 3", "replications = 1").replace("seed = 9", "seed = 10"),
    );
    let mut steps = 0;
    for n in 1.. {
        let r = Command::new(env!("CARGO_BIN_EXE_ecsim"))
            .args(["run", other.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()])
            .env("ECSIM_FAIL_AT_WRITE", n.to_string())
            .output()
            .unwrap();
        // At most the journal of the finished runs, which --resume would use.
        let left = leftovers(tmp.path());
        assert!(left.iter().all(|f| f == ".out.journal.jsonl"), "write {n}: {left:?}");
        if r.status.success() {
            // Past the last write: the new results, whole.
            assert_ne!(read_all(&out), before);
            break;
        }
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("injected failure"),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert_eq!(read_all(&out), before, "write {n} failed and the old results changed");
        steps = n;
    }
    // CSVs, the resolved config and the charts: every one was a failure point.
    assert!(steps >= 10, "only {steps} write steps");
}

/// The data contract, checked on every committed result folder:
/// - every CSV has its header, even without rows (pandas and polars refuse
///   a 0-byte file with default options);
/// - a run folder's manifest lists every file, and each CSV with exactly
///   its header's columns, each with a type and a meaning;
/// - every cell reads as its column's type: numbers as floats (`NaN` and
///   `inf` included), integers and seeds within a signed 64-bit integer,
///   booleans as `true`/`false`;
/// - the sweep coordinates are in every file of a run folder;
/// - `requests.csv` holds at most `requests_csv_limit` rows, and the
///   manifest's sample says how many it was drawn from.
#[test]
fn every_result_folder_keeps_the_data_contract() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let mut seen = 0;
    let mut folders = 0;
    for dir in std::fs::read_dir(&results).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let manifest: Option<serde_json::Value> = std::fs::read(dir.join("manifest.json"))
            .ok()
            .map(|b| serde_json::from_slice(&b).expect("manifest.json is JSON"));
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        if let Some(m) = &manifest {
            folders += 1;
            let listed: Vec<&str> =
                m["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
            let others: Vec<&str> = names.iter().map(String::as_str).filter(|n| *n != "manifest.json").collect();
            // The trace beside partition-trace's run is written by `ecsim trace`, after the run.
            let others: Vec<&str> = others.into_iter().filter(|n| !n.starts_with("trace-")).collect();
            assert_eq!(listed, others, "{}: the manifest lists every file", dir.display());
            for s in m["replication_seeds"].as_array().unwrap() {
                assert!(s.as_i64().is_some(), "{}: seed {s} does not fit i64", dir.display());
            }
            let sample = &m["requests_csv"];
            let text = std::fs::read_to_string(dir.join("config.resolved.toml")).unwrap();
            let limit = text.parse::<toml::Table>().unwrap()["requests_csv_limit"].as_integer().unwrap() as u64;
            let rows = sample["rows"].as_u64().unwrap();
            assert!(rows <= limit, "{}: {rows} request rows over the limit {limit}", dir.display());
            assert!(rows <= sample["population"].as_u64().unwrap());
        }
        for name in names.iter().filter(|n| n.ends_with(".csv")) {
            let path = dir.join(name);
            let mut r = csv::Reader::from_path(&path).unwrap();
            let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
            assert!(header.len() > 1, "{}: no header row", path.display());
            seen += 1;
            let Some(m) = &manifest else { continue };
            for c in ["sweep_x", "x", "x_unit", "x_label", "sweep_y", "y", "y_unit", "y_label"] {
                assert!(header.iter().any(|h| h == c), "{}: no {c} column", path.display());
            }
            let entry = m["files"].as_array().unwrap().iter().find(|f| f["name"] == name.as_str()).unwrap();
            let columns = entry["columns"].as_array().unwrap();
            let listed: Vec<&str> = columns.iter().map(|c| c["name"].as_str().unwrap()).collect();
            assert_eq!(listed, header, "{}: the manifest's columns are the header's", path.display());
            for c in columns {
                assert!(!c["meaning"].as_str().unwrap().is_empty(), "{}: {c} has no meaning", path.display());
            }
            let kinds: Vec<&str> = columns.iter().map(|c| c["type"].as_str().unwrap()).collect();
            for (line, rec) in r.records().enumerate() {
                let rec = rec.unwrap();
                for ((cell, kind), col) in rec.iter().zip(&kinds).zip(&header) {
                    let ok = match *kind {
                        "number" => cell.parse::<f64>().is_ok(),
                        "integer" => cell.parse::<i64>().is_ok(),
                        "boolean" => cell == "true" || cell == "false",
                        "text" => true,
                        other => panic!("{}: column {col} has type {other}", path.display()),
                    };
                    assert!(ok, "{}: row {}: {col} = {cell:?} is not a {kind}", path.display(), line + 1);
                }
            }
        }
    }
    assert!(seen > 50, "only {seen} CSV files under {}", results.display());
    assert!(folders >= 12, "only {folders} run folders with a manifest");
}

/// `--set` overrides any key, checked like the config file; the override
/// is recorded in the resolved config and the manifest's command, and the
/// run goes to runs/<name>-<hash>, never over results/<name>.
#[test]
fn set_overrides_any_key_and_never_writes_over_committed_results() {
    let tmp = tempfile::tempdir().unwrap();
    let r = ecsim(
        &[
            "run",
            "baseline",
            "--set",
            "workload.rate_per_s=50",
            "--set",
            "workload.duration=2m",
            "--set",
            "customers=20000",
            "--replications",
            "1",
            "--quiet",
        ],
        tmp.path(),
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!tmp.path().join("results").exists(), "an override must not write results/");
    let runs: Vec<PathBuf> = std::fs::read_dir(tmp.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let dir = &runs[0];
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let hash = name.strip_prefix("baseline-").expect("runs/<name>-<hash>");
    assert_eq!(hash.len(), 16, "{name}");
    for row in summary_rows(&dir.join("summary.csv")) {
        assert_eq!(row["offered_per_s"], "50.0", "{row:?}");
    }
    let resolved = std::fs::read_to_string(dir.join("config.resolved.toml")).unwrap();
    assert!(resolved.contains("# --set workload.rate_per_s=50"), "{resolved}");
    assert!(resolved.contains("rate_per_s = 50.0"), "{resolved}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let command = manifest["command"].as_str().unwrap();
    assert!(
        command.starts_with("ecsim run baseline") && command.contains("--set 'workload.rate_per_s=50'"),
        "{command}"
    );

    // A bad key or value: exit 2, naming it; nothing written.
    for (set, want) in [
        ("workload.rate_pr_s=50", "workload.rate_pr_s: --set workload.rate_pr_s=50: not a key of this config"),
        ("workload.rate_per_s=fast", "workload.rate_per_s: invalid type: string \"fast\", expected f64"),
        ("services.billing.workers=-3", "services.billing.workers: invalid value: integer `-3`"),
        ("workload.rate_per_s", "write KEY=VALUE"),
    ] {
        let r = ecsim(&["run", "baseline", "--set", set, "--quiet"], tmp.path());
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{set}: {err}");
        assert!(err.contains(want), "{set}: {err}");
    }
    assert_eq!(std::fs::read_dir(tmp.path().join("runs")).unwrap().count(), 1);

    // A config of one's own goes to runs/ too; a bundled one as bundled to results/.
    let own = write(tmp.path(), "mine.toml", &SMALL.replace("replications = 3", "replications = 1"));
    let r = ecsim(&["run", own.to_str().unwrap(), "--quiet"], tmp.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let names: Vec<String> = std::fs::read_dir(tmp.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("small-")), "{names:?}");
    assert!(!tmp.path().join("results").exists());
}

/// Each subcommand takes only the options it uses, shows examples in its
/// help, and the completions and the man page are generated.
#[test]
fn subcommands_take_only_their_own_options() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["list", "--seed", "5"][..],
        &["chart", "results/baseline", "--threads", "2"],
        &["validation", "--set", "workload.rate_per_s=5"],
        &["merge", "x", "--resume"],
    ] {
        let r = ecsim(args, tmp.path());
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&r.stderr).contains("unexpected argument"), "{args:?}");
    }
    for sub in ["run", "list", "validate", "validation", "explore", "trace", "sweep", "merge", "chart", "completions"] {
        let r = ecsim(&[sub, "--help"], tmp.path());
        assert!(r.status.success(), "{sub}");
        let help = String::from_utf8_lossy(&r.stdout);
        assert!(help.contains("Example"), "{sub} --help has no example:\n{help}");
    }
    let r = ecsim(&["completions", "bash"], tmp.path());
    assert!(r.status.success());
    let script = String::from_utf8_lossy(&r.stdout);
    assert!(script.contains("_ecsim") && script.contains("--replications"), "{script}");
    let r = ecsim(&["manpage"], tmp.path());
    assert!(r.status.success());
    let roff = String::from_utf8_lossy(&r.stdout);
    assert!(roff.starts_with(".ie") || roff.contains(".TH ecsim"), "{roff}");
}

/// The README's example config is the file the README's commands run.
#[test]
fn the_readme_config_is_the_example_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/billing-partition.toml")).unwrap();
    assert!(readme.contains(&format!("```toml\n{example}```")), "README.md and examples/billing-partition.toml differ");
    let r = ecsim(&["validate", root.join("examples/billing-partition.toml").to_str().unwrap()], &root);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// Every run folder's report.html stands alone: every chart of the folder
/// inline, links only to the folder's own files, no external script, style,
/// font or image. (scripts/ci-report.sh opens each in headless Chromium.)
#[test]
fn every_report_is_self_contained() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let mut seen = 0;
    for dir in std::fs::read_dir(&results).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.join("manifest.json").exists() {
            continue;
        }
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        seen += 1;
        let svgs = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "svg"))
            .count();
        assert_eq!(html.matches("<svg ").count(), svgs, "{}: every chart inline", dir.display());
        for bad in ["<link", "src=\"http", "src=\"//", "@import", "url(http"] {
            assert!(!html.contains(bad), "{}: {bad}", dir.display());
        }
        for href in html.split("href=\"").skip(1).map(|h| h.split('"').next().unwrap()) {
            assert!(
                href.starts_with('#') || (!href.contains('/') && !href.contains(':')),
                "{}: link {href} leaves the folder",
                dir.display()
            );
            if !href.starts_with('#') {
                assert!(dir.join(href).exists(), "{}: link to a missing {href}", dir.display());
            }
        }
        let description = std::fs::read_to_string(dir.join("config.resolved.toml")).unwrap();
        let description = description.parse::<toml::Table>().unwrap()["description"].as_str().unwrap().to_string();
        assert!(html.contains(description.trim()), "{}: the experiment's question", dir.display());
    }
    assert!(seen >= 12, "only {seen} reports");
}

/// Retiring settled requests (`workload.retire_after`) changes no output:
/// the summaries, distributions and series are the same numbers, and
/// `requests.csv` is the same sample, though the runs kept only the
/// records that sample could take.
#[test]
fn retiring_records_writes_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let base = SMALL
        .replace("replications = 3", "replications = 2\nrequests_csv_limit = 40")
        .replace("customers = 3000", "customers = 10000")
        .replace("duration = \"5m\"", "duration = \"30m\"");
    let retiring = base.replace("drain = \"65m\"", "drain = \"65m\"\nretire_after = \"10m\"");
    assert_ne!(base, retiring);
    let mut outs = Vec::new();
    for (name, text) in [("base", &base), ("retiring", &retiring)] {
        let cfg = write(tmp.path(), &format!("{name}.toml"), text);
        let out = tmp.path().join(name);
        let r = ecsim(&["run", cfg.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()], tmp.path());
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        outs.push(out);
    }
    for file in ["aggregate.csv", "cdf.csv", "timeseries.csv", "requests.csv"] {
        let (a, b) = (std::fs::read(outs[0].join(file)).unwrap(), std::fs::read(outs[1].join(file)).unwrap());
        assert!(a == b, "{file} differs");
    }
    // The summaries differ only in the config's hash.
    let (a, b) = (summary_rows(&outs[0].join("summary.csv")), summary_rows(&outs[1].join("summary.csv")));
    assert_eq!(a.len(), 12);
    for (mut a, mut b) in a.into_iter().zip(b) {
        // About 7,200 requests per run (4/s for 30 minutes), 40 sampled.
        assert!(a["requests"].parse::<u64>().unwrap() > 7_000, "{a:?}");
        assert_ne!(a.remove("config_hash"), b.remove("config_hash"));
        assert_eq!(a, b);
    }
    // 3 patterns of each sampled request: 13 requests, 39 rows.
    let rows = std::fs::read_to_string(outs[0].join("requests.csv")).unwrap().lines().count();
    assert_eq!(rows, 1 + 39);
}
