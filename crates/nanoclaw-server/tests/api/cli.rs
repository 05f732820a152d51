//! The `nanoclaw` binary: start-up without a config, bad configs, migrate, signals.

use std::process::Command;

use crate::helpers::{
    BIN, http_get, start_binary as start, stop_cleanly, wait_for_line as wait_for,
};

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
    let addr = crate::helpers::listening_addr(&lines);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let body: serde_json::Value = http_get(format!("http://{addr}/api/auth/mode"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["mode"], "single");
    stop_cleanly(&mut child, &rx);
}

/// The signal handlers exist before the address is announced: a SIGTERM sent the moment the
/// "listening" line appears still ends in a graceful stop, not in the default action.
#[test]
fn sigterm_right_after_the_announcement_still_stops_cleanly() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, rx) = start(dir.path(), &["--port", "0"]);
        wait_for(&rx, "listening on http://");
        stop_cleanly(&mut child, &rx);
    }
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

#[tokio::test]
async fn keeps_serving_when_its_log_pipe_closes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--port", "0"])
        .current_dir(dir.path())
        .env("RUST_LOG", "debug")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("listening on http://");
        seen.push(line);
        if done {
            break;
        }
    }
    let addr = crate::helpers::listening_addr(&seen);
    drop(lines); // the reading end of the log pipe is gone
    for _ in 0..20 {
        let resp = http_get(format!("http://{addr}/api/auth/mode"))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let _ = child.kill();
    let _ = child.wait();
}
