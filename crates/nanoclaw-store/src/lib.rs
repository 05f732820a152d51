//! nanoclaw's storage: the only crate that knows the ORM. Repositories return `nanoclaw-core`
//! types.

pub mod admin;
mod entity;
mod error;
pub mod import;
pub mod migration;
mod repo;

use std::path::PathBuf;
use std::time::Duration;

use nanoclaw_core::config::DatabaseTarget;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;

pub use error::{StoreError, UniqueField};
pub use repo::api_keys::NewApiKey;
pub use repo::audit::AuditFilter;
pub use repo::chat_writes::{ChatWrite, ChatWritten, FinishedAnswer};
pub use repo::messages::MessagesPage;
pub use repo::meta::{LEGACY_IMPORT_AT, LEGACY_IMPORT_MAX_USER_ID};
pub use repo::sessions::{Extension, NewSession};
pub use repo::token_usage::UsageEntry;
pub use repo::users::{AdminUpdate, NewUser, ProfileUpdate};

/// Connection pool occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections waiting for work.
    pub idle: u32,
    /// Open connections checked out.
    pub in_use: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// Size the SQLite write-ahead log is cut back to after a checkpoint (bytes). Without it a
/// burst of writes leaves the file at its largest size for good.
const SQLITE_JOURNAL_SIZE_LIMIT: &str = "67108864";

/// How long a PostgreSQL or MySQL connection may have idled in the pool before it is pinged
/// on checkout.
const SERVER_PING_AFTER_IDLE: Duration = Duration::from_millis(500);

/// Rows a SQLite connection thread may hand over before the reading task takes them. sqlx's
/// default (50) is one short of a 50-message page and its look-ahead row, so the thread
/// went to sleep on the last row of the most common page.
const SQLITE_ROW_BUFFER: usize = 128;

/// How long a request waits for a pooled connection before it is answered 503 (the server is
/// down or overwhelmed).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// The same for SQLite, whose writers queue behind one lock: a burst of chat sends (thousands
/// at once) must wait its turn rather than fail; SQLite cannot be "down".
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a SQLite writer waits for the lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Called with a user id after every committed change to that user's access.
pub type AuthChangeListener = std::sync::Arc<dyn Fn(i64) + Send + Sync>;

