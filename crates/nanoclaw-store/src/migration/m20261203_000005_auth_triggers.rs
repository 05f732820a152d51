//! Triggers that feed `auth_changes` from the database itself, so that a change to someone's
//! access is seen by every server process whoever makes it (this server, another one, the CLI,
//! or an operator's `UPDATE users SET is_active = false`), committed with the change.
//! Also: `users.auth_source` (how an account was created), the `nanoclaw_meta` key/value
//! table, and an index on `audit_log.created_at` for retention pruning.
//!
//! Every step is idempotent (functions replaced, triggers dropped and created again, columns,
//! tables and indexes created only when missing): databases adopted from nanoClaw, or half
//! migrated by an interrupted run on MySQL (whose DDL is not transactional), come through.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

use super::ensure_index;
use crate::repo::meta;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One table whose rows grant access.
struct Watched {
    table: &'static str,
    /// The column naming the user whose access the row grants.
    user_col: &'static str,
    /// An UPDATE changing one of these changes access (or, for `email`, `avatar` and
    /// `auth_source`, what the cached user row shows). The hot-path writes (`last_login_at`,
    /// `last_seen_at`, `last_used_at`) are not among them, so they never add to the feed.
    columns: &'static [&'static str],
    /// A DELETE of a row matching this (with `OLD.`) changes access. A session that was
    /// already revoked grants nothing (its revocation was recorded); a session or key deleted
    /// by the cascade of its user's deletion is covered by the user's own row (PostgreSQL and
    /// SQLite fire child triggers on a cascade; MySQL does not).
    delete_when: &'static str,
}

const USER_EXISTS: &str = "EXISTS (SELECT 1 FROM users WHERE users.id = OLD.user_id)";

const WATCHED: [Watched; 3] = [
    Watched {
        table: "users",
        user_col: "id",
        columns: &[
            "password_hash",
            "role",
            "is_active",
            "token_version",
            "username",
            "id",
            "email",
            "avatar",
            "auth_source",
        ],
        delete_when: "TRUE",
    },
    Watched {
        table: "sessions",
        user_col: "user_id",
        columns: &["revoked_at", "expires_at", "user_id"],
        delete_when: "OLD.revoked_at IS NULL AND EXISTS (SELECT 1 FROM users WHERE users.id = OLD.user_id)",
    },
    Watched {
        table: "api_keys",
        user_col: "user_id",
        columns: &["expires_at", "key_hash", "user_id"],
        delete_when: USER_EXISTS,
    },
];

fn update_trigger(w: &Watched) -> String {
    format!("nanoclaw_{}_auth_update", w.table)
}

fn delete_trigger(w: &Watched) -> String {
    format!("nanoclaw_{}_auth_delete", w.table)
}

fn pg_function(w: &Watched) -> String {
    format!("nanoclaw_{}_auth_change", w.table)
}

