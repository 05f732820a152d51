//! The `users` table (nanoClaw's columns plus `token_version`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub username: String,
    pub password_hash: Option<String>,
    pub email: Option<String>,
    pub avatar: Option<String>,
    pub role: String,
    pub is_active: bool,
    pub created_at: Option<DateTime>,
    pub last_login_at: Option<DateTime>,
    pub token_version: i64,
    pub auth_source: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for nanoclaw_core::User {
    fn from(m: Model) -> Self {
        Self {
            id: i64::from(m.id),
            username: m.username,
            password_hash: m.password_hash,
            email: m.email,
            avatar: m.avatar,
            role: m.role,
            is_active: m.is_active,
            created_at: m.created_at,
            last_login_at: m.last_login_at,
            token_version: m.token_version,
            auth_source: nanoclaw_core::user::AuthSource::from_stored(m.auth_source.as_deref()),
        }
    }
}
