//! The `auth_changes` triggers, `nanoclaw_meta` and the legacy-import record, on a real
//! database: SQLite by default, PostgreSQL or MySQL/MariaDB when `NANOCLAW_TEST_DATABASE_URL`
//! names a server (a throw-away database is created per test and dropped after it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{NaiveDateTime, TimeDelta};
use nanoclaw_core::config::DatabaseTarget;
use nanoclaw_store::{LEGACY_IMPORT_AT, LEGACY_IMPORT_MAX_USER_ID, Store};
use sea_orm::{ConnectionTrait, Database, DbBackend};
use sea_orm_migration::{MigratorTrait, SchemaManager};

mod common;

use common::{TestDb, stmt};

impl TestDb {
    /// Feed rows naming `user`.
    async fn changes(&self, user: i64) -> i64 {
        self.int(&format!(
            "SELECT COUNT(*) FROM auth_changes WHERE user_id = {user}"
        ))
        .await
    }

    async fn all_changes(&self) -> i64 {
        self.int("SELECT COUNT(*) FROM auth_changes").await
    }

    /// A user inserted by hand, as an operator would; returns its id.
    async fn add_user(&self, name: &str) -> i64 {
        self.exec(&format!(
            "INSERT INTO users (username, password_hash, email, role, is_active, created_at, token_version) \
             VALUES ('{name}', 'hash-{name}', '{name}@example.com', 'user', TRUE, '{now}', 0)",
            now = nanoclaw_core::time::now_utc().format("%Y-%m-%d %H:%M:%S%.6f"),
        ))
        .await;
        self.int(&format!("SELECT id FROM users WHERE username = '{name}'"))
            .await
    }

    async fn add_session(&self, id: &str, user: i64) {
        self.exec(&format!(
            "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at) \
             VALUES ('{id}', {user}, '2026-12-01 10:00:00', '2026-12-01 10:00:00', '2099-01-01 00:00:00')"
        ))
        .await;
    }

    async fn add_key(&self, id: &str, user: i64) {
        self.exec(&format!(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at) \
             VALUES ('{id}', {user}, 'k', 'nck_', 'hash-{id}', '2026-12-01 10:00:00')"
        ))
        .await;
    }
}

/// Runs `sql` and checks that it added `expected` feed rows for `user`.
async fn expect_changes(db: &TestDb, user: i64, expected: i64, sql: &str) {
    let before = db.changes(user).await;
    db.exec(sql).await;
    let after = db.changes(user).await;
    assert_eq!(after - before, expected, "{sql}");
}

