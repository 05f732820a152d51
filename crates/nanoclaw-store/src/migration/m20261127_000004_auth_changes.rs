//! `auth_changes`: one row per change that can end someone's access (password, role, disable,
//! session end, key deletion, account deletion). Server processes poll it to drop cached
//! authentication state within a second of a change made by another process or the CLI.

use sea_orm_migration::prelude::*;

use super::{datetime_col, ensure_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthChanges {
    Table,
    Id,
    UserId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthChanges::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuthChanges::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuthChanges::UserId).integer().not_null())
                    .col(datetime_col(manager, AuthChanges::CreatedAt).not_null())
                    .to_owned(),
            )
            .await?;
        ensure_index(
            manager,
            "auth_changes",
            "ix_auth_changes_created_at",
            &["created_at"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AuthChanges::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
