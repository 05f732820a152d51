//! What the store's database tests share: a fresh database per test — SQLite by default,
//! PostgreSQL or MySQL/MariaDB when `NANOCLAW_TEST_DATABASE_URL` names a server (a throw-away
//! database is created for the test and dropped by [`TestDb::finish`]) — with a [`Store`] and
//! a plain connection acting as an operator.

#![allow(dead_code)] // each test binary uses its own part

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use nanoclaw_core::Secret;
use nanoclaw_core::config::DatabaseTarget;
use nanoclaw_core::user::AuthSource;
use nanoclaw_store::{NewUser, Store};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend};

const TEST_DATABASE_ENV: &str = "NANOCLAW_TEST_DATABASE_URL";

/// A fresh database for one test.
pub struct TestDb {
    pub store: Store,
    pub raw: DatabaseConnection,
    /// `(server URL, database name)` to drop at the end; `None` for SQLite.
    server: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    /// An empty database (no migrations run).
    pub async fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = std::env::var(TEST_DATABASE_ENV)
            .ok()
            .filter(|u| !u.is_empty());
        let (target, raw_url, server) = match server {
            Some(server) => {
                let name = format!("nc_store_{:016x}", rand::random::<u64>());
                nanoclaw_store::admin::ensure_database(&server, &name)
                    .await
                    .unwrap();
                let url = nanoclaw_store::admin::with_database_name(&server, &name);
                (
                    DatabaseTarget::Url(Secret::new(url.clone())),
                    url,
                    Some((server, name)),
                )
            }
            None => {
                let path = dir.path().join("nanoclaw.db");
                // sqlx turns SQLite's foreign keys (and so the cascades) on by default.
                let url = format!("sqlite://{}", path.display());
                (DatabaseTarget::SqliteFile(path), url, None)
            }
        };
        let store = Store::connect(&target).await.unwrap();
        let raw = Database::connect(raw_url.as_str()).await.unwrap();
        TestDb {
            store,
            raw,
            server,
            _dir: dir,
        }
    }

    /// A database with every migration applied.
    pub async fn migrated() -> Self {
        let db = Self::empty().await;
        db.store.migrate().await.unwrap();
        db
    }

    pub fn backend(&self) -> DbBackend {
        self.raw.get_database_backend()
    }

    /// Runs `sql` as the operator would.
    pub async fn exec(&self, sql: &str) {
        self.raw
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of the first row of `sql` as an integer.
    pub async fn int(&self, sql: &str) -> i64 {
        let row = self.raw.query_one_raw(stmt(self.backend(), sql)).await;
        let row = row.unwrap_or_else(|e| panic!("{sql}: {e}")).unwrap();
        row.try_get_by_index::<i64>(0)
            .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
            .unwrap()
    }

    /// A local user created through the store at [`t`]`(0)`; returns its id.
    pub async fn user(&self, name: &str) -> i64 {
        self.store
            .create_user(
                NewUser {
                    username: name.into(),
                    password_hash: None,
                    email: None,
                    role: "user".into(),
                    auth_source: AuthSource::Local,
                },
                t(0),
            )
            .await
            .unwrap()
            .id
    }

    /// Closes the connections and drops a server database.
    pub async fn finish(self) {
        self.store.close().await;
        self.raw.close().await.unwrap();
        if let Some((server, name)) = self.server {
            let admin = Database::connect(server.as_str()).await.unwrap();
            let sql = match admin.get_database_backend() {
                DbBackend::MySql => format!("DROP DATABASE IF EXISTS `{name}`"),
                _ => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            };
            admin.execute_unprepared(&sql).await.unwrap();
            admin.close().await.unwrap();
        }
    }
}

/// A raw statement for `backend`.
pub fn stmt(backend: DbBackend, sql: &str) -> sea_orm::Statement {
    sea_orm::Statement::from_string(backend, sql.to_owned())
}

/// 2026-12-01 10:00:00 plus `secs` seconds.
pub fn t(secs: i64) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, 1)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        + TimeDelta::seconds(secs)
}