#[tokio::test]
async fn direct_sql_feeds_the_change_log() {
    let db = TestDb::migrated().await;
    let alice = db.add_user("alice").await;
    let bob = db.add_user("bob").await;
    assert_eq!(db.all_changes().await, 0, "inserts change nobody's access");

    // Users: access and profile columns count once per row, hot-path columns never.
    for (sql, n) in [
        ("UPDATE users SET is_active = FALSE WHERE id = {a}", 1),
        ("UPDATE users SET is_active = FALSE WHERE id = {a}", 0),
        (
            "UPDATE users SET last_login_at = '2026-12-03 10:00:00' WHERE id = {a}",
            0,
        ),
        (
            "UPDATE users SET avatar = 'x.png', email = 'new@example.com' WHERE id = {a}",
            1,
        ),
        ("UPDATE users SET role = 'admin' WHERE id = {a}", 1),
        (
            "UPDATE users SET token_version = token_version + 1 WHERE id = {a}",
            1,
        ),
        ("UPDATE users SET username = 'alice2' WHERE id = {a}", 1),
        ("UPDATE users SET password_hash = NULL WHERE id = {a}", 1),
        ("UPDATE users SET password_hash = NULL WHERE id = {a}", 0),
        ("UPDATE users SET password_hash = 'new' WHERE id = {a}", 1),
        (
            "UPDATE users SET role = 'admin', is_active = TRUE, password_hash = 'x' WHERE id = {a}",
            1,
        ),
    ] {
        expect_changes(&db, alice, n, &sql.replace("{a}", &alice.to_string())).await;
    }
    assert_eq!(db.changes(bob).await, 0);

    // Sessions: revoke and expiry count, the last-seen touch does not.
    db.add_session("s1", alice).await;
    db.add_session("s2", alice).await;
    expect_changes(
        &db,
        alice,
        0,
        "UPDATE sessions SET last_seen_at = '2026-12-03 11:00:00' WHERE id = 's1'",
    )
    .await;
    expect_changes(
        &db,
        alice,
        1,
        "UPDATE sessions SET revoked_at = '2026-12-03 11:00:00' WHERE id = 's1'",
    )
    .await;
    expect_changes(
        &db,
        alice,
        1,
        "UPDATE sessions SET expires_at = '2026-12-04 11:00:00' WHERE id = 's2'",
    )
    .await;
    // A revoked session grants nothing: deleting it changes nothing.
    expect_changes(&db, alice, 0, "DELETE FROM sessions WHERE id = 's1'").await;
    expect_changes(&db, alice, 1, "DELETE FROM sessions WHERE id = 's2'").await;
    // Moving a session to another user concerns both.
    db.add_session("s3", alice).await;
    let (a0, b0) = (db.changes(alice).await, db.changes(bob).await);
    db.exec(&format!(
        "UPDATE sessions SET user_id = {bob} WHERE id = 's3'"
    ))
    .await;
    assert_eq!(
        (db.changes(alice).await - a0, db.changes(bob).await - b0),
        (1, 1)
    );

    // API keys: delete, expiry and hash count, the last-used touch does not.
    db.add_key("k1", alice).await;
    db.add_key("k2", alice).await;
    expect_changes(
        &db,
        alice,
        0,
        "UPDATE api_keys SET last_used_at = '2026-12-03 11:00:00' WHERE id = 'k1'",
    )
    .await;
    expect_changes(
        &db,
        alice,
        0,
        "UPDATE api_keys SET name = 'renamed' WHERE id = 'k1'",
    )
    .await;
    expect_changes(
        &db,
        alice,
        1,
        "UPDATE api_keys SET expires_at = '2026-12-04 11:00:00' WHERE id = 'k1'",
    )
    .await;
    expect_changes(
        &db,
        alice,
        1,
        "UPDATE api_keys SET key_hash = 'other' WHERE id = 'k1'",
    )
    .await;
    expect_changes(&db, alice, 1, "DELETE FROM api_keys WHERE id = 'k1'").await;

    // A user's deletion is one row, whatever cascades with it (sessions, keys).
    db.add_session("s4", alice).await;
    expect_changes(
        &db,
        alice,
        1,
        &format!("DELETE FROM users WHERE id = {alice}"),
    )
    .await;
    assert_eq!(db.int("SELECT COUNT(*) FROM api_keys").await, 0);

    // The rows carry naive UTC now, readable like the application's own.
    let row = db
        .raw
        .query_one_raw(stmt(
            db.backend(),
            "SELECT created_at FROM auth_changes ORDER BY id DESC",
        ))
        .await
        .unwrap()
        .unwrap();
    let at: NaiveDateTime = row.try_get_by_index(0).unwrap();
    let skew = (at - nanoclaw_core::time::now_utc()).abs();
    assert!(
        skew < TimeDelta::minutes(2),
        "created_at {at} is not UTC now"
    );

    // The feed's reader sees them in order.
    let feed = db.store.auth_changes_after(0).await.unwrap();
    assert_eq!(feed.len() as i64, db.all_changes().await);
    assert_eq!(feed.last().map(|c| c.1), Some(alice));
    db.finish().await;
}

#[tokio::test]
async fn migrating_again_is_harmless() {
    let db = TestDb::migrated().await;
    db.store.migrate().await.unwrap();
    // The triggers' migration itself, run again over its own result (as for an adopted or
    // half migrated database): triggers are replaced, not doubled.
    let migrations = nanoclaw_store::migration::Migrator::migrations();
    let at = migrations
        .iter()
        .position(|m| m.name() == "m20261203_000005_auth_triggers")
        .unwrap();
    migrations[at]
        .up(&SchemaManager::new(&db.raw))
        .await
        .unwrap();
    let carol = db.add_user("carol").await;
    expect_changes(
        &db,
        carol,
        1,
        &format!("UPDATE users SET is_active = FALSE WHERE id = {carol}"),
    )
    .await;
    assert!(db.store.is_migrated().await.unwrap());

    // Down (to before the triggers' migration) removes the triggers; up brings them back.
    let steps = u32::try_from(migrations.len() - at).unwrap();
    nanoclaw_store::migration::Migrator::down(&db.raw, Some(steps))
        .await
        .unwrap();
    expect_changes(
        &db,
        carol,
        0,
        &format!("UPDATE users SET is_active = TRUE WHERE id = {carol}"),
    )
    .await;
    db.store.migrate().await.unwrap();
    expect_changes(
        &db,
        carol,
        1,
        &format!("UPDATE users SET is_active = FALSE WHERE id = {carol}"),
    )
    .await;
    db.finish().await;
}

