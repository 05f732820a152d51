//! Storage errors.

use sea_orm::{DbErr, SqlErr};

/// Which unique value a write collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    /// `users.username`.
    Username,
    /// `users.email`.
    Email,
    /// `projects (user_id, name)`: the owner already has a project of that name.
    ProjectName,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value is already taken (possibly by a concurrent writer).
    #[error("{0:?} already taken")]
    Conflict(UniqueField),
    /// The change would leave no active admin.
    #[error("the last active admin cannot be removed")]
    LastAdmin,
    /// The database cannot be reached (connect or pool timeout).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        if is_connection_loss(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Db(e)
        }
    }
}

/// True when the database could not be reached (as opposed to a query it refused): the
/// caller gets a 503 and may retry; the pool reconnects by itself once the server is back.
fn is_connection_loss(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            matches!(
                inner.as_ref(),
                Sqlx::Io(_)
                    | Sqlx::Tls(_)
                    | Sqlx::PoolTimedOut
                    | Sqlx::PoolClosed
                    | Sqlx::WorkerCrashed
                    | Sqlx::Protocol(_)
            ) || is_server_shutdown(inner.as_ref())
        }
        _ => false,
    }
}

/// PostgreSQL answers queries on a connection it is closing with "admin shutdown" (57P01) and
/// friends (class 57: operator intervention; 08: connection exception).
fn is_server_shutdown(e: &sea_orm::sqlx::Error) -> bool {
    match e {
        sea_orm::sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

/// True when `e` says the object being created already exists: a unique violation, or
/// PostgreSQL's duplicate table (42P07) and duplicate object (42710, e.g. "type ... already
/// exists"), which two concurrent `CREATE TABLE IF NOT EXISTS` can raise.
pub(crate) fn is_already_exists(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    if is_unique_violation(e) {
        return true;
    }
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            match inner.as_ref() {
                Sqlx::Database(db) => db.code().is_some_and(|c| c == "42P07" || c == "42710"),
                _ => false,
            }
        }
        _ => false,
    }
}

/// True when `e` is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
