//! Schema migrations: append-only, one file each, run on SQLite, PostgreSQL and MySQL/MariaDB.

use sea_orm_migration::prelude::*;

mod lock;
mod m20261127_000001_nanoclaw_schema;
mod m20261127_000002_user_token_version;
mod m20261127_000003_accounts;
mod m20261127_000004_auth_changes;
mod m20261203_000005_auth_triggers;
mod m20261203_000006_chat;

/// All migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_nanoclaw_schema::Migration),
            Box::new(m20261127_000002_user_token_version::Migration),
            Box::new(m20261127_000003_accounts::Migration),
            Box::new(m20261127_000004_auth_changes::Migration),
            Box::new(m20261203_000005_auth_triggers::Migration),
            Box::new(m20261203_000006_chat::Migration),
        ]
    }
}

/// Applies every pending migration under the database-wide migration lock.
pub(crate) async fn run(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    lock::with_lock(db, || Migrator::up(db, None)).await
}

/// A `DATETIME` column: naive UTC like nanoClaw's, with microseconds on MySQL (whose plain
/// `DATETIME` would drop them).
pub(crate) fn datetime_col(manager: &SchemaManager<'_>, name: impl IntoIden) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    if manager.get_database_backend() == sea_orm::DbBackend::MySql {
        col.custom(Alias::new("DATETIME(6)"));
    } else {
        col.date_time();
    }
    col
}

/// Creates a (non-unique) index unless one of that name exists, which is the case when an
/// existing nanoClaw database is adopted in place. (MySQL has no `CREATE INDEX IF NOT EXISTS`.)
pub(crate) async fn ensure_index(
    manager: &SchemaManager<'_>,
    table: &str,
    name: &str,
    columns: &[&str],
) -> Result<(), DbErr> {
    if manager.has_index(table, name).await? {
        return Ok(());
    }
    let mut index = Index::create();
    index.name(name).table(Alias::new(table));
    for c in columns {
        index.col(Alias::new(*c));
    }
    manager.create_index(index).await
}
