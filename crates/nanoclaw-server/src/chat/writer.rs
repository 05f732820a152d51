//! One task applies the writes of the chat's hot path (a stream's lock with the user's
//! message, lock renewals, the saved answer with its usage): whatever is waiting goes into one
//! transaction ([`Store::apply_chat_writes`]), so a burst of chats opening or ending together
//! costs one commit, not two or three each. When a batch fails, each of its writes is applied
//! again on its own, so one bad row (its conversation deleted meanwhile) cannot fail the others.

use std::time::Duration;

use nanoclaw_core::chat::Message;
use nanoclaw_core::time::now_utc;
use nanoclaw_store::{ChatWrite, ChatWritten, FinishedAnswer, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most writes applied in one transaction.
const MAX_BATCH: usize = 64;
/// Writes waiting for the writer before their callers wait to hand theirs over.
const QUEUE: usize = 1024;

/// A write and where its result goes.
struct Job {
    write: ChatWrite,
    reply: oneshot::Sender<Result<ChatWritten, StoreError>>,
}

/// The handle of the writing task (which ends when every handle is dropped).
#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the chat writer has stopped".into())
}

fn unexpected() -> StoreError {
    StoreError::Unavailable("the chat writer answered another kind of write".into())
}

impl Writer {
    /// Starts the writing task on the current runtime.
    pub fn start(store: Store) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, queue));
        Self { jobs }
    }

    async fn apply(&self, write: ChatWrite) -> Result<ChatWritten, StoreError> {
        let (reply, written) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| stopped())?;
        written.await.map_err(|_| stopped())?
    }

    /// Takes the conversation's stream lock for `holder` and stores the user's message;
    /// `None` when another stream holds the lock (nothing is stored then).
    pub async fn open(
        &self,
        conversation_id: &str,
        holder: &str,
        ttl: Duration,
        content: String,
    ) -> Result<Option<Message>, StoreError> {
        let write = ChatWrite::Open {
            conversation_id: conversation_id.to_owned(),
            holder: holder.to_owned(),
            ttl,
            content,
        };
        match self.apply(write).await? {
            ChatWritten::Opened(message) => Ok(message),
            _ => Err(unexpected()),
        }
    }

    /// Renews `holder`'s lock; false when it no longer holds it.
    pub async fn renew(
        &self,
        conversation_id: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let write = ChatWrite::Renew {
            conversation_id: conversation_id.to_owned(),
            holder: holder.to_owned(),
            ttl,
        };
        match self.apply(write).await? {
            ChatWritten::Renewed(held) => Ok(held),
            _ => Err(unexpected()),
        }
    }

    /// Stores the answer (if any), releases its lock, adds its usage and sets its title;
    /// the stored message, and whether the title was set.
    pub async fn end(&self, answer: FinishedAnswer) -> Result<(Option<Message>, bool), StoreError> {
        match self.apply(ChatWrite::End(answer)).await? {
            ChatWritten::Ended { message, titled } => Ok((message, titled)),
            _ => Err(unexpected()),
        }
    }
}

async fn run(store: Store, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A send whose request went away while it waited here takes no lock.
        batch.retain(|job| !(matches!(job.write, ChatWrite::Open { .. }) && job.reply.is_closed()));
        if batch.is_empty() {
            continue;
        }
        let writes: Vec<ChatWrite> = batch.iter().map(|j| j.write.clone()).collect();
        match store.apply_chat_writes(&writes, now_utc()).await {
            Ok(written) => {
                for (job, result) in batch.drain(..).zip(written) {
                    deliver(&store, job, Ok(result)).await;
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    deliver(&store, job, Err(e)).await;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, writes = batch.len(), "a chat write batch failed; applying its writes one by one");
                // Once a write alone finds the database unreachable, the rest fail with it
                // rather than each waiting out the pool's acquire timeout in turn.
                let mut unreachable: Option<String> = None;
                for job in batch.drain(..) {
                    let one = match &unreachable {
                        Some(reason) => Err(StoreError::Unavailable(reason.clone())),
                        None => store
                            .apply_chat_writes(std::slice::from_ref(&job.write), now_utc())
                            .await
                            .and_then(|mut written| written.pop().ok_or_else(unexpected)),
                    };
                    if let Err(StoreError::Unavailable(reason)) = &one {
                        unreachable.get_or_insert_with(|| reason.clone());
                    }
                    deliver(&store, job, one).await;
                }
            }
        }
    }
}

/// Hands a result to its caller. A lock taken for a caller that has gone meanwhile is
/// released at once (nobody would stream under it, and the conversation would refuse sends
/// until it expired); the user message stays, as it would had the client gone a moment later.
async fn deliver(store: &Store, job: Job, result: Result<ChatWritten, StoreError>) {
    let Job { write, reply } = job;
    if let Err(Ok(ChatWritten::Opened(Some(_)))) = reply.send(result)
        && let ChatWrite::Open {
            conversation_id,
            holder,
            ..
        } = write
        && let Err(e) = store.unlock_stream(&conversation_id, &holder).await
    {
        tracing::warn!(error = %e, "could not release the lock of a send whose client went away");
    }
}

#[cfg(test)]
mod tests {
    use nanoclaw_core::chat::NewConversation;
    use nanoclaw_core::config::DatabaseTarget;
    use nanoclaw_core::user::AuthSource;
    use nanoclaw_store::NewUser;

    use super::*;

