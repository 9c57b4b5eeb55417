//! `ecsim-testbed` as a user meets it without servers: bad arguments get
//! exit 2 and name what is wrong; servers that are not there get exit 1
//! at once, name the server, and leave no folder behind.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn testbed(args: &[&str], envs: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ecsim-testbed"));
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn bad_arguments_exit_2_naming_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    for (args, named) in [
        (vec!["--rate", "0"], "--rate"),
        (vec!["--duration=-3"], "--duration"),
        (vec!["--customers", "0"], "--customers"),
        (vec!["--broker-outage", "60,60"], "--servers"),
        (vec!["--broker-outage", "sixty"], "--broker-outage"),
        (vec!["--pattern", "sagas"], "--pattern"),
    ] {
        let mut all = vec!["--out", out];
        if !args.contains(&"--pattern") {
            all.extend(["--pattern", "event_based"]);
        }
        all.extend(&args);
        let o = testbed(&all, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(named), "{args:?} should name {named}: {}", stderr(&o));
        assert!(!Path::new(out).exists());
    }
    // A folder that exists is not overwritten.
    std::fs::create_dir(out).unwrap();
    let o = testbed(&["--pattern", "orchestrated", "--out", out], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(out), "{}", stderr(&o));
}

#[test]
fn without_servers_it_fails_at_once_naming_the_server_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let ports = [("ECSIM_PG_PORT", closed_port().to_string()), ("ECSIM_AMQP_PORT", closed_port().to_string())];
    let start = Instant::now();
    let o = testbed(&["--pattern", "background_sync", "--out", out.to_str().unwrap()], &ports);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
    assert!(stderr(&o).contains(&ports[0].1), "should name PostgreSQL's port: {}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
