//! The `projects` table (nanoClaw's columns), written by `repo::projects`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: i32,
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub created_at: Option<DateTime>,
    pub updated_at: Option<DateTime>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The domain type; `conversation_count` when the query counted them.
    pub fn into_core(self, conversation_count: Option<i64>) -> nanoclaw_core::project::Project {
        nanoclaw_core::project::Project {
            id: self.id,
            user_id: i64::from(self.user_id),
            name: self.name,
            path: self.path,
            description: self.description.unwrap_or_default(),
            created_at: super::or_epoch(self.created_at),
            updated_at: super::or_epoch(self.updated_at.or(self.created_at)),
            conversation_count,
        }
    }
}
