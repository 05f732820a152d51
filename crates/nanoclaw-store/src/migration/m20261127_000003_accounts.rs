//! Sessions, API keys, password-reset tokens, the audit log and a row lock serialising changes to who is admin ("first account
//! becomes admin", "the last admin stays").

use sea_orm_migration::prelude::*;

use super::{datetime_col, ensure_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    Ip,
    UserAgent,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum PasswordResetTokens {
    Table,
    TokenHash,
    UserId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    CreatedAt,
    Action,
    Outcome,
    ActorId,
    TargetId,
    Username,
    Ip,
    Detail,
}

#[derive(DeriveIden)]
enum NanoclawLocks {
    Table,
    Name,
    Counter,
}

fn user_fk(name: &str, table: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("user_id"))
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Sessions::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Sessions::UserId).integer().not_null())
                    .col(datetime_col(manager, Sessions::CreatedAt).not_null())
                    .col(datetime_col(manager, Sessions::LastSeenAt).not_null())
                    .col(datetime_col(manager, Sessions::ExpiresAt).not_null())
                    .col(ColumnDef::new(Sessions::Ip).string_len(64).null())
                    .col(ColumnDef::new(Sessions::UserAgent).string_len(255).null())
                    .col(datetime_col(manager, Sessions::RevokedAt).null())
                    .foreign_key(&mut user_fk("fk_sessions_user_id", Sessions::Table))
                    .to_owned(),
            )
            .await?;
        ensure_index(manager, "sessions", "ix_sessions_user_id", &["user_id"]).await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ApiKeys::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ApiKeys::UserId).integer().not_null())
                    .col(ColumnDef::new(ApiKeys::Name).string_len(100).not_null())
                    .col(ColumnDef::new(ApiKeys::Prefix).string_len(16).not_null())
                    .col(
                        ColumnDef::new(ApiKeys::KeyHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(datetime_col(manager, ApiKeys::CreatedAt).not_null())
                    .col(datetime_col(manager, ApiKeys::LastUsedAt).null())
                    .col(datetime_col(manager, ApiKeys::ExpiresAt).null())
                    .foreign_key(&mut user_fk("fk_api_keys_user_id", ApiKeys::Table))
                    .to_owned(),
            )
            .await?;
        ensure_index(manager, "api_keys", "ix_api_keys_user_id", &["user_id"]).await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordResetTokens::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(PasswordResetTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(PasswordResetTokens::UserId)
                            .integer()
                            .not_null(),
                    )
                    .col(datetime_col(manager, PasswordResetTokens::CreatedAt).not_null())
                    .col(datetime_col(manager, PasswordResetTokens::ExpiresAt).not_null())
                    .col(datetime_col(manager, PasswordResetTokens::UsedAt).null())
                    .foreign_key(&mut user_fk(
                        "fk_password_reset_tokens_user_id",
                        PasswordResetTokens::Table,
                    ))
                    .to_owned(),
            )
            .await?;

        // No foreign keys: the record outlives the users it names.
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditLog::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(datetime_col(manager, AuditLog::CreatedAt).not_null())
                    .col(ColumnDef::new(AuditLog::Action).string_len(40).not_null())
                    .col(ColumnDef::new(AuditLog::Outcome).string_len(16).not_null())
                    .col(ColumnDef::new(AuditLog::ActorId).integer().null())
                    .col(ColumnDef::new(AuditLog::TargetId).integer().null())
                    .col(ColumnDef::new(AuditLog::Username).string_len(255).null())
                    .col(ColumnDef::new(AuditLog::Ip).string_len(64).null())
                    .col(ColumnDef::new(AuditLog::Detail).string_len(255).null())
                    .to_owned(),
            )
            .await?;
        ensure_index(manager, "audit_log", "ix_audit_log_action", &["action"]).await?;
        ensure_index(manager, "audit_log", "ix_audit_log_actor_id", &["actor_id"]).await?;
        ensure_index(
            manager,
            "audit_log",
            "ix_audit_log_target_id",
            &["target_id"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(NanoclawLocks::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(NanoclawLocks::Name)
                            .string_len(40)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(NanoclawLocks::Counter)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        let seeded = manager
            .get_connection()
            .query_one(
                Query::select()
                    .column(NanoclawLocks::Name)
                    .from(NanoclawLocks::Table)
                    .and_where(Expr::col(NanoclawLocks::Name).eq("admins")),
            )
            .await?
            .is_some();
        if !seeded {
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(NanoclawLocks::Table)
                        .columns([NanoclawLocks::Name, NanoclawLocks::Counter])
                        .values_panic(["admins".into(), 0.into()])
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "nanoclaw_locks",
            "audit_log",
            "password_reset_tokens",
            "api_keys",
            "sessions",
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
