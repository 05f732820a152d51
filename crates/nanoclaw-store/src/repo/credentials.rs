//! Changes that end a user's credentials, each in one transaction: a password reset by token,
//! "log out everywhere" and new reset tokens. (A password change by the user or an admin is
//! `update_profile` or `admin_update_user`, which end credentials with the same function.)
//!
//! Either every part commits or none does: a failure leaves the old password and every
//! session, API key and reset token exactly as before. The change-feed rows other processes
//! poll are written by triggers on `users`, `sessions` and `api_keys` inside the same
//! transaction; this process's cache is told after the commit (and after a failed commit
//! too, which costs only a re-read).

use chrono::NaiveDateTime;
use nanoclaw_core::User;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, TransactionTrait,
};

use super::id_of;
use crate::Store;
use crate::entity::api_keys::{self, Entity as ApiKeys};
use crate::entity::password_reset_tokens::{self, Entity as ResetTokens};
use crate::entity::sessions::{self, Entity as Sessions};
use crate::entity::users::{self, Entity as Users};
use crate::error::StoreError;

/// Ends every live session of `uid` (but `keep`), deletes its API keys and voids its unused
/// reset tokens.
pub(crate) async fn end_credentials<C: ConnectionTrait>(
    db: &C,
    uid: i32,
    keep_session: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), DbErr> {
    let mut revoke = Sessions::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(now))
        .filter(sessions::Column::UserId.eq(uid))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(keep) = keep_session {
        revoke = revoke.filter(sessions::Column::Id.ne(keep));
    }
    revoke.exec(db).await?;
    ApiKeys::delete_many()
        .filter(api_keys::Column::UserId.eq(uid))
        .exec(db)
        .await?;
    void_reset_tokens(db, uid, now).await
}

/// Marks every unused reset token of `uid` used.
async fn void_reset_tokens<C: ConnectionTrait>(
    db: &C,
    uid: i32,
    now: NaiveDateTime,
) -> Result<(), DbErr> {
    ResetTokens::update_many()
        .col_expr(password_reset_tokens::Column::UsedAt, Expr::value(now))
        .filter(password_reset_tokens::Column::UserId.eq(uid))
        .filter(password_reset_tokens::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Stores a new password hash and bumps the token version, so every token issued before
/// stops working.
async fn set_password_hash<C: ConnectionTrait>(
    db: &C,
    uid: i32,
    hash: String,
) -> Result<u64, DbErr> {
    Ok(Users::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(
            users::Column::TokenVersion,
            Expr::col(users::Column::TokenVersion).add(1),
        )
        .filter(users::Column::Id.eq(uid))
        .exec(db)
        .await?
        .rows_affected)
}

impl Store {
    /// "Log out everywhere": every session ended, every API key deleted, the token version
    /// bumped (tokens without a session), in one transaction. False if there is no such user.
    pub async fn end_all_access(
        &self,
        user_id: i64,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(false);
        };
        let result = async {
            let txn = self.db.begin().await?;
            let bumped = Users::update_many()
                .col_expr(
                    users::Column::TokenVersion,
                    Expr::col(users::Column::TokenVersion).add(1),
                )
                .filter(users::Column::Id.eq(uid))
                .exec(&txn)
                .await?
                .rows_affected;
            if bumped == 0 {
                return Ok(false);
            }
            end_credentials(&txn, uid, None, now).await?;
            txn.commit().await?;
            Ok::<_, DbErr>(true)
        }
        .await;
        self.changed(user_id);
        Ok(result?)
    }

    /// Uses a reset token: marks it used and changes the password as
    /// [`change_password`](Self::change_password) does, in one transaction. `None` (and no
    /// change) when the token is unknown, used, expired or its user is gone. Of two
    /// concurrent uses exactly one succeeds.
    pub async fn reset_password(
        &self,
        token_hash: &str,
        hash: String,
        now: NaiveDateTime,
    ) -> Result<Option<User>, StoreError> {
        let txn = self.db.begin().await?;
        let consumed = ResetTokens::update_many()
            .col_expr(password_reset_tokens::Column::UsedAt, Expr::value(now))
            .filter(password_reset_tokens::Column::TokenHash.eq(token_hash))
            .filter(password_reset_tokens::Column::UsedAt.is_null())
            .filter(password_reset_tokens::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?
            .rows_affected;
        if consumed == 0 {
            return Ok(None);
        }
        let Some(token) = ResetTokens::find_by_id(token_hash.to_owned())
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        let uid = token.user_id;
        let result = async {
            if set_password_hash(&txn, uid, hash).await? == 0 {
                return Ok(None);
            }
            end_credentials(&txn, uid, None, now).await?;
            let user = Users::find_by_id(uid).one(&txn).await?.map(User::from);
            txn.commit().await?;
            Ok::<_, DbErr>(user)
        }
        .await;
        self.changed(i64::from(uid));
        Ok(result?)
    }

    /// True when the reset token is unused and unexpired (read before the expensive hash of
    /// the new password; [`reset_password`](Self::reset_password) decides for real).
    pub async fn reset_token_usable(
        &self,
        token_hash: &str,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        Ok(ResetTokens::find_by_id(token_hash.to_owned())
            .filter(password_reset_tokens::Column::UsedAt.is_null())
            .filter(password_reset_tokens::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Stores a new reset token's hash for the user and voids the user's earlier ones, in one
    /// transaction.
    pub async fn create_reset_token(
        &self,
        token_hash: String,
        user_id: i64,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let uid =
            id_of(user_id).ok_or_else(|| StoreError::Unavailable("user id out of range".into()))?;
        let txn = self.db.begin().await?;
        void_reset_tokens(&txn, uid, now).await?;
        password_reset_tokens::ActiveModel {
            token_hash: Set(token_hash),
            user_id: Set(uid),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
