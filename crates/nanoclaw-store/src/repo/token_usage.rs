//! Token usage per (user, UTC date, model), and the statistics of `GET /api/stats/tokens`.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Timelike};
use nanoclaw_core::chat::{StatsPeriod, TokenStats, UsageDelta, UsageRow, role};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter,
};

use super::{id_of, is_deadlock, saturate_i32, statement};
use crate::Store;
use crate::entity::token_usage::{Column, Entity as TokenUsage};
use crate::error::StoreError;

/// Attempts of the usage upsert when the database picks it as a deadlock victim.
const UPSERT_ATTEMPTS: usize = 3;

#[derive(FromQueryResult)]
struct AnswerTokens {
    created_at: Option<NaiveDateTime>,
    token_count: Option<i32>,
}

/// Tokens to add to a user's row of a day and model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEntry {
    /// The user.
    pub user_id: i64,
    /// The UTC date.
    pub date: NaiveDate,
    /// The model id.
    pub model: String,
    /// The tokens.
    pub delta: UsageDelta,
}

impl Store {
    /// Adds an answer's tokens to the user's row for `date` and `model`, creating it if
    /// missing: one atomic upsert on `uq_user_date_model`, so concurrent answers neither
    /// collide on the unique key nor lose an increment.
    pub async fn add_usage(
        &self,
        user_id: i64,
        date: NaiveDate,
        model: &str,
        delta: UsageDelta,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let usage = UsageEntry {
            user_id,
            date,
            model: model.to_owned(),
            delta,
        };
        let mut attempt = 1;
        loop {
            match add_usage(&self.db, &usage, now).await {
                Err(StoreError::Db(e)) if attempt < UPSERT_ATTEMPTS && is_deadlock(&e) => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The user's usage rows from `from` to `to` (inclusive).
    pub async fn usage_rows(
        &self,
        user_id: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(Vec::new());
        };
        Ok(TokenUsage::find()
            .filter(Column::UserId.eq(uid))
            .filter(Column::Date.between(from, to))
            .all(&self.db)
            .await?
            .into_iter()
            .map(UsageRow::from)
            .collect())
    }

    /// Completion tokens of the user's assistant messages created on `day`, per UTC hour
    /// (only hours that have messages). Messages of deleted conversations are gone and so
    /// no longer count.
    pub async fn hourly_completion_tokens(
        &self,
        user_id: i64,
        day: NaiveDate,
    ) -> Result<BTreeMap<u32, i64>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(BTreeMap::new());
        };
        let start = day.and_time(chrono::NaiveTime::MIN);
        let end = start + TimeDelta::days(1);
        // Summed here rather than in SQL: the hour of a timestamp is spelled differently by
        // each database, and MySQL's SUM is a DECIMAL. A user's answers of one day are few.
        let rows = AnswerTokens::find_by_statement(statement(
            self.db.get_database_backend(),
            "SELECT m.created_at, m.token_count FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.user_id = ? AND m.role = ? AND m.created_at >= ? AND m.created_at < ?",
            [uid.into(), role::ASSISTANT.into(), start.into(), end.into()],
        ))
        .all(&self.db)
        .await?;
        let mut hours = BTreeMap::new();
        for row in rows {
            if let Some(t) = row.created_at {
                *hours.entry(t.hour()).or_insert(0) += row.token_count.map_or(0, i64::from);
            }
        }
        Ok(hours)
    }

    /// The statistics of api.md §9 for the period ending `today` (UTC).
    pub async fn token_stats(
        &self,
        user_id: i64,
        period: StatsPeriod,
        today: NaiveDate,
    ) -> Result<TokenStats, StoreError> {
        let rows = self.usage_rows(user_id, period.start(today), today).await?;
        let hourly = if period == StatsPeriod::Daily {
            self.hourly_completion_tokens(user_id, today).await?
        } else {
            BTreeMap::new()
        };
        Ok(TokenStats::aggregate(period, today, &rows, hourly))
    }
}

/// [`Store::add_usage`] on `db` (a connection or a transaction), without retries.
pub(crate) async fn add_usage(
    db: &impl ConnectionTrait,
    usage: &UsageEntry,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let uid = id_of(usage.user_id)
        .ok_or_else(|| StoreError::Db(DbErr::Custom("user id out of range".into())))?;
    let backend = db.get_database_backend();
    let update = if backend == DbBackend::MySql {
        "ON DUPLICATE KEY UPDATE \
         prompt_tokens = COALESCE(prompt_tokens, 0) + VALUES(prompt_tokens), \
         completion_tokens = COALESCE(completion_tokens, 0) + VALUES(completion_tokens), \
         total_tokens = COALESCE(total_tokens, 0) + VALUES(total_tokens)"
    } else {
        "ON CONFLICT (user_id, date, model) DO UPDATE SET \
         prompt_tokens = COALESCE(token_usage.prompt_tokens, 0) + excluded.prompt_tokens, \
         completion_tokens = COALESCE(token_usage.completion_tokens, 0) + excluded.completion_tokens, \
         total_tokens = COALESCE(token_usage.total_tokens, 0) + excluded.total_tokens"
    };
    let sql = format!(
        "INSERT INTO token_usage \
         (user_id, date, model, prompt_tokens, completion_tokens, total_tokens, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) {update}"
    );
    let delta = usage.delta;
    let stmt = statement(
        backend,
        &sql,
        [
            uid.into(),
            usage.date.into(),
            usage.model.as_str().into(),
            saturate_i32(delta.prompt).into(),
            saturate_i32(delta.completion).into(),
            saturate_i32(delta.prompt.saturating_add(delta.completion)).into(),
            now.into(),
        ],
    );
    db.execute_raw(stmt).await?;
    Ok(())
}
