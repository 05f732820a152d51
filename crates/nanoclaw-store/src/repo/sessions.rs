//! Sessions: created at login, checked on every request, ended by logout or an admin.

use chrono::NaiveDateTime;
use nanoclaw_core::account::Session;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::id_of;
use crate::Store;
use crate::entity::sessions::{self, Column, Entity as Sessions};
use crate::error::StoreError;

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// UUID (the token's `jti`).
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// Expiry of its first token.
    pub expires_at: NaiveDateTime,
    /// Client address.
    pub ip: Option<String>,
    /// Client `User-Agent`.
    pub user_agent: Option<String>,
}

impl Store {
    /// Stores a new session.
    pub async fn create_session(
        &self,
        new: NewSession,
        now: NaiveDateTime,
    ) -> Result<Session, StoreError> {
        let user_id = id_of(new.user_id)
            .ok_or_else(|| StoreError::Unavailable("user id out of range".into()))?;
        let model = sessions::ActiveModel {
            id: Set(new.id),
            user_id: Set(user_id),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(new.expires_at),
            ip: Set(new.ip),
            user_agent: Set(new.user_agent),
            revoked_at: Set(None),
        };
        Ok(model.insert(&self.db).await?.into())
    }

    /// The session with this id.
    pub async fn session_by_id(&self, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(Sessions::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(Session::from))
    }

    /// The user's sessions that are neither ended nor expired, newest first.
    pub async fn live_sessions(
        &self,
        user_id: i64,
        now: NaiveDateTime,
    ) -> Result<Vec<Session>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(Vec::new());
        };
        Ok(Sessions::find()
            .filter(Column::UserId.eq(uid))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(now))
            .order_by_desc(Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Session::from)
            .collect())
    }

    /// Ends one of the user's sessions; false if there is no such live session.
    pub async fn revoke_session(
        &self,
        user_id: i64,
        id: &str,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(false);
        };
        let res = Sessions::update_many()
            .col_expr(Column::RevokedAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(uid))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await;
        self.changed(user_id);
        Ok(res?.rows_affected > 0)
    }

    /// Records activity on a session unless it was recorded after `stale_before`.
    pub async fn touch_session(
        &self,
        id: &str,
        now: NaiveDateTime,
        stale_before: NaiveDateTime,
    ) -> Result<(), StoreError> {
        Sessions::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(Condition::all().add(Column::LastSeenAt.lt(stale_before)))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Moves a live session's expiry to `expires_at` (token refresh), unless it was moved to
    /// after `extended_after` already: a client refreshing in a loop writes at most once a
    /// minute. The cached copy is dropped when the row changed (by the change feed too, in
    /// other processes), so the new expiry is what the next request sees.
    pub async fn extend_session(
        &self,
        user_id: i64,
        id: &str,
        expires_at: NaiveDateTime,
        extended_after: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<Extension, StoreError> {
        let res = Sessions::update_many()
            .col_expr(Column::ExpiresAt, Expr::value(expires_at))
            .col_expr(Column::LastSeenAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::ExpiresAt.gt(now))
            .filter(Column::ExpiresAt.lte(extended_after))
            .exec(&self.db)
            .await;
        if res.as_ref().is_ok_and(|r| r.rows_affected > 0) {
            self.changed(user_id);
            return Ok(Extension::Extended);
        }
        res?;
        let live = self
            .session_by_id(id)
            .await?
            .is_some_and(|s| s.is_live(now));
        Ok(if live {
            Extension::Recent
        } else {
            Extension::NotLive
        })
    }
}

/// What [`Store::extend_session`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    /// The expiry moved.
    Extended,
    /// The session is live and was extended less than the minimum gap ago; left alone.
    Recent,
    /// The session is ended or expired.
    NotLive,
}
