//! The stream lock: at most one answer is streamed into a conversation at a time, across
//! every process sharing the database. A holder renews its row while it streams; a row whose
//! `expires_at` has passed was left by a process that died and is taken over.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect,
};

use super::{in_statement_sizes, is_deadlock, statement};
use crate::Store;
use crate::entity::conversation_streams::{Column, Entity as Streams};
use crate::error::StoreError;

/// Attempts of the lock statement when the database picks it as a deadlock victim.
const LOCK_ATTEMPTS: usize = 3;

fn expiry(now: NaiveDateTime, ttl: Duration) -> Result<NaiveDateTime, StoreError> {
    TimeDelta::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| StoreError::Db(DbErr::Custom("stream lock ttl out of range".into())))
}

impl Store {
    /// Takes the stream lock of a conversation for `holder` (unique per stream) until
    /// `now + ttl`. True when `holder` holds it afterwards: it was free, expired, or already
    /// `holder`'s. Of concurrent callers exactly one wins (one atomic upsert).
    pub async fn try_lock_stream(
        &self,
        conversation_id: &str,
        holder: &str,
        now: NaiveDateTime,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut attempt = 1;
        loop {
            match lock(&self.db, conversation_id, holder, now, ttl).await {
                Err(StoreError::Db(e)) if attempt < LOCK_ATTEMPTS && is_deadlock(&e) => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Moves the expiry of `holder`'s lock to `now + ttl`. False when `holder` no longer holds
    /// it (taken over after expiring, or the conversation was deleted): the stream should stop.
    pub async fn renew_stream_lock(
        &self,
        conversation_id: &str,
        holder: &str,
        now: NaiveDateTime,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        renew(&self.db, conversation_id, holder, now, ttl).await
    }

    /// Releases `holder`'s lock; false when it did not hold it.
    pub async fn unlock_stream(
        &self,
        conversation_id: &str,
        holder: &str,
    ) -> Result<bool, StoreError> {
        unlock(&self.db, conversation_id, holder).await
    }
}

/// [`Store::try_lock_stream`] on `db` (a connection or a transaction), without retries.
pub(crate) async fn lock(
    db: &impl ConnectionTrait,
    conversation_id: &str,
    holder: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let expires_at = expiry(now, ttl)?;
    let backend = db.get_database_backend();
    let mysql = backend == DbBackend::MySql;
    let sql = if mysql {
        // Assignments run left to right: `holder` is set first, and the second condition
        // still sees the old `expires_at`, so both columns change or neither does.
        "INSERT INTO conversation_streams (conversation_id, holder, expires_at) \
         VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE \
         holder = IF(expires_at <= ? OR holder = VALUES(holder), VALUES(holder), holder), \
         expires_at = IF(expires_at <= ? OR holder = VALUES(holder), VALUES(expires_at), expires_at)"
    } else {
        "INSERT INTO conversation_streams (conversation_id, holder, expires_at) \
         VALUES (?, ?, ?) ON CONFLICT (conversation_id) DO UPDATE \
         SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE conversation_streams.expires_at <= ? \
         OR conversation_streams.holder = excluded.holder"
    };
    let mut values = vec![conversation_id.into(), holder.into(), expires_at.into()];
    values.push(now.into());
    if mysql {
        values.push(now.into());
    }
    let result = db.execute_raw(statement(backend, sql, values)).await?;
    if !mysql {
        // SQLite and PostgreSQL count a conflicting row the WHERE left alone as 0.
        return Ok(result.rows_affected() == 1);
    }
    // MySQL counts a row "updated" to its own values as 1 (sqlx asks for found rows), the
    // same as an insert: ask who holds the lock instead.
    let current = Streams::find_by_id(conversation_id.to_owned())
        .select_only()
        .column(Column::Holder)
        .into_tuple::<String>()
        .one(db)
        .await?;
    Ok(current.as_deref() == Some(holder))
}

/// [`Store::renew_stream_lock`] on `db`.
pub(crate) async fn renew(
    db: &impl ConnectionTrait,
    conversation_id: &str,
    holder: &str,
    now: NaiveDateTime,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let expires_at = expiry(now, ttl)?;
    Ok(Streams::update_many()
        .col_expr(Column::ExpiresAt, Expr::value(expires_at))
        .filter(Column::ConversationId.eq(conversation_id))
        .filter(Column::Holder.eq(holder))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// Releases each `(conversation_id, holder)` lock of `held` that its holder still holds, in
/// as few statements as their number allows.
pub(crate) async fn unlock_all(
    db: &impl ConnectionTrait,
    held: &[(&str, &str)],
) -> Result<(), StoreError> {
    for part in in_statement_sizes(held) {
        let mut any = Condition::any();
        for (conversation_id, holder) in part {
            any = any.add(
                Condition::all()
                    .add(Column::ConversationId.eq(*conversation_id))
                    .add(Column::Holder.eq(*holder)),
            );
        }
        Streams::delete_many().filter(any).exec(db).await?;
    }
    Ok(())
}

/// [`Store::unlock_stream`] on `db`.
pub(crate) async fn unlock(
    db: &impl ConnectionTrait,
    conversation_id: &str,
    holder: &str,
) -> Result<bool, StoreError> {
    Ok(Streams::delete_many()
        .filter(Column::ConversationId.eq(conversation_id))
        .filter(Column::Holder.eq(holder))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}
