//! `nanoclaw import`: copy an existing nanoClaw database (the schema SQLAlchemy's `create_all`
//! made for the original, or another nanoclaw database) into this one.
//!
//! Ids and timestamps are kept; Werkzeug password hashes are kept inside an argon2id wrapper
//! (so that logging in to every account costs the same). Rows whose primary key already exists
//! in the target are left alone, so a second run changes nothing. Everything is written in one
//! transaction: an import either lands whole or not at all. The import records itself in
//! `nanoclaw_meta` ([`crate::LEGACY_IMPORT_AT`], [`crate::LEGACY_IMPORT_MAX_USER_ID`]).

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime};
use sea_orm::sea_query::{Alias, Order, Query, SimpleExpr, Value};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, FromQueryResult,
    TransactionTrait,
};

use crate::Store;
use crate::error::StoreError;
use crate::repo::meta;

/// Rows read from the source per query.
const PAGE: u64 = 1000;
/// Rows written per INSERT statement.
const BATCH: usize = 200;

/// The five nanoClaw tables, in foreign-key order.
pub const TABLES: [&str; 5] = [
    "users",
    "projects",
    "conversations",
    "messages",
    "token_usage",
];

/// What happened to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableReport {
    /// Table name.
    pub table: &'static str,
    /// Rows in the source.
    pub source_rows: u64,
    /// Rows written to the target.
    pub imported: u64,
    /// Rows whose id was already in the target.
    pub already_present: u64,
    /// Rows skipped because their owner (user, conversation) exists in neither database.
    pub orphaned: u64,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Per table, in import order.
    pub tables: Vec<TableReport>,
}

impl ImportReport {
    /// Rows written in total.
    pub fn imported(&self) -> u64 {
        self.tables.iter().map(|t| t.imported).sum()
    }
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The target has data and `--merge` was not given.
    #[error(
        "the target database is not empty ({existing} rows) and {missing} source rows are missing from it; \
         run again with --merge to add them"
    )]
    TargetNotEmpty {
        /// Rows in the target.
        existing: u64,
        /// Source rows not yet in the target.
        missing: u64,
    },
    /// The source lacks a table or column of the nanoClaw schema.
    #[error("the source is not a nanoClaw database: {0}")]
    NotNanoclaw(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DbErr> for ImportError {
    fn from(e: DbErr) -> Self {
        ImportError::Store(e.into())
    }
}

/// The first pass over the source: how many rows per table and how many are new to the target.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// Rows per table in the source.
    pub source_rows: Vec<u64>,
    /// Source rows whose id the target does not have, per table.
    pub missing_rows: Vec<u64>,
    /// Rows already in the target (all tables).
    pub target_rows: u64,
}

impl ImportPlan {
    /// Rows to read in the second pass.
    pub fn total_source_rows(&self) -> u64 {
        self.source_rows.iter().sum()
    }

    /// Rows that the import would add.
    pub fn total_missing(&self) -> u64 {
        self.missing_rows.iter().sum()
    }
}

type Key = String;

/// One source row: its key, the keys it depends on, and the values to insert.
struct Row {
    key: Key,
    owner: Option<Key>,
    project: Option<Key>,
    values: Vec<Value>,
}

#[derive(FromQueryResult)]
struct UserRow {
    id: i32,
    username: String,
    password_hash: Option<String>,
    email: Option<String>,
    avatar: Option<String>,
    role: Option<String>,
    is_active: Option<bool>,
    created_at: Option<NaiveDateTime>,
    last_login_at: Option<NaiveDateTime>,
}

#[derive(FromQueryResult)]
struct ProjectRow {
    id: String,
    user_id: i32,
    name: String,
    path: String,
    description: Option<String>,
    created_at: Option<NaiveDateTime>,
    updated_at: Option<NaiveDateTime>,
}

#[derive(FromQueryResult)]
struct ConversationRow {
    id: String,
    user_id: i32,
    project_id: Option<String>,
    title: Option<String>,
    model: Option<String>,
    system_prompt: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<i32>,
    thinking_enabled: Option<bool>,
    created_at: Option<NaiveDateTime>,
    updated_at: Option<NaiveDateTime>,
}

#[derive(FromQueryResult)]
struct MessageRow {
    id: String,
    conversation_id: String,
    role: String,
    content: Option<String>,
    token_count: Option<i32>,
    created_at: Option<NaiveDateTime>,
}