/// `cond` for each watched column, joined by `OR`.
fn any_changed(w: &Watched, changed: impl Fn(&str) -> String) -> String {
    w.columns
        .iter()
        .map(|c| changed(c))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The statements creating `w`'s triggers (after dropping any of the same name).
fn create_statements(backend: DbBackend, w: &Watched) -> Vec<String> {
    let (t, u) = (w.table, w.user_col);
    let (upd, del) = (update_trigger(w), delete_trigger(w));
    match backend {
        DbBackend::Postgres => {
            let f = pg_function(w);
            let now = "(now() AT TIME ZONE 'utc')";
            vec![
                // One function for both events; the UPDATE trigger's WHEN keeps hot-path
                // updates from even calling it. The search path is fixed to the migration's,
                // so that `auth_changes` is ours whatever the path of the session firing it.
                format!(
                    "CREATE OR REPLACE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql \
                     SET search_path FROM CURRENT AS $nanoclaw$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF {cond} THEN
            INSERT INTO auth_changes (user_id, created_at) VALUES (OLD.{u}, {now});
        END IF;
    ELSE
        INSERT INTO auth_changes (user_id, created_at) VALUES (OLD.{u}, {now});
        IF NEW.{u} IS DISTINCT FROM OLD.{u} THEN
            INSERT INTO auth_changes (user_id, created_at) VALUES (NEW.{u}, {now});
        END IF;
    END IF;
    RETURN NULL;
END
$nanoclaw$",
                    cond = w.delete_when,
                ),
                format!("DROP TRIGGER IF EXISTS {upd} ON {t}"),
                format!(
                    "CREATE TRIGGER {upd} AFTER UPDATE OF {cols} ON {t} FOR EACH ROW \
                     WHEN ({when}) EXECUTE PROCEDURE {f}()",
                    cols = w.columns.join(", "),
                    when = any_changed(w, |c| format!("OLD.{c} IS DISTINCT FROM NEW.{c}")),
                ),
                format!("DROP TRIGGER IF EXISTS {del} ON {t}"),
                format!(
                    "CREATE TRIGGER {del} AFTER DELETE ON {t} FOR EACH ROW EXECUTE PROCEDURE {f}()"
                ),
            ]
        }
        DbBackend::MySql => {
            let now = "UTC_TIMESTAMP(6)";
            vec![
                format!("DROP TRIGGER IF EXISTS {upd}"),
                format!(
                    "CREATE TRIGGER {upd} AFTER UPDATE ON {t} FOR EACH ROW
BEGIN
    IF {when} THEN
        INSERT INTO auth_changes (user_id, created_at) VALUES (OLD.{u}, {now});
        IF NOT (NEW.{u} <=> OLD.{u}) THEN
            INSERT INTO auth_changes (user_id, created_at) VALUES (NEW.{u}, {now});
        END IF;
    END IF;
END",
                    when = any_changed(w, |c| format!("NOT (OLD.{c} <=> NEW.{c})")),
                ),
                format!("DROP TRIGGER IF EXISTS {del}"),
                format!(
                    "CREATE TRIGGER {del} AFTER DELETE ON {t} FOR EACH ROW
BEGIN
    IF {cond} THEN
        INSERT INTO auth_changes (user_id, created_at) VALUES (OLD.{u}, {now});
    END IF;
END",
                    cond = w.delete_when,
                ),
            ]
        }
        _ => {
            // The text form sqlx gives a NaiveDateTime on SQLite (`%F %T%.f`), to the
            // millisecond: it sorts and parses like the rows the application writes.
            let now = "strftime('%Y-%m-%d %H:%M:%f', 'now')";
            vec![
                format!("DROP TRIGGER IF EXISTS {upd}"),
                format!(
                    "CREATE TRIGGER {upd} AFTER UPDATE OF {cols} ON {t} FOR EACH ROW WHEN {when}
BEGIN
    INSERT INTO auth_changes (user_id, created_at) VALUES (OLD.{u}, {now});
    INSERT INTO auth_changes (user_id, created_at) SELECT NEW.{u}, {now} WHERE NEW.{u} IS NOT OLD.{u};
END",
                    cols = w.columns.join(", "),
                    when = any_changed(w, |c| format!("OLD.{c} IS NOT NEW.{c}")),
                ),
                format!("DROP TRIGGER IF EXISTS {del}"),
                format!(
                    "CREATE TRIGGER {del} AFTER DELETE ON {t} FOR EACH ROW WHEN {cond}
BEGIN
    INSERT INTO auth_changes (user_id, created_at) VALUES (OLD.{u}, {now});
END",
                    cond = w.delete_when,
                ),
            ]
        }
    }
}

fn drop_statements(backend: DbBackend, w: &Watched) -> Vec<String> {
    let (t, upd, del) = (w.table, update_trigger(w), delete_trigger(w));
    match backend {
        DbBackend::Postgres => vec![
            format!("DROP TRIGGER IF EXISTS {upd} ON {t}"),
            format!("DROP TRIGGER IF EXISTS {del} ON {t}"),
            format!("DROP FUNCTION IF EXISTS {}()", pg_function(w)),
        ],
        _ => vec![
            format!("DROP TRIGGER IF EXISTS {upd}"),
            format!("DROP TRIGGER IF EXISTS {del}"),
        ],
    }
}

/// Explains the one failure an operator can fix: MySQL with binary logging refuses triggers
/// from a user without SUPER unless `log_bin_trust_function_creators` is on.
fn explain(e: DbErr) -> DbErr {
    let text = e.to_string();
    if text.contains("1419") || text.contains("log_bin_trust_function_creators") {
        DbErr::Migration(format!(
            "cannot create the auth_changes triggers: {text}. Grant the database user the \
             TRIGGER and SUPER privileges, or set log_bin_trust_function_creators = 1 on the server"
        ))
    } else {
        e
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    AuthSource,
}

#[derive(DeriveIden)]
enum NanoclawMeta {
    Table,
    Name,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();

        if !manager.has_column("users", "auth_source").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(ColumnDef::new(Users::AuthSource).string_len(16).null())
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(NanoclawMeta::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(NanoclawMeta::Name)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(NanoclawMeta::Value).text().not_null())
                    .to_owned(),
            )
            .await?;

        ensure_index(
            manager,
            "audit_log",
            "ix_audit_log_created_at",
            &["created_at"],
        )
        .await?;

        for w in &WATCHED {
            for sql in create_statements(backend, w) {
                db.execute_unprepared(&sql).await.map_err(explain)?;
            }
        }

        record_adopted_accounts(db).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for w in &WATCHED {
            for sql in drop_statements(backend, w) {
                db.execute_unprepared(&sql).await?;
            }
        }
        manager
            .drop_table(
                Table::drop()
                    .table(NanoclawMeta::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        if manager
            .has_index("audit_log", "ix_audit_log_created_at")
            .await?
        {
            manager
                .drop_index(
                    Index::drop()
                        .name("ix_audit_log_created_at")
                        .table(Alias::new("audit_log"))
                        .to_owned(),
                )
                .await?;
        }
        if manager.has_column("users", "auth_source").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(Users::AuthSource)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// A nanoClaw database adopted in place (or imported before the import recorded itself) has
/// accounts older than nanoclaw's first migration: record them as imported then, unless an
/// import is already recorded. Accounts created by nanoclaw are all younger than that.
async fn record_adopted_accounts<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if meta::get(db, meta::LEGACY_IMPORT_AT).await?.is_some() {
        return Ok(());
    }
    let first = db
        .query_one(
            Query::select()
                .column(Alias::new("applied_at"))
                .from(Alias::new("seaql_migrations"))
                .and_where(Expr::col(Alias::new("version")).eq("m20261127_000001_nanoclaw_schema")),
        )
        .await?;
    // Not recorded yet: the schema migration runs in this same pass, so now is when
    // nanoclaw took the database over.
    let adopted_at = match first {
        Some(row) => {
            let secs: i64 = row.try_get_by_index(0)?;
            chrono::DateTime::from_timestamp(secs, 0)
                .map(|t| t.naive_utc())
                .unwrap_or_else(nanoclaw_core::time::now_utc)
        }
        None => nanoclaw_core::time::now_utc(),
    };
    let row = db
        .query_one(
            Query::select()
                .expr(Expr::col(Alias::new("id")).max())
                .from(Alias::new("users"))
                .cond_where(
                    Cond::any()
                        .add(Expr::col(Alias::new("created_at")).is_null())
                        .add(Expr::col(Alias::new("created_at")).lt(adopted_at)),
                ),
        )
        .await?;
    let max_id = match row {
        Some(row) => match row.try_get_by_index::<Option<i64>>(0) {
            Ok(v) => v,
            Err(_) => row.try_get_by_index::<Option<i32>>(0)?.map(i64::from),
        },
        None => None,
    };
    if let Some(max_id) = max_id {
        meta::record_legacy_import(db, adopted_at, max_id).await?;
    }
    Ok(())
}
