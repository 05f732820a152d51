//! Single-use password-reset tokens (stored as hashes).

use chrono::NaiveDateTime;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::id_of;
use crate::Store;
use crate::entity::password_reset_tokens::{self, Column, Entity as Tokens};
use crate::error::StoreError;

impl Store {
    /// Stores a reset token's hash for the user.
    pub async fn create_reset_token(
        &self,
        token_hash: String,
        user_id: i64,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let user_id =
            id_of(user_id).ok_or_else(|| StoreError::Unavailable("user id out of range".into()))?;
        password_reset_tokens::ActiveModel {
            token_hash: Set(token_hash),
            user_id: Set(user_id),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Marks the token used and returns its user, if it was unused and unexpired. Atomic: of
    /// two concurrent uses exactly one succeeds.
    pub async fn consume_reset_token(
        &self,
        token_hash: &str,
        now: NaiveDateTime,
    ) -> Result<Option<i64>, StoreError> {
        let res = Tokens::update_many()
            .col_expr(Column::UsedAt, Expr::value(now))
            .filter(Column::TokenHash.eq(token_hash))
            .filter(Column::UsedAt.is_null())
            .filter(Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?;
        if res.rows_affected == 0 {
            return Ok(None);
        }
        Ok(Tokens::find_by_id(token_hash.to_owned())
            .one(&self.db)
            .await?
            .map(|m| i64::from(m.user_id)))
    }
}