    fn answer(conversation_id: &str, text: &str, holder: &str) -> FinishedAnswer {
        FinishedAnswer {
            conversation_id: conversation_id.to_owned(),
            holder: holder.to_owned(),
            content: Some(format!(r#"{{"text":"{text}","steps":[]}}"#)),
            token_count: 3,
            usage: None,
            title: None,
        }
    }

    async fn store_with_conversation() -> (tempfile::TempDir, Store, i64, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&DatabaseTarget::SqliteFile(dir.path().join("t.db")))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let user = store
            .create_user(
                NewUser {
                    username: "u1".into(),
                    password_hash: None,
                    email: None,
                    role: "user".into(),
                    auth_source: AuthSource::Local,
                },
                now_utc(),
            )
            .await
            .unwrap();
        let conversation = store
            .create_conversation(
                NewConversation {
                    user_id: user.id,
                    project_id: None,
                    title: String::new(),
                    model: "m".into(),
                    system_prompt: String::new(),
                    temperature: 1.0,
                    max_tokens: 100,
                    thinking_enabled: false,
                },
                now_utc(),
            )
            .await
            .unwrap();
        (dir, store, user.id, conversation.id)
    }

    #[tokio::test]
    async fn a_bad_answer_does_not_lose_the_others_of_its_batch() {
        let (_dir, store, _, conversation) = store_with_conversation().await;
        let writer = Writer::start(store.clone());
        // Sent together, so that they can share a transaction; the second names no
        // conversation and cannot be stored.
        let (good, bad, good2) = tokio::join!(
            writer.end(answer(&conversation, "one", "h")),
            writer.end(answer("no-such-conversation", "lost", "h")),
            writer.end(answer(&conversation, "two", "h")),
        );
        assert!(bad.is_err());
        let (good, good2) = (good.unwrap().0.unwrap(), good2.unwrap().0.unwrap());
        assert_eq!(good.role, "assistant");
        let history = store.conversation_history(&conversation).await.unwrap();
        let ids: Vec<&str> = history.iter().map(|m| m.id.as_str()).collect();
        assert!(ids.contains(&good.id.as_str()) && ids.contains(&good2.id.as_str()));
        assert_eq!(history.len(), 2);
    }

    #[tokio::test]
    async fn of_two_opens_in_one_batch_one_gets_the_lock_and_stores_its_message() {
        let (_dir, store, user_id, conversation) = store_with_conversation().await;
        let writer = Writer::start(store.clone());
        let ttl = Duration::from_secs(60);
        let (a, b) = tokio::join!(
            writer.open(&conversation, "a", ttl, r#"{"text":"a"}"#.into()),
            writer.open(&conversation, "b", ttl, r#"{"text":"b"}"#.into()),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            a.is_some() != b.is_some(),
            "exactly one open wins: {a:?} {b:?}"
        );
        let winner = if a.is_some() { "a" } else { "b" };
        let loser = if a.is_some() { "b" } else { "a" };
        assert_eq!(
            store
                .conversation_history(&conversation)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(writer.renew(&conversation, winner, ttl).await.unwrap());
        assert!(!writer.renew(&conversation, loser, ttl).await.unwrap());
        // Ending releases the lock and records the usage in the same transaction; an ended
        // stream without an answer stores no message.
        let mut ended = answer(&conversation, "x", winner);
        ended.content = None;
        let today = now_utc().date();
        ended.usage = Some(nanoclaw_store::UsageEntry {
            user_id,
            date: today,
            model: "m".into(),
            delta: nanoclaw_core::chat::UsageDelta {
                prompt: 5,
                completion: 7,
            },
        });
        assert_eq!(writer.end(ended).await.unwrap(), (None, false));
        assert!(!writer.renew(&conversation, winner, ttl).await.unwrap());
        let rows = store.usage_rows(user_id, today, today).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].tokens.prompt, rows[0].tokens.completion), (5, 7));
        assert!(
            writer
                .open(&conversation, loser, ttl, r#"{"text":"c"}"#.into())
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn writes_on_a_closed_database_fail_as_unavailable() {
        let (_dir, store, _, conversation) = store_with_conversation().await;
        let writer = Writer::start(store.clone());
        store.close().await;
        let ttl = Duration::from_secs(60);
        let opens = (0..10).map(|i| {
            let writer = writer.clone();
            let conversation = conversation.clone();
            async move {
                writer
                    .open(&conversation, &format!("h{i}"), ttl, "{}".into())
                    .await
            }
        });
        let results = futures::future::join_all(opens).await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(StoreError::Unavailable(_)))),
            "{results:?}"
        );
    }

    #[tokio::test]
    async fn a_send_abandoned_while_queued_takes_no_lock() {
        let (_dir, store, _, conversation) = store_with_conversation().await;
        let (jobs, queue) = mpsc::channel(4);
        let (reply, abandoned) = oneshot::channel();
        drop(abandoned);
        let write = ChatWrite::Open {
            conversation_id: conversation.clone(),
            holder: "gone".into(),
            ttl: Duration::from_secs(60),
            content: r#"{"text":"lost"}"#.into(),
        };
        jobs.send(Job { write, reply }).await.unwrap();
        drop(jobs);
        run(store.clone(), queue).await;
        assert!(
            store
                .conversation_history(&conversation)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .try_lock_stream(&conversation, "next", now_utc(), Duration::from_secs(60))
                .await
                .unwrap(),
            "the conversation is free for the next send"
        );
    }
}
