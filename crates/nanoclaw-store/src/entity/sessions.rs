//! The `sessions` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: i32,
    pub created_at: DateTime,
    pub last_seen_at: DateTime,
    pub expires_at: DateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for nanoclaw_core::account::Session {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            user_id: i64::from(m.user_id),
            created_at: m.created_at,
            last_seen_at: m.last_seen_at,
            expires_at: m.expires_at,
            ip: m.ip,
            user_agent: m.user_agent,
            revoked_at: m.revoked_at,
        }
    }
}
