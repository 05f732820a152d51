//! The `conversations` table (nanoClaw's columns).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: i32,
    pub project_id: Option<String>,
    pub title: String,
    pub model: String,
    pub system_prompt: Option<String>,
    pub temperature: f64,
    pub max_tokens: i32,
    pub thinking_enabled: Option<bool>,
    pub created_at: Option<DateTime>,
    pub updated_at: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The domain type, with the extras only joins provide.
    pub fn into_core(
        self,
        project_name: Option<String>,
        message_count: Option<i64>,
    ) -> nanoclaw_core::chat::Conversation {
        nanoclaw_core::chat::Conversation {
            id: self.id,
            user_id: i64::from(self.user_id),
            project_id: self.project_id,
            project_name,
            title: self.title,
            model: self.model,
            system_prompt: self.system_prompt,
            temperature: self.temperature,
            max_tokens: i64::from(self.max_tokens),
            thinking_enabled: self.thinking_enabled.unwrap_or(false),
            created_at: super::or_epoch(self.created_at),
            updated_at: super::or_epoch(self.updated_at.or(self.created_at)),
            message_count,
        }
    }
}