#[tokio::test]
async fn meta_set_get_overwrite() {
    let db = TestDb::migrated().await;
    assert_eq!(db.store.meta("k").await.unwrap(), None);
    db.store.set_meta("k", "one").await.unwrap();
    assert_eq!(db.store.meta("k").await.unwrap().as_deref(), Some("one"));
    db.store.set_meta("k", "two").await.unwrap();
    db.store.set_meta("other", "x").await.unwrap();
    assert_eq!(db.store.meta("k").await.unwrap().as_deref(), Some("two"));
    assert_eq!(db.store.meta("other").await.unwrap().as_deref(), Some("x"));
    // A fresh database holds no nanoClaw accounts.
    assert_eq!(db.store.meta(LEGACY_IMPORT_AT).await.unwrap(), None);
    db.finish().await;
}

#[tokio::test]
async fn adopting_a_nanoclaw_database_records_its_accounts() {
    let db = TestDb::empty().await;
    // The users table as nanoClaw's SQLAlchemy made it, with two accounts.
    let id = match db.backend() {
        DbBackend::Postgres => "SERIAL PRIMARY KEY",
        DbBackend::MySql => "INTEGER AUTO_INCREMENT PRIMARY KEY",
        _ => "INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    let datetime = match db.backend() {
        DbBackend::Postgres => "TIMESTAMP",
        DbBackend::MySql => "DATETIME(6)",
        _ => "DATETIME",
    };
    db.exec(&format!(
        "CREATE TABLE users (id {id}, username VARCHAR(50) NOT NULL UNIQUE, \
         password_hash VARCHAR(255), email VARCHAR(120) UNIQUE, avatar VARCHAR(512), \
         role VARCHAR(20) NOT NULL, is_active BOOLEAN NOT NULL, created_at {datetime}, \
         last_login_at {datetime})"
    ))
    .await;
    db.exec(
        "INSERT INTO users (username, password_hash, role, is_active, created_at) VALUES \
         ('old1', 'pbkdf2:sha256:1$s$h', 'admin', TRUE, '2025-06-01 10:00:00.123456'), \
         ('old2', 'pbkdf2:sha256:1$s$h', 'user', TRUE, '2025-06-02 10:00:00')",
    )
    .await;
    let before = nanoclaw_core::time::now_utc() - TimeDelta::seconds(2);
    db.store.migrate().await.unwrap();
    assert_eq!(
        db.store
            .meta(LEGACY_IMPORT_MAX_USER_ID)
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    let at = db.store.meta(LEGACY_IMPORT_AT).await.unwrap().unwrap();
    let at = NaiveDateTime::parse_from_str(&at, "%Y-%m-%dT%H:%M:%S").unwrap();
    assert!(at >= before - TimeDelta::seconds(1), "{at}");
    // Accounts made afterwards are not nanoClaw's, and migrating again changes nothing.
    db.add_user("newcomer").await;
    db.store.migrate().await.unwrap();
    let migrations = nanoclaw_store::migration::Migrator::migrations();
    migrations
        .last()
        .unwrap()
        .up(&SchemaManager::new(&db.raw))
        .await
        .unwrap();
    assert_eq!(
        db.store
            .meta(LEGACY_IMPORT_MAX_USER_ID)
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    db.finish().await;
}

#[tokio::test]
async fn a_database_made_by_nanoclaw_records_no_legacy_accounts() {
    let db = TestDb::migrated().await;
    db.add_user("native").await;
    let migrations = nanoclaw_store::migration::Migrator::migrations();
    migrations
        .last()
        .unwrap()
        .up(&SchemaManager::new(&db.raw))
        .await
        .unwrap();
    assert_eq!(db.store.meta(LEGACY_IMPORT_AT).await.unwrap(), None);
    assert_eq!(
        db.store.meta(LEGACY_IMPORT_MAX_USER_ID).await.unwrap(),
        None
    );
    db.finish().await;
}

/// A Werkzeug PBKDF2 hash as nanoClaw stores them (not of any real password).
fn werkzeug_hash(id: i64) -> String {
    format!("pbkdf2:sha256:600000$salt{id}${}", "ab".repeat(32))
}

/// A nanoClaw-schema SQLite file in `dir` holding users with the given ids.
async fn source_with_users(dir: &std::path::Path, name: &str, ids: &[i64]) -> Store {
    let path = dir.join(name);
    let store = Store::connect(&DatabaseTarget::SqliteFile(path.clone()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let raw = Database::connect(format!("sqlite://{}", path.display()).as_str())
        .await
        .unwrap();
    for id in ids {
        raw.execute_unprepared(&format!(
            "INSERT INTO users (id, username, password_hash, role, is_active, created_at) \
             VALUES ({id}, 'user{id}', '{hash}', 'user', TRUE, '2025-06-01 10:00:00')",
            hash = werkzeug_hash(*id),
        ))
        .await
        .unwrap();
    }
    raw.close().await.unwrap();
    Store::open_source(&path.display().to_string())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_import_records_itself() {
    let db = TestDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let first = source_with_users(dir.path(), "a.db", &[1, 5]).await;
    let before = nanoclaw_core::time::now_utc() - TimeDelta::seconds(1);
    db.store.import_from(&first, false, |_| {}).await.unwrap();
    let max = db.store.meta(LEGACY_IMPORT_MAX_USER_ID).await.unwrap();
    assert_eq!(max.as_deref(), Some("5"));
    let at = db.store.meta(LEGACY_IMPORT_AT).await.unwrap().unwrap();
    let at = NaiveDateTime::parse_from_str(&at, "%Y-%m-%dT%H:%M:%S").unwrap();
    assert!(at >= before - TimeDelta::seconds(1) && at <= nanoclaw_core::time::now_utc());
    // Importing has changed nobody's access.
    assert_eq!(db.all_changes().await, 0);
    // The Werkzeug hashes arrive wrapped in argon2id.
    for id in [1, 5] {
        let row = db
            .raw
            .query_one_raw(stmt(
                db.backend(),
                &format!("SELECT password_hash FROM users WHERE id = {id}"),
            ))
            .await
            .unwrap()
            .unwrap();
        let stored: String = row.try_get_by_index(0).unwrap();
        assert_ne!(stored, werkzeug_hash(id));
        assert!(
            stored.contains(&format!("$salt{id}$$argon2id$")),
            "{stored}"
        );
    }

    // A later merge keeps the earliest time and the highest id.
    db.store
        .set_meta(LEGACY_IMPORT_AT, "2026-01-01T00:00:00")
        .await
        .unwrap();
    let second = source_with_users(dir.path(), "b.db", &[3]).await;
    db.store.import_from(&second, true, |_| {}).await.unwrap();
    assert_eq!(
        db.store
            .meta(LEGACY_IMPORT_MAX_USER_ID)
            .await
            .unwrap()
            .as_deref(),
        Some("5")
    );
    assert_eq!(
        db.store.meta(LEGACY_IMPORT_AT).await.unwrap().as_deref(),
        Some("2026-01-01T00:00:00")
    );
    let third = source_with_users(dir.path(), "c.db", &[9]).await;
    db.store.import_from(&third, true, |_| {}).await.unwrap();
    assert_eq!(
        db.store
            .meta(LEGACY_IMPORT_MAX_USER_ID)
            .await
            .unwrap()
            .as_deref(),
        Some("9")
    );
    // Nothing new: nothing recorded.
    db.store
        .set_meta(LEGACY_IMPORT_MAX_USER_ID, "9")
        .await
        .unwrap();
    db.store.import_from(&third, true, |_| {}).await.unwrap();
    assert_eq!(
        db.store.meta(LEGACY_IMPORT_AT).await.unwrap().as_deref(),
        Some("2026-01-01T00:00:00")
    );
    for s in [first, second, third] {
        s.close().await;
    }
    db.finish().await;
}
