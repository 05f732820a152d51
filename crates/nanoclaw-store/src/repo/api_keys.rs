//! API keys: only a SHA-256 of the secret is stored.

use chrono::NaiveDateTime;
use nanoclaw_core::account::ApiKey;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::id_of;
use crate::Store;
use crate::entity::api_keys::{self, Column, Entity as ApiKeys};
use crate::error::StoreError;

/// A key to store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// UUID.
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// User-given name.
    pub name: String,
    /// Visible start of the key.
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    pub key_hash: String,
    /// Expiry, if any.
    pub expires_at: Option<NaiveDateTime>,
}

impl Store {
    /// Stores a new key.
    pub async fn create_api_key(
        &self,
        new: NewApiKey,
        now: NaiveDateTime,
    ) -> Result<ApiKey, StoreError> {
        let user_id = id_of(new.user_id)
            .ok_or_else(|| StoreError::Unavailable("user id out of range".into()))?;
        let model = api_keys::ActiveModel {
            id: Set(new.id),
            user_id: Set(user_id),
            name: Set(new.name),
            prefix: Set(new.prefix),
            key_hash: Set(new.key_hash),
            created_at: Set(now),
            last_used_at: Set(None),
            expires_at: Set(new.expires_at),
        };
        Ok(model.insert(&self.db).await?.into())
    }

    /// The key whose secret hashes to `key_hash`.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(ApiKeys::find()
            .filter(Column::KeyHash.eq(key_hash))
            .one(&self.db)
            .await?
            .map(ApiKey::from))
    }

    /// The user's keys, newest first.
    pub async fn api_keys_of(&self, user_id: i64) -> Result<Vec<ApiKey>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(Vec::new());
        };
        Ok(ApiKeys::find()
            .filter(Column::UserId.eq(uid))
            .order_by_desc(Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(ApiKey::from)
            .collect())
    }

    /// Deletes one of the user's keys; false if there is none with that id.
    pub async fn delete_api_key(&self, user_id: i64, id: &str) -> Result<bool, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(false);
        };
        let res = ApiKeys::delete_many()
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(uid))
            .exec(&self.db)
            .await;
        self.changed(user_id);
        Ok(res?.rows_affected > 0)
    }

    /// Records a use unless one was recorded after `stale_before`.
    pub async fn touch_api_key(
        &self,
        id: &str,
        now: NaiveDateTime,
        stale_before: NaiveDateTime,
    ) -> Result<(), StoreError> {
        ApiKeys::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(
                sea_orm::Condition::any()
                    .add(Column::LastUsedAt.is_null())
                    .add(Column::LastUsedAt.lt(stale_before)),
            )
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
