//! The `nanoclaw` binary: start-up without a config, bad configs, migrate, signals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_nanoclaw");

/// Spawns the binary in `dir` and returns it with a channel of its stderr lines.
fn start(dir: &std::path::Path, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits (bounded) for a stderr line containing `needle`; returns every line seen so far.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(needle);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?}; saw {seen:#?}");
}

#[tokio::test]
async fn starts_without_config_in_single_mode_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, rx) = start(dir.path(), &["--port", "0"]);
    let lines = wait_for(&rx, "listening on http://");
    let db_line = lines
        .iter()
        .find(|l| l.contains("using SQLite database"))
        .expect("database line");
    assert!(
        db_line.contains(&dir.path().join("data/nano_claw.db").display().to_string()),
        "{db_line}"
    );
    let listen = lines.last().unwrap();
    let addr = listen
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let body: serde_json::Value = reqwest::get(format!("http://{addr}/api/auth/mode"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["mode"], "single");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for(&rx, "shut down cleanly");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_config_fails_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("backend_port: lots\n", "backend_port"),
        ("auth_mode: everyone\n", "auth_mode"),
        ("jwt_secret: ${NANOCLAW_TEST_SURELY_UNSET}\n", "jwt_secret"),
        ("models: [{id: a}]\n", "models[0]"),
    ] {
        std::fs::write(dir.path().join("config.yml"), text).unwrap();
        let out = Command::new(BIN).current_dir(dir.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
        assert!(
            lines[0].starts_with("nanoclaw: ") && lines[0].contains(key),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn environment_overrides_reach_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("NANOCLAW__TOOL_MAX_WORKERS", "99")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tool_max_workers"));
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("my.yml"),
        "data_dir: ./state\ndb_sqlite_file: claw.db\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["migrate", "--config", "my.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied (sqlite)"));
    assert!(dir.path().join("state/claw.db").exists());
    // Running it again is a no-op.
    let again = Command::new(BIN)
        .args(["migrate", "-c", "my.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[test]
fn unreachable_database_fails_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        "database_url: 'postgres://u:secretpw@127.0.0.1:1/db'\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(
        !stderr.contains("secretpw"),
        "credentials never printed: {stderr}"
    );
}