#[derive(FromQueryResult)]
struct UsageRow {
    id: i32,
    user_id: i32,
    date: NaiveDate,
    model: String,
    prompt_tokens: Option<i32>,
    completion_tokens: Option<i32>,
    total_tokens: Option<i32>,
    created_at: Option<NaiveDateTime>,
}

fn columns(table: &str) -> &'static [&'static str] {
    match table {
        "users" => &[
            "id",
            "username",
            "password_hash",
            "email",
            "avatar",
            "role",
            "is_active",
            "created_at",
            "last_login_at",
        ],
        "projects" => &[
            "id",
            "user_id",
            "name",
            "path",
            "description",
            "created_at",
            "updated_at",
        ],
        "conversations" => &[
            "id",
            "user_id",
            "project_id",
            "title",
            "model",
            "system_prompt",
            "temperature",
            "max_tokens",
            "thinking_enabled",
            "created_at",
            "updated_at",
        ],
        "messages" => &[
            "id",
            "conversation_id",
            "role",
            "content",
            "token_count",
            "created_at",
        ],
        _ => &[
            "id",
            "user_id",
            "date",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "created_at",
        ],
    }
}

fn v<T: Into<Value>>(x: T) -> Value {
    x.into()
}

async fn read_page(
    source: &DatabaseConnection,
    table: &'static str,
    offset: u64,
) -> Result<Vec<Row>, DbErr> {
    let mut q = Query::select();
    q.from(Alias::new(table))
        .columns(columns(table).iter().map(|c| Alias::new(*c)))
        .order_by(Alias::new("id"), Order::Asc)
        .limit(PAGE)
        .offset(offset);
    let stmt = source.get_database_backend().build(&q);
    let rows = match table {
        "users" => UserRow::find_by_statement(stmt)
            .all(source)
            .await?
            .into_iter()
            .map(|r| Row {
                key: r.id.to_string(),
                owner: None,
                project: None,
                values: vec![
                    v(r.id),
                    v(r.username),
                    v(r.password_hash),
                    v(r.email),
                    v(r.avatar),
                    v(r.role.unwrap_or_else(|| "user".into())),
                    v(r.is_active.unwrap_or(true)),
                    v(r.created_at),
                    v(r.last_login_at),
                ],
            })
            .collect(),
        "projects" => ProjectRow::find_by_statement(stmt)
            .all(source)
            .await?
            .into_iter()
            .map(|r| Row {
                key: r.id.clone(),
                owner: Some(r.user_id.to_string()),
                project: None,
                values: vec![
                    v(r.id),
                    v(r.user_id),
                    v(r.name),
                    v(r.path),
                    v(r.description),
                    v(r.created_at),
                    v(r.updated_at),
                ],
            })
            .collect(),
        "conversations" => ConversationRow::find_by_statement(stmt)
            .all(source)
            .await?
            .into_iter()
            .map(|r| Row {
                key: r.id.clone(),
                owner: Some(r.user_id.to_string()),
                project: r.project_id.clone(),
                values: vec![
                    v(r.id),
                    v(r.user_id),
                    v(r.project_id),
                    v(r.title.unwrap_or_default()),
                    v(r.model.unwrap_or_default()),
                    v(r.system_prompt),
                    v(r.temperature.unwrap_or(1.0)),
                    v(r.max_tokens.unwrap_or(65536)),
                    v(r.thinking_enabled),
                    v(r.created_at),
                    v(r.updated_at),
                ],
            })
            .collect(),
        "messages" => MessageRow::find_by_statement(stmt)
            .all(source)
            .await?
            .into_iter()
            .map(|r| Row {
                key: r.id.clone(),
                owner: Some(r.conversation_id.clone()),
                project: None,
                values: vec![
                    v(r.id),
                    v(r.conversation_id),
                    v(r.role),
                    v(r.content),
                    v(r.token_count),
                    v(r.created_at),
                ],
            })
            .collect(),
        _ => UsageRow::find_by_statement(stmt)
            .all(source)
            .await?
            .into_iter()
            .map(|r| Row {
                key: r.id.to_string(),
                owner: Some(r.user_id.to_string()),
                project: None,
                values: vec![
                    v(r.id),
                    v(r.user_id),
                    v(r.date),
                    v(r.model),
                    v(r.prompt_tokens),
                    v(r.completion_tokens),
                    v(r.total_tokens),
                    v(r.created_at),
                ],
            })
            .collect(),
    };
    Ok(rows)
}

