//! nanoClaw's schema with its table, column and index names, so that a database created by the
//! original (SQLAlchemy `create_all`, no migration table) is adopted in place: every table and
//! index is created only when missing.

use sea_orm_migration::prelude::*;

use super::{datetime_col, ensure_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Email,
    Avatar,
    Role,
    IsActive,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    UserId,
    Name,
    Path,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    UserId,
    ProjectId,
    Title,
    Model,
    SystemPrompt,
    Temperature,
    MaxTokens,
    ThinkingEnabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    ConversationId,
    Role,
    Content,
    TokenCount,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TokenUsage {
    Table,
    Id,
    UserId,
    Date,
    Model,
    PromptTokens,
    CompletionTokens,
    TotalTokens,
    CreatedAt,
}

fn cascade_fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// `users.username`: usernames are case-sensitive everywhere (login looks up exactly what was
/// typed), so MySQL gets a binary collation instead of its case-insensitive default.
fn username_col(mysql: bool) -> ColumnDef {
    let mut col = ColumnDef::new(Users::Username);
    col.string_len(50).not_null().unique_key();
    if mysql {
        col.extra("COLLATE utf8mb4_bin");
    }
    col
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == sea_orm::DbBackend::MySql;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Users::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(username_col(mysql))
                    .col(ColumnDef::new(Users::PasswordHash).string_len(255).null())
                    .col(
                        ColumnDef::new(Users::Email)
                            .string_len(120)
                            .null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::Avatar).string_len(512).null())
                    .col(
                        ColumnDef::new(Users::Role)
                            .string_len(20)
                            .not_null()
                            .default("user"),
                    )
                    .col(
                        ColumnDef::new(Users::IsActive)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(datetime_col(manager, Users::CreatedAt).null())
                    .col(datetime_col(manager, Users::LastLoginAt).null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Projects::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Projects::UserId).integer().not_null())
                    .col(ColumnDef::new(Projects::Name).string_len(255).not_null())
                    .col(ColumnDef::new(Projects::Path).string_len(512).not_null())
                    .col(ColumnDef::new(Projects::Description).text().null())
                    .col(datetime_col(manager, Projects::CreatedAt).null())
                    .col(datetime_col(manager, Projects::UpdatedAt).null())
                    .foreign_key(&mut cascade_fk(
                        "fk_projects_user_id",
                        (Projects::Table, Projects::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .index(
                        Index::create()
                            .name("uq_user_project_name")
                            .col(Projects::UserId)
                            .col(Projects::Name)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        ensure_index(manager, "projects", "ix_projects_user_id", &["user_id"]).await?;
        ensure_index(
            manager,
            "projects",
            "ix_projects_created_at",
            &["created_at"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Conversations::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Conversations::UserId).integer().not_null())
                    .col(
                        ColumnDef::new(Conversations::ProjectId)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Conversations::Title)
                            .string_len(255)
                            .not_null()
                            .default(""),
                    )
                    .col(
                        ColumnDef::new(Conversations::Model)
                            .string_len(64)
                            .not_null()
                            .default("glm-5"),
                    )
                    .col(ColumnDef::new(Conversations::SystemPrompt).text().null())
                    .col(
                        ColumnDef::new(Conversations::Temperature)
                            .double()
                            .not_null()
                            .default(1.0),
                    )
                    .col(
                        ColumnDef::new(Conversations::MaxTokens)
                            .integer()
                            .not_null()
                            .default(65536),
                    )
                    .col(
                        ColumnDef::new(Conversations::ThinkingEnabled)
                            .boolean()
                            .null()
                            .default(false),
                    )
                    .col(datetime_col(manager, Conversations::CreatedAt).null())
                    .col(datetime_col(manager, Conversations::UpdatedAt).null())
                    .foreign_key(&mut cascade_fk(
                        "fk_conversations_user_id",
                        (Conversations::Table, Conversations::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut cascade_fk(
                        "fk_conversations_project_id",
                        (Conversations::Table, Conversations::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        ensure_index(
            manager,
            "conversations",
            "ix_conversations_user_id",
            &["user_id"],
        )
        .await?;
        ensure_index(
            manager,
            "conversations",
            "ix_conversations_project_id",
            &["project_id"],
        )
        .await?;
        ensure_index(
            manager,
            "conversations",
            "ix_conversations_updated_at",
            &["updated_at"],
        )
        .await?;

        let mut content = ColumnDef::new(Messages::Content);
        if mysql {
            // MySQL TEXT holds only 64 KiB; nanoClaw uses LONGTEXT for message bodies.
            content.custom(Alias::new("LONGTEXT"));
        } else {
            content.text();
        }
        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Messages::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Messages::ConversationId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Messages::Role).string_len(16).not_null())
                    .col(content.null())
                    .col(
                        ColumnDef::new(Messages::TokenCount)
                            .integer()
                            .null()
                            .default(0),
                    )
                    .col(datetime_col(manager, Messages::CreatedAt).null())
                    .foreign_key(&mut cascade_fk(
                        "fk_messages_conversation_id",
                        (Messages::Table, Messages::ConversationId),
                        (Conversations::Table, Conversations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        ensure_index(
            manager,
            "messages",
            "ix_messages_conversation_id",
            &["conversation_id"],
        )
        .await?;
        ensure_index(
            manager,
            "messages",
            "ix_messages_created_at",
            &["created_at"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(TokenUsage::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(TokenUsage::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TokenUsage::UserId).integer().not_null())
                    .col(ColumnDef::new(TokenUsage::Date).date().not_null())
                    .col(ColumnDef::new(TokenUsage::Model).string_len(64).not_null())
                    .col(
                        ColumnDef::new(TokenUsage::PromptTokens)
                            .integer()
                            .null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(TokenUsage::CompletionTokens)
                            .integer()
                            .null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(TokenUsage::TotalTokens)
                            .integer()
                            .null()
                            .default(0),
                    )
                    .col(datetime_col(manager, TokenUsage::CreatedAt).null())
                    .foreign_key(&mut cascade_fk(
                        "fk_token_usage_user_id",
                        (TokenUsage::Table, TokenUsage::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .index(
                        Index::create()
                            .name("uq_user_date_model")
                            .col(TokenUsage::UserId)
                            .col(TokenUsage::Date)
                            .col(TokenUsage::Model)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        ensure_index(
            manager,
            "token_usage",
            "ix_token_usage_user_id",
            &["user_id"],
        )
        .await?;
        ensure_index(manager, "token_usage", "ix_token_usage_date", &["date"]).await?;
        ensure_index(
            manager,
            "token_usage",
            "ix_token_usage_date_model",
            &["date", "model"],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "token_usage",
            "messages",
            "conversations",
            "projects",
            "users",
        ] {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
