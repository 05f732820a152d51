//! The writes of the chat's hot path, applied many at once in one transaction: taking a
//! conversation's stream lock together with the user's message, renewing the lock, and
//! storing an answer with the release of its lock and its token usage.
//!
//! Chats start together and end together. On SQLite's single writer one commit per burst,
//! instead of two or three per chat, decides whether thousands of streams can open at once
//! and how soon `done` follows the model's last byte; on PostgreSQL and MariaDB it saves the
//! round trips of as many transactions. Answers next to each other in a batch also share their
//! statements (per up to 16 answers: one INSERT of their messages, one DELETE of their locks,
//! one SELECT and one UPDATE of their titles): on SQLite each statement is a round trip to
//! the connection's thread, and four per answer made the writer the slowest step of an
//! ending burst.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use nanoclaw_core::chat::{Message, role};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::messages::NewMessage;
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
        // A microsecond apart, in order: an answer and the next user message of the same
        // conversation in one batch keep their order in the history.
        let at = |i: usize| now + TimeDelta::microseconds(i64::try_from(i).unwrap_or(i64::MAX));
        let txn = self.db.begin().await?;
        let mut done = Vec::with_capacity(writes.len());
        // Answers ending together are mostly one user's, or one model's, on one day: their
        // usage is summed per row and written once per row, after the rest.
        let mut usage: Vec<UsageEntry> = Vec::new();
        let mut i = 0;
        while let Some(write) = writes.get(i) {
            match write {
                ChatWrite::Open {
                    conversation_id,
                    holder,
                    ttl,
                    content,
                } => {
                    let locked =
                        conversation_streams::lock(&txn, conversation_id, holder, at(i), *ttl)
                            .await?;
                    let message = if locked {
                        let content = content.clone();
                        Some(
                            messages::insert(&txn, conversation_id, role::USER, content, 0, at(i))
                                .await?,
                        )
                    } else {
                        None
                    };
                    done.push(ChatWritten::Opened(message));
                    i += 1;
                }
                ChatWrite::Renew {
                    conversation_id,
                    holder,
                    ttl,
                } => {
                    done.push(ChatWritten::Renewed(
                        conversation_streams::renew(&txn, conversation_id, holder, at(i), *ttl)
                            .await?,
                    ));
                    i += 1;
                }
                ChatWrite::End(_) => {
                    // The answers ending one after another in the batch are stored together:
                    // a few statements for all of them rather than a few for each.
                    let ending: Vec<(&FinishedAnswer, NaiveDateTime)> = writes[i..]
                        .iter()
                        .map_while(|w| match w {
                            ChatWrite::End(answer) => Some(answer),
                            _ => None,
                        })
                        .enumerate()
                        .map(|(k, answer)| (answer, at(i + k)))
                        .collect();
                    i += ending.len();
                    for (answer, _) in &ending {
                        if let Some(entry) = &answer.usage {
                            add_to(&mut usage, entry);
                        }
                    }
                    done.extend(end_answers(&txn, &ending).await?);
                }
            }
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

/// Stores the answers (those that produced one), releases their locks and sets the automatic
/// titles, in order: a statement or two each for all the answers, not for each answer.
async fn end_answers(
    txn: &impl ConnectionTrait,
    ending: &[(&FinishedAnswer, NaiveDateTime)],
) -> Result<Vec<ChatWritten>, StoreError> {
    let new = ending
        .iter()
        .filter_map(|(answer, at)| {
            answer.content.as_ref().map(|content| NewMessage {
                conversation_id: &answer.conversation_id,
                role: role::ASSISTANT,
                content: content.clone(),
                token_count: answer.token_count,
                at: *at,
            })
        })
        .collect();
    let mut stored = messages::insert_all(txn, new).await?.into_iter();
    let held: Vec<(&str, &str)> = ending
        .iter()
        .map(|(a, _)| (a.conversation_id.as_str(), a.holder.as_str()))
        .collect();
    conversation_streams::unlock_all(txn, &held).await?;
    // Of two answers of one conversation only the first may title it: by the second's turn
    // it has a title.
    let mut titling: Vec<usize> = Vec::new();
    let mut titles: Vec<(&str, &str, NaiveDateTime)> = Vec::new();
    for (k, (answer, at)) in ending.iter().enumerate() {
        if let Some(title) = &answer.title
            && !titles
                .iter()
                .any(|(id, _, _)| *id == answer.conversation_id)
        {
            titling.push(k);
            titles.push((&answer.conversation_id, title, *at));
        }
    }
    let titled = conversations::set_titles_if_untitled(txn, &titles).await?;
    Ok(ending
        .iter()
        .enumerate()
        .map(|(k, (answer, _))| ChatWritten::Ended {
            message: answer.content.as_ref().and_then(|_| stored.next()),
            titled: titling.contains(&k) && titled.contains(&answer.conversation_id),
        })
        .collect())
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