/// Every id of `table` in `db`, as text.
async fn ids<C: ConnectionTrait>(db: &C, table: &str) -> Result<HashSet<Key>, DbErr> {
    let mut q = Query::select();
    q.from(Alias::new(table)).column(Alias::new("id"));
    let stmt = db.get_database_backend().build(&q);
    let rows = db.query_all_raw(stmt).await?;
    let mut out = HashSet::with_capacity(rows.len());
    for row in rows {
        out.insert(key_at(&row, 0)?);
    }
    Ok(out)
}

/// `(id, owner)` of every row: the owner is the user (or, for messages, the conversation).
async fn keys_and_owners(
    db: &DatabaseConnection,
    table: &str,
) -> Result<Vec<(Key, Option<Key>)>, ImportError> {
    let owner = match table {
        "users" => None,
        "messages" => Some("conversation_id"),
        _ => Some("user_id"),
    };
    let mut q = Query::select();
    q.from(Alias::new(table)).column(Alias::new("id"));
    if let Some(o) = owner {
        q.column(Alias::new(o));
    }
    let stmt = db.get_database_backend().build(&q);
    let rows = db
        .query_all_raw(stmt)
        .await
        .map_err(|e| ImportError::NotNanoclaw(format!("cannot read table {table}: {e}")))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let key = key_at(&row, 0)?;
        let owner = if owner.is_some() {
            Some(key_at(&row, 1)?)
        } else {
            None
        };
        out.push((key, owner));
    }
    Ok(out)
}

fn key_at(row: &sea_orm::QueryResult, i: usize) -> Result<Key, DbErr> {
    match row.try_get_by_index::<i64>(i) {
        Ok(n) => Ok(n.to_string()),
        Err(_) => match row.try_get_by_index::<i32>(i) {
            Ok(n) => Ok(n.to_string()),
            Err(_) => row.try_get_by_index::<String>(i),
        },
    }
}

impl Store {
    /// Counts source rows and the ones the target lacks (orphans excluded: they are never
    /// imported), without writing anything.
    pub async fn plan_import(&self, source: &Store) -> Result<ImportPlan, ImportError> {
        let mut plan = ImportPlan::default();
        // Ids that exist (or will, once imported), per parent table.
        let mut users = ids(&self.db, "users").await?;
        let mut conversations = ids(&self.db, "conversations").await?;
        for table in TABLES {
            let target_ids = ids(&self.db, table).await?;
            plan.target_rows += target_ids.len() as u64;
            let rows = keys_and_owners(&source.db, table).await?;
            plan.source_rows.push(rows.len() as u64);
            let mut missing = 0;
            for (key, owner) in rows {
                if target_ids.contains(&key) {
                    continue;
                }
                let parents = if table == "messages" {
                    &conversations
                } else {
                    &users
                };
                if owner.as_ref().is_some_and(|o| !parents.contains(o)) {
                    continue;
                }
                missing += 1;
                match table {
                    "users" => users.insert(key),
                    "conversations" => conversations.insert(key),
                    _ => true,
                };
            }
            plan.missing_rows.push(missing);
        }
        Ok(plan)
    }

