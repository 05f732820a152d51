//! `nanoclaw import` from a database made with the original's schema.

use std::process::Command;

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::helpers::*;

const MULTI_CONFIG: &str = "auth_mode: multi\njwt_secret: import-test-secret-0123456789abcdefgh\nlogin_rate_limit: 0\npassword_min_score: 0\n";

/// Builds the legacy SQLite file from the fixture DDL and rows.
async fn legacy_db(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("legacy.db");
    let script = std::fs::read_to_string(format!(
        "{}/tests/fixtures/nanoclaw_original_sqlite.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    // One connection, foreign keys off: SQLAlchemy never turned them on for SQLite, so real
    // legacy files can hold orphans (the fixture has two).
    let mut options = sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    options.max_connections(1);
    let db = Database::connect(options).await.unwrap();
    db.execute_unprepared("PRAGMA foreign_keys = OFF")
        .await
        .unwrap();
    for statement in script.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        let sql: String = statement
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if !sql.trim().is_empty() {
            db.execute_unprepared(&sql).await.unwrap();
        }
    }
    db.close().await.unwrap();
    path
}

/// Writes config.yml for a target in `dir` (SQLite in data_dir, or the test database server).
async fn target_config(dir: &std::path::Path) -> String {
    let mut config = MULTI_CONFIG.to_owned();
    if let Some(url) = test_database_url(dir).await {
        config.push_str(&format!("database_url: '{url}'\n"));
    }
    std::fs::write(dir.join("config.yml"), &config).unwrap();
    config
}

fn import(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("import")
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn row<'a>(stdout: &'a str, table: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .find(|l| l.starts_with(table))
        .unwrap_or_else(|| panic!("no {table} row in {stdout}"))
        .split_whitespace()
        .collect()
}

#[tokio::test]
async fn imports_a_legacy_database_keeping_ids_timestamps_and_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = legacy_db(dir.path()).await;
    let config = target_config(dir.path()).await;

    let (ok, stdout, stderr) = import(dir.path(), &["--from", legacy.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert_eq!(row(&stdout, "users"), ["users", "3", "3", "0", "0"]);
    assert_eq!(
        row(&stdout, "conversations"),
        ["conversations", "3", "3", "0", "0"]
    );
    assert_eq!(
        row(&stdout, "messages"),
        ["messages", "4", "3", "0", "1"],
        "the orphan is skipped"
    );
    assert_eq!(
        row(&stdout, "token_usage"),
        ["token_usage", "2", "2", "0", "0"]
    );
    assert!(stdout.contains("Imported 12 rows."), "{stdout}");

    // Idempotent: a second run (SQLAlchemy URL form this time) changes nothing and says so.
    let (ok, stdout, stderr) = import(
        dir.path(),
        &["--from", &format!("sqlite:///{}", legacy.display())],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("Nothing to import"), "{stdout}");

    let app = spawn_app_in(dir.path(), &config).await;
    // Old Werkzeug passwords log in and are upgraded.
    let (s, b) = app.login("alice", "correct horse").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["user"]["id"], 2);
    assert_eq!(
        b["data"]["user"]["created_at"],
        "2026-01-02T03:04:05.123456Z"
    );
    assert_eq!(b["data"]["user"]["email"], "alice@example.com");
    assert!(
        app.store
            .user_by_username("alice")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap()
            .starts_with("$argon2id$")
    );
    assert_eq!(app.login("bob", "ünïcödé pw").await.0, 200);
    // New rows continue after the imported ids.
    let (s, b) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "newcomer", "password": "newcomer-pass"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["user"]["id"], 4);

    // Conversations and messages keep ids and timestamps; a conversation whose project is gone
    // is kept, unbound.
    let url = app.database_url();
    let db = Database::connect(url).await.unwrap();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id, created_at FROM messages ORDER BY id",
        ))
        .await
        .unwrap();
    let got: Vec<(String, chrono::NaiveDateTime)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].0, "0a000000-0000-4000-8000-000000000001");
    assert_eq!(got[0].1.to_string(), "2026-01-05 09:10:01.111111");
    let unbound = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT project_id FROM conversations WHERE id = 'c0ffee00-0000-4000-8000-000000000003'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unbound.try_get_by_index::<Option<String>>(0).unwrap(), None);
    db.close().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn a_non_empty_target_needs_merge() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = legacy_db(dir.path()).await;
    let mut config = target_config(dir.path()).await;
    config = config.replace("auth_mode: multi", "auth_mode: single");
    std::fs::write(dir.path().join("config.yml"), &config).unwrap();
    // A single-mode start creates the default user: the target is no longer empty.
    spawn_app_in(dir.path(), &config).await.stop().await;

    let (ok, _, stderr) = import(dir.path(), &["--from", legacy.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("--merge") && stderr.lines().count() == 1,
        "{stderr}"
    );

    let (ok, stdout, stderr) = import(dir.path(), &["--from", legacy.to_str().unwrap(), "--merge"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        row(&stdout, "users"),
        ["users", "3", "2", "1", "0"],
        "{stdout}"
    );
}

#[test]
fn a_missing_source_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = import(dir.path(), &["--from", "/nonexistent/nano_claw.db"]);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot open the source database"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_legacy_sqlite_file_is_adopted_in_place() {
    if std::env::var(TEST_DATABASE_ENV).is_ok() {
        return; // SQLite-specific; the SQLite pass of the suite runs it.
    }
    let dir = tempfile::tempdir().unwrap();
    let legacy = legacy_db(dir.path()).await;
    let config = format!("{MULTI_CONFIG}db_sqlite_file: '{}'\n", legacy.display());
    let app = spawn_app_in(dir.path(), &config).await;
    let (s, b) = app.login("alice", "correct horse").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        app.profile(Some(b["data"]["token"].as_str().unwrap()))
            .await
            .0,
        200
    );
    assert!(app.store.is_migrated().await.unwrap());
    app.stop().await;
    // And a second start finds nothing to do.
    spawn_app_in(dir.path(), &config).await.stop().await;
}
