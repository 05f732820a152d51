//! A database-wide lock around migrations, so that several server processes starting at once
//! (or `nanoclaw migrate` next to a running server) apply each migration exactly once: one
//! holds the lock and migrates, the others wait, then find nothing pending.
//!
//! It is a row in a small table of its own, which works the same on SQLite, PostgreSQL and
//! MySQL. A holder that died is taken over once its row is older than [`STALE_AFTER`].

use std::future::Future;
use std::time::Duration;

use sea_orm::sea_query::{Alias, ColumnDef, Expr, ExprTrait, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::error::{is_already_exists, is_unique_violation};

const TABLE: &str = "nanoclaw_migration_lock";
const LOCK_ID: i32 = 1;
/// How long to wait for another process's migration before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(100);
/// A lock row this old belongs to a process that died mid-migration.
const STALE_AFTER_SECS: i64 = 600;

/// Runs `work` while holding the migration lock.
pub async fn with_lock<T, F, Fut>(db: &DatabaseConnection, work: F) -> Result<T, DbErr>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    ensure_table(db).await?;
    let holder = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    loop {
        let now = chrono::Utc::now().timestamp();
        let insert = Query::insert()
            .into_table(Alias::new(TABLE))
            .columns([
                Alias::new("id"),
                Alias::new("holder"),
                Alias::new("acquired_at"),
            ])
            .values_panic([LOCK_ID.into(), holder.clone().into(), now.into()])
            .to_owned();
        match db.execute(&insert).await {
            Ok(_) => break,
            Err(e) if is_unique_violation(&e) => {
                let stale = Query::delete()
                    .from_table(Alias::new(TABLE))
                    .and_where(Expr::col(Alias::new("id")).eq(LOCK_ID))
                    .and_where(Expr::col(Alias::new("acquired_at")).lt(now - STALE_AFTER_SECS))
                    .to_owned();
                if db.execute(&stale).await?.rows_affected() > 0 {
                    tracing::warn!("took over a stale migration lock");
                    continue;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(DbErr::Custom(format!(
                        "another process has held the migration lock for over {} s",
                        WAIT_LIMIT.as_secs()
                    )));
                }
                tokio::time::sleep(POLL).await;
            }
            Err(e) => return Err(e),
        }
    }
    let result = work().await;
    let release = Query::delete()
        .from_table(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("id")).eq(LOCK_ID))
        .and_where(Expr::col(Alias::new("holder")).eq(holder))
        .to_owned();
    db.execute(&release).await?;
    result
}

async fn ensure_table(db: &DatabaseConnection) -> Result<(), DbErr> {
    let create = Table::create()
        .table(Alias::new(TABLE))
        .if_not_exists()
        .col(
            ColumnDef::new(Alias::new("id"))
                .integer()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(Alias::new("holder"))
                .string_len(64)
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("acquired_at"))
                .big_integer()
                .not_null(),
        )
        .to_owned();
    match db.execute(&create).await {
        Ok(_) => Ok(()),
        // PostgreSQL's IF NOT EXISTS itself races (catalog unique index, or "type ... already
        // exists" from the table's row type); either way the other process created the table.
        Err(e) if is_already_exists(&e) => Ok(()),
        Err(e) => Err(e),
    }
}
