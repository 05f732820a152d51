//! One task saves the answers whose streams ended: whatever finished meanwhile is written in
//! one transaction (with the release of their stream locks), so a burst of answers ending
//! together costs one commit, not two each. An answer of a batch that fails is saved again on
//! its own, so one bad row (its conversation deleted meanwhile) cannot lose the others.

use nanoclaw_core::chat::Message;
use nanoclaw_core::time::now_utc;
use nanoclaw_store::{FinishedAnswer, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most answers saved in one transaction.
const MAX_BATCH: usize = 64;
/// Answers waiting for the saver before their streams wait to hand theirs over.
const QUEUE: usize = 1024;

/// An answer and where its saved message goes.
struct Job {
    answer: FinishedAnswer,
    reply: oneshot::Sender<Result<Message, StoreError>>,
}

/// The handle of the saving task (which ends when every handle is dropped).
#[derive(Debug, Clone)]
pub struct Saver {
    jobs: mpsc::Sender<Job>,
}

impl Saver {
    /// Starts the saving task on the current runtime.
    pub fn start(store: Store) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, queue));
        Self { jobs }
    }

    /// Saves `answer` (and releases its stream lock) with whatever else is waiting.
    pub async fn save(&self, answer: FinishedAnswer) -> Result<Message, StoreError> {
        let (reply, saved) = oneshot::channel();
        self.jobs
            .send(Job { answer, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the answer saver has stopped".into()))?;
        saved
            .await
            .map_err(|_| StoreError::Unavailable("the answer saver has stopped".into()))?
    }
}

async fn run(store: Store, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let answers: Vec<FinishedAnswer> = batch.iter().map(|j| j.answer.clone()).collect();
        match store.save_answers(&answers, now_utc()).await {
            Ok(saved) => {
                for (job, message) in batch.into_iter().zip(saved) {
                    let _ = job.reply.send(Ok(message));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
            Err(_) => {
                for job in batch {
                    let one = store
                        .save_answers(std::slice::from_ref(&job.answer), now_utc())
                        .await
                        .and_then(|mut saved| {
                            saved
                                .pop()
                                .ok_or_else(|| StoreError::Unavailable("nothing saved".into()))
                        });
                    let _ = job.reply.send(one);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use nanoclaw_core::chat::NewConversation;
    use nanoclaw_core::config::DatabaseTarget;
    use nanoclaw_core::user::AuthSource;
    use nanoclaw_store::NewUser;

    use super::*;

    fn answer(conversation_id: &str, text: &str) -> FinishedAnswer {
        FinishedAnswer {
            conversation_id: conversation_id.to_owned(),
            content: format!(r#"{{"text":"{text}","steps":[]}}"#),
            token_count: 3,
            holder: "h".into(),
        }
    }

    #[tokio::test]
    async fn a_bad_answer_does_not_lose_the_others_of_its_batch() {
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
        let saver = Saver::start(store.clone());
        // Sent together, so that they can share a transaction; the second names no
        // conversation and cannot be stored.
        let (good, bad, good2) = tokio::join!(
            saver.save(answer(&conversation.id, "one")),
            saver.save(answer("no-such-conversation", "lost")),
            saver.save(answer(&conversation.id, "two")),
        );
        assert!(bad.is_err());
        let (good, good2) = (good.unwrap(), good2.unwrap());
        assert_eq!(good.role, "assistant");
        let history = store.conversation_history(&conversation.id).await.unwrap();
        let ids: Vec<&str> = history.iter().map(|m| m.id.as_str()).collect();
        assert!(ids.contains(&good.id.as_str()) && ids.contains(&good2.id.as_str()));
        assert_eq!(history.len(), 2);
    }
}