/// A handle to the database (cheap to clone: it is a connection pool).
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    listener: Option<AuthChangeListener>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `target`. A SQLite file (and its directory) is created if missing and opened
    /// in WAL mode with a busy timeout and foreign keys on.
    pub async fn connect(target: &DatabaseTarget) -> Result<Self, StoreError> {
        Self::open(target, false).await
    }

    /// Opens an existing database to read from (the source of `nanoclaw import`): a SQLite file
    /// must exist and is opened read-only, its journal mode untouched. Accepts a file path,
    /// `sqlite:` URLs, `postgres(ql)://` and `mysql://` URLs, and SQLAlchemy's `mysql+pymysql://`.
    pub async fn open_source(spec: &str) -> Result<Self, StoreError> {
        let target = if let Some(rest) = spec.strip_prefix("mysql+pymysql://") {
            DatabaseTarget::Url(nanoclaw_core::Secret::new(format!("mysql://{rest}")))
        } else if let Some(rest) = spec.strip_prefix("postgresql+psycopg2://") {
            DatabaseTarget::Url(nanoclaw_core::Secret::new(format!("postgres://{rest}")))
        } else if spec.contains("://") && !spec.starts_with("sqlite:") {
            DatabaseTarget::Url(nanoclaw_core::Secret::new(spec))
        } else {
            // SQLAlchemy writes sqlite:////abs/path and sqlite:///rel/path.
            let path = spec
                .strip_prefix("sqlite:///")
                .or_else(|| spec.strip_prefix("sqlite://"))
                .or_else(|| spec.strip_prefix("sqlite:"))
                .unwrap_or(spec);
            let path = PathBuf::from(path.split('?').next().unwrap_or(path));
            if !path.is_file() {
                return Err(StoreError::Unavailable(format!(
                    "{} is not a file",
                    path.display()
                )));
            }
            DatabaseTarget::SqliteFile(path)
        };
        Self::open(&target, true).await
    }

    async fn open(target: &DatabaseTarget, read_only: bool) -> Result<Self, StoreError> {
        let (url, sqlite_file) = match target {
            DatabaseTarget::SqliteFile(path) => {
                if let Some(dir) = path.parent().filter(|_| !read_only) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                // The URL only selects the driver; the path is set on the options so that no
                // character in it is mistaken for URL syntax.
                ("sqlite://nanoclaw.db".to_owned(), Some(path.clone()))
            }
            DatabaseTarget::Url(url) => {
                let u = url.expose();
                let u = match u.strip_prefix("postgresql://") {
                    Some(rest) => format!("postgres://{rest}"),
                    None => u.to_owned(),
                };
                (u, None)
            }
        };
        let is_sqlite = url.starts_with("sqlite:");
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(if is_sqlite { 8 } else { 16 })
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(if is_sqlite {
                SQLITE_ACQUIRE_TIMEOUT
            } else {
                ACQUIRE_TIMEOUT
            })
            .sqlx_logging(false);
        // sqlx pings every connection as it goes back to the pool, and by default again as it
        // is taken out: one extra round trip per query. A SQLite connection lives in this
        // process and nobody can close it under us; a server connection is pinged on the way
        // out only after half a second of idleness, when a restart or a firewall may have
        // dropped it (the window HikariCP uses).
        if is_sqlite {
            options.test_before_acquire(false);
        } else {
            options.test_before_acquire_if_idle_for(SERVER_PING_AFTER_IDLE);
        }
        if is_sqlite {
            options.map_sqlx_sqlite_opts(move |opts| {
                let opts = match &sqlite_file {
                    Some(path) => opts.filename(path),
                    None => opts,
                };
                if read_only {
                    opts.read_only(true).busy_timeout(SQLITE_BUSY_TIMEOUT)
                } else {
                    sqlite_options(opts)
                }
            });
        }
        // Several processes opening a new SQLite file at once race to switch it to WAL, and
        // that switch ignores the busy timeout: retry briefly instead of failing start-up.
        let deadline = std::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
        loop {
            match Database::connect(options.clone()).await {
                Ok(db) => return Ok(Self { db, listener: None }),
                Err(e)
                    if is_sqlite
                        && e.to_string().contains("database is locked")
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(StoreError::Unavailable(e.to_string())),
            }
        }
    }

    /// This store, telling `listener` about every change it makes to someone's access (after
    /// the change is committed), so that an in-process cache can drop what it holds.
    pub fn with_auth_listener(mut self, listener: AuthChangeListener) -> Self {
        self.listener = Some(listener);
        self
    }

    pub(crate) fn changed(&self, user_id: i64) {
        if let Some(l) = &self.listener {
            l(user_id);
        }
    }

    /// Applies pending migrations, holding the database-wide migration lock meanwhile.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::run(&self.db).await.map_err(StoreError::from)
    }

    /// True when every known migration has been applied. Read-only (never creates the
    /// migration table), so readiness probes can call it often.
    pub async fn is_migrated(&self) -> Result<bool, StoreError> {
        Ok(
            migration::Migrator::get_pending_migrations_read_only(&self.db)
                .await?
                .is_empty(),
        )
    }

    /// Connections of the pool right now (reads two counters; no database call).
    pub fn pool_stats(&self) -> Option<PoolStats> {
        use sea_orm::DatabaseConnectionType as Conn;
        // Matching first keeps the getters, which panic on the wrong backend, unreachable.
        let (size, idle, max) = match &self.db.inner {
            Conn::SqlxSqlitePoolConnection(_) => {
                let p = self.db.get_sqlite_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            Conn::SqlxPostgresPoolConnection(_) => {
                let p = self.db.get_postgres_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            Conn::SqlxMySqlPoolConnection(_) => {
                let p = self.db.get_mysql_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            _ => return None,
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
        Some(PoolStats {
            idle,
            in_use: size - idle,
            max,
        })
    }

    /// `sqlite`, `postgresql` or `mysql`.
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgresql",
            _ => "mysql",
        }
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}

fn sqlite_options(opts: SqliteConnectOptions) -> SqliteConnectOptions {
    opts.create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        .pragma("journal_size_limit", SQLITE_JOURNAL_SIZE_LIMIT)
        .row_buffer_size(SQLITE_ROW_BUFFER)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    #[tokio::test]
    async fn sqlite_bounds_its_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let target = DatabaseTarget::SqliteFile(dir.path().join("t.db"));
        let store = Store::connect(&target).await.unwrap();
        let row = store
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA journal_size_limit",
            ))
            .await
            .unwrap()
            .unwrap();
        let limit: i64 = row.try_get_by_index(0).unwrap();
        assert_eq!(limit.to_string(), SQLITE_JOURNAL_SIZE_LIMIT);
    }
}
