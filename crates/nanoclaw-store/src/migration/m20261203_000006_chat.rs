//! Chat: the per-conversation stream lock and the indexes the keyset pages read.
//!
//! `conversation_streams` holds one row per conversation an answer is being streamed into, so
//! that a second stream is refused in every process; a row whose `expires_at` has passed
//! belongs to a process that died and may be taken over.
//!
//! The pages are `WHERE user_id = ? ORDER BY updated_at DESC, id DESC` and
//! `WHERE conversation_id = ? ORDER BY created_at DESC, id DESC` with a keyset on the same
//! pair, so each gets a composite index that answers it in order without a sort. (On MySQL the
//! keys are at most 4 + 8 + 256 bytes, far below InnoDB's 3072-byte limit.)

use sea_orm_migration::prelude::*;

use super::{datetime_col, ensure_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConversationStreams {
    Table,
    ConversationId,
    Holder,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConversationStreams::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ConversationStreams::ConversationId)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ConversationStreams::Holder)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(datetime_col(manager, ConversationStreams::ExpiresAt).not_null())
                    .to_owned(),
            )
            .await?;
        ensure_index(
            manager,
            "conversations",
            "ix_conversations_user_id_updated_at_id",
            &["user_id", "updated_at", "id"],
        )
        .await?;
        ensure_index(
            manager,
            "messages",
            "ix_messages_conversation_id_created_at_id",
            &["conversation_id", "created_at", "id"],
        )
        .await?;
        // nanoClaw's timestamp columns are nullable. A NULL would fall out of every keyset
        // comparison (and PostgreSQL sorts it first in a descending order), so give such rows
        // a time: they then sort oldest.
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE conversations SET updated_at = COALESCE(created_at, '1970-01-01 00:00:00') \
             WHERE updated_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE messages SET created_at = '1970-01-01 00:00:00' WHERE created_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, index) in [
            ("messages", "ix_messages_conversation_id_created_at_id"),
            ("conversations", "ix_conversations_user_id_updated_at_id"),
        ] {
            if manager.has_index(table, index).await? {
                manager
                    .drop_index(
                        Index::drop()
                            .name(index)
                            .table(Alias::new(table))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        manager
            .drop_table(
                Table::drop()
                    .table(ConversationStreams::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
