//! The `api_keys` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: i32,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub created_at: DateTime,
    pub last_used_at: Option<DateTime>,
    pub expires_at: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for nanoclaw_core::account::ApiKey {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            user_id: i64::from(m.user_id),
            name: m.name,
            prefix: m.prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
        }
    }
}
