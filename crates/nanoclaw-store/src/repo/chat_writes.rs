//! The writes of the chat's hot path, applied many at once in one transaction: taking a
//! conversation's stream lock together with the user's message, renewing the lock, and
//! storing an answer with the release of its lock and its token usage.
//!
//! Chats start together and end together. On SQLite's single writer one commit per burst,
//! instead of two or three per chat, decides whether thousands of streams can open at once
//! and how soon `done` follows the model's last byte; on PostgreSQL and MariaDB it saves the
//! round trips of as many transactions.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use nanoclaw_core::chat::{Message, role};
use sea_orm::TransactionTrait;

use super::token_usage::UsageEntry;
use super::{conversation_streams, conversations, is_deadlock, messages, token_usage};
use crate::Store;
use crate::error::StoreError;

/// Attempts of a batch the database aborts to break a deadlock.
const BATCH_ATTEMPTS: usize = 3;

/// One write of the chat's hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatWrite {
    /// Take the conversation's stream lock for `holder` until `now + ttl` and, only if it
    /// was taken, store the user's message (`content`: api.md §2.3).
    Open {
        conversation_id: String,
        holder: String,
        ttl: Duration,
        content: String,
    },
    /// Move the expiry of `holder`'s lock to `now + ttl`.
    Renew {
        conversation_id: String,
        holder: String,
        ttl: Duration,
    },
    /// A stream ended: store its answer (if it produced one), release its lock, add its
    /// token usage, give its conversation its automatic title.
    End(FinishedAnswer),
}

/// What a [`ChatWrite`] did, in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatWritten {
    /// The stored user message; `None` when another stream holds the lock (nothing stored).
    Opened(Option<Message>),
    /// False when `holder` no longer holds the lock (taken over, or conversation deleted).
    Renewed(bool),
    /// The stored assistant message, when there was an answer to store, and whether the
    /// answer's title was set.
    Ended {
        message: Option<Message>,
        titled: bool,
    },
}

/// A stream that ended, as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedAnswer {
    /// Its conversation.
    pub conversation_id: String,
    /// The holder of the conversation's stream lock, released with the save.
    pub holder: String,
    /// The assistant message's stored content (chat.md §7); `None` when the answer produced
    /// nothing worth a message.
    pub content: Option<String>,
    /// Completion tokens of the whole answer.
    pub token_count: i64,
    /// The tokens to add to the user's statistics, if any were used.
    pub usage: Option<UsageEntry>,
    /// The automatic title (chat.md §8): set only if the conversation is still untitled
    /// when the answer is saved (a rename while it streamed wins).
    pub title: Option<String>,
}

impl Store {
    /// Applies `writes` in order in one transaction (the first write's rows get `now`, each
    /// next one a microsecond later); a failure applies none of them. A batch the database aborts as a deadlock victim is run again.
    pub async fn apply_chat_writes(
        &self,
        writes: &[ChatWrite],
        now: NaiveDateTime,
    ) -> Result<Vec<ChatWritten>, StoreError> {
        let mut attempt = 1;
        loop {
            match self.chat_writes_once(writes, now).await {
                Err(StoreError::Db(e)) if attempt < BATCH_ATTEMPTS && is_deadlock(&e) => {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn chat_writes_once(
        &self,
        writes: &[ChatWrite],
        now: NaiveDateTime,
    ) -> Result<Vec<ChatWritten>, StoreError> {
        let txn = self.db.begin().await?;
        let mut done = Vec::with_capacity(writes.len());
        // Answers ending together are mostly one user's, or one model's, on one day: their
        // usage is summed per row and written once per row, after the rest.
        let mut usage: Vec<UsageEntry> = Vec::new();
        for (i, write) in writes.iter().enumerate() {
            // A microsecond apart, in order: an answer and the next user message of the same
            // conversation in one batch keep their order in the history.
            let now = now + TimeDelta::microseconds(i64::try_from(i).unwrap_or(i64::MAX));
            done.push(match write {
                ChatWrite::Open {
                    conversation_id,
                    holder,
                    ttl,
                    content,
                } => {
                    let locked =
                        conversation_streams::lock(&txn, conversation_id, holder, now, *ttl)
                            .await?;
                    let message = if locked {
                        let content = content.clone();
                        Some(
                            messages::insert(&txn, conversation_id, role::USER, content, 0, now)
                                .await?,
                        )
                    } else {
                        None
                    };
                    ChatWritten::Opened(message)
                }
                ChatWrite::Renew {
                    conversation_id,
                    holder,
                    ttl,
                } => ChatWritten::Renewed(
                    conversation_streams::renew(&txn, conversation_id, holder, now, *ttl).await?,
                ),
                ChatWrite::End(answer) => {
                    let message = match &answer.content {
                        Some(content) => Some(
                            messages::insert(
                                &txn,
                                &answer.conversation_id,
                                role::ASSISTANT,
                                content.clone(),
                                answer.token_count,
                                now,
                            )
                            .await?,
                        ),
                        None => None,
                    };
                    conversation_streams::unlock(&txn, &answer.conversation_id, &answer.holder)
                        .await?;
                    if let Some(entry) = &answer.usage {
                        add_to(&mut usage, entry);
                    }
                    let titled = match &answer.title {
                        Some(title) => {
                            conversations::set_title_if_untitled(
                                &txn,
                                &answer.conversation_id,
                                title,
                                now,
                            )
                            .await?
                        }
                        None => false,
                    };
                    ChatWritten::Ended { message, titled }
                }
            });
        }
        // In one order in every batch: two processes' batches cannot wait on each other's rows.
        usage.sort_unstable_by(|a, b| {
            (a.user_id, a.date, &a.model).cmp(&(b.user_id, b.date, &b.model))
        });
        for entry in &usage {
            token_usage::add_usage(&txn, entry, now).await?;
        }
        txn.commit().await?;
        Ok(done)
    }
}

/// Adds `entry` to the row of its user, date and model in `rows` (or a new row).
fn add_to(rows: &mut Vec<UsageEntry>, entry: &UsageEntry) {
    let same = |row: &&mut UsageEntry| {
        row.user_id == entry.user_id && row.date == entry.date && row.model == entry.model
    };
    match rows.iter_mut().find(same) {
        Some(row) => {
            row.delta.prompt = row.delta.prompt.saturating_add(entry.delta.prompt);
            row.delta.completion = row.delta.completion.saturating_add(entry.delta.completion);
        }
        None => rows.push(entry.clone()),
    }
}
