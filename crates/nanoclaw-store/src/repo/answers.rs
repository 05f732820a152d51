//! Answers whose stream ended: saved together with the release of their stream locks, many in
//! one transaction. Answers of concurrent chats end in bursts (they started together, they
//! end together); one commit for a burst instead of two per answer keeps the time from the
//! model's last byte to `done` short, above all on SQLite's single writer.

use chrono::NaiveDateTime;
use nanoclaw_core::chat::{Message, role};
use sea_orm::TransactionTrait;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::saturate_i32;
use crate::Store;
use crate::entity::conversation_streams::{self, Entity as Streams};
use crate::entity::messages;
use crate::error::StoreError;

/// An assistant answer to store as its stream ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedAnswer {
    /// Its conversation.
    pub conversation_id: String,
    /// The stored content (chat.md §7).
    pub content: String,
    /// Completion tokens of the whole answer.
    pub token_count: i64,
    /// The holder of the conversation's stream lock, released with the save.
    pub holder: String,
}

impl Store {
    /// Stores each answer as an assistant message (new UUID v4 ids, `created_at = now`) and
    /// releases its stream lock, all in one transaction; the messages come back in order.
    /// A failure saves nothing of the batch.
    pub async fn save_answers(
        &self,
        answers: &[FinishedAnswer],
        now: NaiveDateTime,
    ) -> Result<Vec<Message>, StoreError> {
        let txn = self.db.begin().await?;
        let mut saved = Vec::with_capacity(answers.len());
        for answer in answers {
            let model = messages::ActiveModel {
                id: Set(uuid::Uuid::new_v4().to_string()),
                conversation_id: Set(answer.conversation_id.clone()),
                role: Set(role::ASSISTANT.to_owned()),
                content: Set(Some(answer.content.clone())),
                token_count: Set(Some(saturate_i32(answer.token_count))),
                created_at: Set(Some(now)),
            };
            saved.push(Message::from(model.insert(&txn).await?));
            Streams::delete_many()
                .filter(conversation_streams::Column::ConversationId.eq(&answer.conversation_id))
                .filter(conversation_streams::Column::Holder.eq(&answer.holder))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(saved)
    }
}
