//! The `audit_log` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: DateTime,
    pub action: String,
    pub outcome: String,
    pub actor_id: Option<i32>,
    pub target_id: Option<i32>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for nanoclaw_core::account::AuditRecord {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            created_at: m.created_at,
            action: m.action,
            outcome: m.outcome,
            actor_id: m.actor_id.map(i64::from),
            target_id: m.target_id.map(i64::from),
            username: m.username,
            ip: m.ip,
            detail: m.detail,
        }
    }
}
