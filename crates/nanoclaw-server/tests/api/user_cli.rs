//! `nanoclaw user …` against the configured database, and switching modes.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::*;

fn nanoclaw(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn write_config(dir: &std::path::Path, mode: &str) -> String {
    let mut config = format!(
        "auth_mode: {mode}\njwt_secret: cli-test-secret-0123456789abcdefghij\nlogin_rate_limit: 0\npassword_min_score: 0\n"
    );
    if let Some(url) = test_database_url(dir).await {
        config.push_str(&format!("database_url: '{url}'\n"));
    }
    std::fs::write(dir.join("config.yml"), &config).unwrap();
    config
}

#[tokio::test]
async fn operators_manage_accounts_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = write_config(d, "multi").await;
    let (ok, out, err) = nanoclaw(
        d,
        &["user", "add", "ops", "--role", "admin", "--password-stdin"],
        Some("ops-password-1\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("created user ops"), "{out}");
    let (ok, _, err) = nanoclaw(
        d,
        &[
            "user",
            "add",
            "dev",
            "--email",
            "dev@x.io",
            "--password-stdin",
        ],
        Some("dev-password-1\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = nanoclaw(
        d,
        &["user", "add", "dev", "--password-stdin"],
        Some("dev-password-1\n"),
    );
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, out, _) = nanoclaw(d, &["user", "list"], None);
    assert!(
        ok && out.contains("ops") && out.contains("dev@x.io"),
        "{out}"
    );

    // The running server sees every change at its next request.
    let app = spawn_app_in(d, &config).await;
    let (s, b) = app.login("dev", "dev-password-1").await;
    assert_eq!(s, 200, "{b}");
    let token = b["data"]["token"].as_str().unwrap().to_owned();
    let (ok, _, err) = nanoclaw(
        d,
        &["user", "passwd", "dev", "--password-stdin"],
        Some("dev-password-2\n"),
    );
    assert!(ok, "{err}");
    // Another process (the CLI) made the change: the server drops its cached session within
    // a second.
    let ended = eventually(std::time::Duration::from_secs(1), || async {
        app.profile(Some(&token)).await.0 == 401
    })
    .await;
    assert!(ended, "passwd from the CLI ends sessions within a second");
    assert_eq!(app.login("dev", "dev-password-2").await.0, 200);
    let (ok, _, _) = nanoclaw(d, &["user", "set-role", "dev", "admin"], None);
    assert!(ok);
    assert_eq!(
        app.store
            .user_by_username("dev")
            .await
            .unwrap()
            .unwrap()
            .role,
        "admin"
    );
    let (ok, _, _) = nanoclaw(d, &["user", "disable", "dev"], None);
    assert!(ok);
    assert_eq!(app.login("dev", "dev-password-2").await.0, 403);
    let (ok, _, _) = nanoclaw(d, &["user", "enable", "dev"], None);
    assert!(ok);
    let (ok, _, err) = nanoclaw(d, &["user", "rename", "dev", "developer"], None);
    assert!(ok, "{err}");
    assert_eq!(app.login("developer", "dev-password-2").await.0, 200);
    let (ok, _, err) = nanoclaw(d, &["user", "delete", "developer"], None);
    assert!(!ok && err.contains("--yes"), "{err}");
    let (ok, _, _) = nanoclaw(d, &["user", "delete", "developer", "--yes"], None);
    assert!(ok);
    assert!(
        app.store
            .user_by_username("developer")
            .await
            .unwrap()
            .is_none()
    );
    // The last admin is protected here too.
    let (ok, _, err) = nanoclaw(d, &["user", "set-role", "ops", "user"], None);
    assert!(!ok && err.contains("last active admin"), "{err}");
    let (ok, _, err) = nanoclaw(d, &["user", "disable", "nobody"], None);
    assert!(!ok && err.contains("no user named"), "{err}");
    let (ok, _, err) = nanoclaw(d, &["user", "passwd", "ops"], None);
    assert!(!ok && err.contains("--password-stdin"), "{err}");
    app.stop().await;
}

#[tokio::test]
async fn switching_from_single_to_multi_keeps_the_default_account() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let single = write_config(d, "single").await;
    let app = spawn_app_in(d, &single).await;
    let default_id = app.profile(None).await.1["data"]["id"].as_i64().unwrap();
    app.stop().await;

    let (ok, _, err) = nanoclaw(
        d,
        &["user", "passwd", "default", "--password-stdin"],
        Some("default-password-1\n"),
    );
    assert!(ok, "{err}");
    let multi = write_config(d, "multi").await;
    let app = spawn_app_in(d, &multi).await;
    let (s, b) = app.login("default", "default-password-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["data"]["user"]["id"].as_i64(),
        Some(default_id),
        "same account, same data"
    );
    assert_eq!(b["data"]["user"]["role"], "admin");
    app.stop().await;

    // And back: single mode acts as `default` again.
    let app = spawn_app_in(d, &single).await;
    assert_eq!(
        app.profile(None).await.1["data"]["id"].as_i64(),
        Some(default_id)
    );
    app.stop().await;
}
