//! `nanoclaw_meta`: facts about the database itself, as name/value text pairs.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr};

use crate::Store;
use crate::error::StoreError;

const TABLE: &str = "nanoclaw_meta";

/// When nanoClaw accounts first arrived (import or adoption in place): naive UTC,
/// `%Y-%m-%dT%H:%M:%S`. Tokens without a session id are judged against it.
pub const LEGACY_IMPORT_AT: &str = "legacy_import_at";
/// The highest user id that came from nanoClaw; accounts above it were created here.
pub const LEGACY_IMPORT_MAX_USER_ID: &str = "legacy_import_max_user_id";
/// The format of [`LEGACY_IMPORT_AT`].
pub(crate) const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

impl Store {
    /// The value stored under `name`, if any.
    pub async fn meta(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(get(&self.db, name).await?)
    }

    /// Stores `value` under `name`, replacing what was there.
    pub async fn set_meta(&self, name: &str, value: &str) -> Result<(), StoreError> {
        Ok(set(&self.db, name, value).await?)
    }
}

/// [`Store::meta`] on any connection (also inside a transaction or a migration).
pub(crate) async fn get<C: ConnectionTrait>(db: &C, name: &str) -> Result<Option<String>, DbErr> {
    let mut q = Query::select();
    q.from(Alias::new(TABLE))
        .column(Alias::new("value"))
        .and_where(Expr::col(Alias::new("name")).eq(name));
    match db.query_one(&q).await? {
        Some(row) => Ok(Some(row.try_get_by_index::<String>(0)?)),
        None => Ok(None),
    }
}

/// [`Store::set_meta`] on any connection: one upsert statement (`ON CONFLICT` on SQLite and
/// PostgreSQL, `ON DUPLICATE KEY` on MySQL).
pub(crate) async fn set<C: ConnectionTrait>(db: &C, name: &str, value: &str) -> Result<(), DbErr> {
    let mut q = Query::insert();
    q.into_table(Alias::new(TABLE))
        .columns([Alias::new("name"), Alias::new("value")])
        .values([name.into(), value.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column(Alias::new("name"))
                .update_column(Alias::new("value"))
                .to_owned(),
        );
    db.execute(&q).await?;
    Ok(())
}

/// Records that nanoClaw accounts up to `max_user_id` arrived at `at`, keeping the earliest
/// time and the highest id over several imports.
pub(crate) async fn record_legacy_import<C: ConnectionTrait>(
    db: &C,
    at: chrono::NaiveDateTime,
    max_user_id: i64,
) -> Result<(), DbErr> {
    let earlier = get(db, LEGACY_IMPORT_AT)
        .await?
        .and_then(|v| chrono::NaiveDateTime::parse_from_str(&v, TIME_FORMAT).ok())
        .filter(|t| *t <= at);
    if earlier.is_none() {
        set(db, LEGACY_IMPORT_AT, &at.format(TIME_FORMAT).to_string()).await?;
    }
    let higher = get(db, LEGACY_IMPORT_MAX_USER_ID)
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|m| *m >= max_user_id);
    if higher.is_none() {
        set(db, LEGACY_IMPORT_MAX_USER_ID, &max_user_id.to_string()).await?;
    }
    Ok(())
}