    /// Copies every row of `source` whose id this database lacks. Refuses a non-empty target
    /// that lacks rows unless `merge`. `progress` is called with the number of rows handled.
    pub async fn import_from(
        &self,
        source: &Store,
        merge: bool,
        mut progress: impl FnMut(u64),
    ) -> Result<ImportReport, ImportError> {
        let plan = self.plan_import(source).await?;
        if plan.target_rows > 0 && plan.total_missing() > 0 && !merge {
            return Err(ImportError::TargetNotEmpty {
                existing: plan.target_rows,
                missing: plan.total_missing(),
            });
        }
        let txn = self.db.begin().await?;
        let mut report = ImportReport::default();
        let mut users = ids(&txn, "users").await?;
        let mut projects = ids(&txn, "projects").await?;
        let mut conversations = ids(&txn, "conversations").await?;
        // The highest user id this run brought in.
        let mut max_user_id: Option<i64> = None;
        for table in TABLES {
            let existing = ids(&txn, table).await?;
            let mut t = TableReport {
                table,
                ..TableReport::default()
            };
            let mut offset = 0;
            loop {
                let page = read_page(&source.db, table, offset).await?;
                if page.is_empty() {
                    break;
                }
                offset += page.len() as u64;
                t.source_rows += page.len() as u64;
                progress(page.len() as u64);
                let mut batch = Vec::new();
                for mut row in page {
                    if existing.contains(&row.key) {
                        t.already_present += 1;
                        continue;
                    }
                    let parents = match table {
                        "messages" => &conversations,
                        _ => &users,
                    };
                    if row.owner.as_ref().is_some_and(|o| !parents.contains(o)) {
                        t.orphaned += 1;
                        continue;
                    }
                    if table == "conversations"
                        && row.project.as_ref().is_some_and(|p| !projects.contains(p))
                    {
                        // The project is gone; keep the conversation, unbound.
                        row.values[2] = Value::String(None);
                    }
                    if table == "users"
                        && let Ok(id) = row.key.parse::<i64>()
                    {
                        max_user_id = max_user_id.max(Some(id));
                    }
                    match table {
                        "users" => users.insert(row.key.clone()),
                        "projects" => projects.insert(row.key.clone()),
                        "conversations" => conversations.insert(row.key.clone()),
                        _ => true,
                    };
                    batch.push(row.values);
                    if batch.len() == BATCH {
                        t.imported += insert(&txn, table, std::mem::take(&mut batch)).await?;
                    }
                }
                t.imported += insert(&txn, table, batch).await?;
            }
            report.tables.push(t);
        }
        if txn.get_database_backend() == DbBackend::Postgres {
            for table in ["users", "token_usage"] {
                // Explicit ids do not advance PostgreSQL's sequences.
                txn.execute_unprepared(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
                ))
                .await?;
            }
        }
        if let Some(max) = max_user_id {
            meta::record_legacy_import(&txn, nanoclaw_core::time::now_utc(), max).await?;
        }
        txn.commit().await?;
        Ok(report)
    }
}

async fn insert(
    txn: &DatabaseTransaction,
    table: &str,
    mut rows: Vec<Vec<Value>>,
) -> Result<u64, ImportError> {
    if rows.is_empty() {
        return Ok(0);
    }
    if table == "users" {
        wrap_legacy_hashes(&mut rows).await?;
    }
    let n = rows.len() as u64;
    let mut q = Query::insert();
    q.into_table(Alias::new(table))
        .columns(columns(table).iter().map(|c| Alias::new(*c)));
    for values in rows {
        q.values(values.into_iter().map(SimpleExpr::from))
            .map_err(|e| ImportError::NotNanoclaw(e.to_string()))?;
    }
    let stmt = txn.get_database_backend().build(&q);
    txn.execute_raw(stmt).await.map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(m)) => ImportError::NotNanoclaw(format!(
            "a {table} row collides with a different row of the target ({m}); nothing was imported"
        )),
        _ => e.into(),
    })?;
    Ok(n)
}

/// Index of `password_hash` in a users row (see [`columns`]).
const PASSWORD_HASH: usize = 2;

/// Replaces each Werkzeug hash in `rows` (users) by its argon2id wrapper. Each takes an argon2
/// run (tens of milliseconds), so the batch is split over one blocking task per core.
async fn wrap_legacy_hashes(rows: &mut [Vec<Value>]) -> Result<(), ImportError> {
    let hashes: Vec<(usize, String)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r.get(PASSWORD_HASH) {
            Some(Value::String(Some(h))) => Some((i, h.clone())),
            _ => None,
        })
        .collect();
    if hashes.is_empty() {
        return Ok(());
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = hashes.len().div_ceil(workers).max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for part in hashes.chunks(chunk) {
        let part = part.to_vec();
        tasks.spawn_blocking(move || {
            part.into_iter()
                .filter_map(|(i, h)| {
                    nanoclaw_core::auth::password::wrap_legacy(&h).map(|wrapped| (i, wrapped))
                })
                .collect::<Vec<_>>()
        });
    }
    while let Some(done) = tasks.join_next().await {
        let wrapped = done.map_err(|e| {
            ImportError::Store(StoreError::Db(DbErr::Custom(format!(
                "wrapping password hashes failed: {e}"
            ))))
        })?;
        for (i, w) in wrapped {
            if let Some(slot) = rows.get_mut(i).and_then(|r| r.get_mut(PASSWORD_HASH)) {
                *slot = Value::String(Some(w));
            }
        }
    }
    Ok(())
}
