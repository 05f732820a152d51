//! The `token_usage` table (nanoClaw's columns): one row per user, UTC date and model.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token_usage")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub date: Date,
    pub model: String,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub total_tokens: Option<i32>,
    pub created_at: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for nanoclaw_core::chat::UsageRow {
    fn from(m: Model) -> Self {
        Self {
            date: m.date,
            model: m.model,
            tokens: nanoclaw_core::chat::TokenCounts {
                prompt: m.prompt_tokens.map_or(0, i64::from),
                completion: m.completion_tokens.map_or(0, i64::from),
                total: m.total_tokens.map_or(0, i64::from),
            },
        }
    }
}
