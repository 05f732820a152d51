//! Sending a message and regenerating an answer: everything checked and the user message
//! stored before the response starts (errors are envelopes), then the answer streamed as
//! Server-Sent Events by a task of its own.
//!
//! Nothing is lost: whatever way the answer ends (done, model failure, stall, client gone,
//! shutdown) the steps produced so far are saved — marked interrupted unless it completed —
//! and the tokens already used are recorded. A client that goes away cancels the model
//! request and pending tools at once. One answer per conversation at a time, across
//! processes: a conversation's stream lock lives in the database.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::response::Response;
use nanoclaw_agent::{AnswerOutcome, AnswerRequest, CancellationToken, End, Step};
use nanoclaw_core::User;
use nanoclaw_core::chat::{Conversation, Message, UsageDelta, role};
use nanoclaw_core::time::now_utc;
use nanoclaw_llm::{ChatRequest, Client, Endpoint};
use nanoclaw_store::{FinishedAnswer, Store, UsageEntry};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::input::{RegenerateInput, SendInput};
use nanoclaw_core::chat::NEW_CHAT_TITLE;

use super::{Chat, history, sse};
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;
use crate::http::request_id;
use crate::metrics;

/// How long a stream lock lasts without renewal (a crashed process frees it after this).
const LOCK_TTL: Duration = Duration::from_secs(60);
/// How often a streaming answer renews its lock.
const LOCK_RENEW_EVERY: Duration = Duration::from_secs(20);
/// Steps queued towards a client that reads slower than the model writes. A thinking or
/// text step carries the whole text so far, so the queue can hold that many copies of the
/// answer; when it is full the agent skips intermediate updates (the next one supersedes
/// them) and waits only to send a final state or a tool step. Four bounds a slow reader's
/// cost to four copies and is plenty for a client that keeps up.
const STEP_BUFFER: usize = 4;
/// Longest suggested title (characters, chat.md §8).
const TITLE_CHARS: usize = 30;

/// An answer ready to stream: checked, locked, its user message stored.
pub struct StreamStart {
    conversation: Conversation,
    user: Arc<User>,
    request: AnswerRequest,
    user_message_id: Option<String>,
    holder: String,
    /// The automatic title, when the conversation has none yet.
    title: Option<String>,
    /// Set from the moment the lock is held until the answer task takes the start over.
    lock: Option<HeldLock>,
}

/// A stream lock between the moment it is taken and the start of its answer task: dropped
/// meanwhile (the client went away while the history was read), it releases the lock instead
/// of leaving the conversation refusing sends until the lock expires.
struct HeldLock {
    store: Store,
    conversation_id: String,
    holder: String,
    armed: bool,
}

impl HeldLock {
    fn new(store: &Store, start: &StreamStart) -> HeldLock {
        HeldLock {
            store: store.clone(),
            conversation_id: start.conversation.id.clone(),
            holder: start.holder.clone(),
            armed: true,
        }
    }

    /// From here on something else releases the lock.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        let conversation = std::mem::take(&mut self.conversation_id);
        let holder = std::mem::take(&mut self.holder);
        runtime.spawn(async move {
            if let Err(e) = store.unlock_stream(&conversation, &holder).await {
                tracing::warn!(error = %e, "could not release a stream lock; it expires by itself");
            }
        });
    }
}

/// What the end of an answer needs from its start: where it is saved, whose usage it is,
/// what the client is told. (The rest of the start goes to the agent or is freed.)
struct Ending {
    conversation_id: String,
    model: String,
    user_id: i64,
    holder: String,
    title: Option<String>,
    user_message_id: Option<String>,
}

/// `done` (chat.md §6.5, plus `user_message_id`).
#[derive(Serialize)]
struct DoneEvent<'a> {
    message_id: &'a str,
    token_count: u64,
    suggested_title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_message_id: Option<&'a str>,
}

/// The 409 of a second stream on a conversation that is answering.
fn busy() -> AppError {
    AppError::Conflict(
        "This conversation is already answering; wait for it or stop it first".into(),
    )
}

fn not_found() -> AppError {
    AppError::NotFound("conversation not found".into())
}

impl Chat {
    /// `POST /api/conversations/:id/messages`, up to the start of the stream.
    pub async fn prepare_send(
        &self,
        user: Arc<User>,
        conversation_id: &str,
        body: &JsonObject,
    ) -> ApiResult<StreamStart> {
        let conversation = self
            .store
            .conversation(user.id, conversation_id)
            .await?
            .ok_or_else(not_found)?;
        let input = SendInput::parse(body)?;
        let mut start = self
            .prepare(
                user,
                conversation,
                input.tools_enabled,
                input.project_id.as_deref(),
            )
            .await?;
        let mut content = serde_json::json!({ "text": input.text });
        if !input.attachments.is_empty() {
            content["attachments"] = serde_json::to_value(&input.attachments)
                .map_err(|e| AppError::internal(format!("attachments: {e}")))?;
        }
        // The lock is taken and the user message stored (and committed) together, before
        // the model is called: the message stays whatever happens next.
        let stored = self
            .writer
            .open(
                &start.conversation.id,
                &start.holder,
                LOCK_TTL,
                content.to_string(),
            )
            .await?
            .ok_or_else(busy)?;
        start.lock = Some(HeldLock::new(&self.store, &start));
        start.user_message_id = Some(stored.id);
        // Boxed: reading the history takes a large database future, and this request's
        // future is allocated for its largest step while it waits its turn at the writer.
        Box::pin(self.load_history(start)).await
    }

    /// `POST /api/conversations/:id/regenerate/:message_id`, up to the start of the stream.
    /// The body is checked before anything is deleted; the answer and every later message
    /// are deleted only once the conversation's lock is held and the model is known usable.
    pub async fn prepare_regenerate(
        &self,
        user: Arc<User>,
        conversation_id: &str,
        message_id: &str,
        body: &JsonObject,
    ) -> ApiResult<StreamStart> {
        let conversation = self
            .store
            .conversation(user.id, conversation_id)
            .await?
            .ok_or_else(not_found)?;
        let input = RegenerateInput::parse(body)?;
        let message = self
            .store
            .message(&conversation.id, message_id)
            .await?
            .ok_or_else(|| AppError::NotFound("message not found".into()))?;
        if message.role != "assistant" {
            return Err(AppError::bad_request(
                "can only regenerate assistant messages",
            ));
        }
        let mut start = self
            .prepare(
                user,
                conversation,
                input.tools_enabled,
                input.project_id.as_deref(),
            )
            .await?;
        let locked = self
            .store
            .try_lock_stream(&start.conversation.id, &start.holder, now_utc(), LOCK_TTL)
            .await?;
        if !locked {
            return Err(busy());
        }
        start.lock = Some(HeldLock::new(&self.store, &start));
        if let Err(e) = self
            .store
            .delete_messages_from(&start.conversation.id, &message.id)
            .await
        {
            self.release(&mut start).await;
            return Err(e.into());
        }
        // Boxed, as in `prepare_send`.
        Box::pin(self.load_history(start)).await
    }

    /// Checks shared by send and regenerate (the caller takes the stream lock).
    async fn prepare(
        &self,
        user: Arc<User>,
        conversation: Conversation,
        tools_enabled: bool,
        body_project: Option<&str>,
    ) -> ApiResult<StreamStart> {
        // The project comes from the body (checked to be the caller's) or the conversation,
        // never from what the model writes; its folder is opened here, once.
        let project_id = body_project
            .map(str::to_owned)
            .or_else(|| conversation.project_id.clone());
        let workspace = match &project_id {
            Some(p) => Some(self.projects.open_owned(&user, p).await?),
            None => None,
        };
        let endpoint = self.endpoint(&conversation.model)?;
        let max_tokens = u32::try_from(conversation.max_tokens.max(1)).unwrap_or(u32::MAX);
        let check = ChatRequest {
            messages: Vec::new(),
            temperature: conversation.temperature,
            max_tokens,
            thinking: conversation.thinking_enabled,
            tools: Arc::from([]),
            stream: true,
        };
        Client::check(&endpoint, &check).map_err(|e| AppError::bad_request(e.to_string()))?;
        let holder = uuid::Uuid::new_v4().to_string();
        let request = AnswerRequest {
            endpoint,
            model: conversation.model.clone(),
            history: Vec::new(),
            temperature: conversation.temperature,
            max_tokens,
            thinking: conversation.thinking_enabled,
            tools_enabled,
            project_id,
            workspace,
            user_id: user.id,
        };
        Ok(StreamStart {
            conversation,
            user,
            request,
            user_message_id: None,
            holder,
            title: None,
            lock: None,
        })
    }

    /// Reads the history into the request (the lock is released if that fails).
    async fn load_history(&self, mut start: StreamStart) -> ApiResult<StreamStart> {
        match self
            .store
            .conversation_history(&start.conversation.id)
            .await
        {
            Ok(stored) => {
                start.request.history =
                    history::build(start.conversation.system_prompt.as_deref(), &stored);
                start.title = automatic_title(&start.conversation, &stored);
                Ok(start)
            }
            Err(e) => {
                self.release(&mut start).await;
                Err(e.into())
            }
        }
    }

    /// The configured model `id` as an endpoint; 400 when it cannot be used.
    fn endpoint(&self, id: &str) -> ApiResult<Endpoint> {
        if self.models.is_empty() {
            return Err(AppError::bad_request(
                "No model is configured: add one under `models` in config.yml",
            ));
        }
        let model = self
            .models
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| AppError::bad_request(format!("Unknown model: '{id}'")))?;
        Ok(Endpoint {
            model: model.id.clone(),
            api_url: model.api_url.clone(),
            api_key: model
                .api_key
                .as_ref()
                .map(|k| k.expose().to_owned())
                .unwrap_or_default(),
            include_usage: model.include_usage,
        })
    }

    /// Releases the lock of a start that will not stream.
    async fn release(&self, start: &mut StreamStart) {
        if let Some(lock) = start.lock.take() {
            lock.disarm();
        }
        self.unlock(&start.conversation.id, &start.holder).await;
    }

    async fn unlock(&self, conversation_id: &str, holder: &str) {
        if let Err(e) = self.store.unlock_stream(conversation_id, holder).await {
            tracing::warn!(error = %e, "could not release a stream lock; it expires by itself");
        }
    }

    /// Starts the answer in a task of its own and returns the event stream.
    pub fn stream(self: &Arc<Self>, start: StreamStart) -> Response {
        let StreamStart {
            conversation,
            user,
            request,
            user_message_id,
            holder,
            title,
            lock,
        } = start;
        let (steps_tx, steps) = mpsc::channel::<Step>(STEP_BUFFER);
        let (last_tx, last) = oneshot::channel::<Bytes>();
        let events =
            sse::AnswerEvents::new(steps, last, conversation.model.clone(), Instant::now());
        let cancel = self.streams.shutdown.child_token();
        // The agent's future is created here and boxed: the task holds only a pointer to it,
        // and frees it as soon as it returns (the task is what every open stream holds).
        let answer = Box::pin(
            self.agent
                .run_answer(request, steps_tx.clone(), cancel.clone()),
        );
        let ending = Ending {
            conversation_id: conversation.id,
            model: conversation.model,
            user_id: user.id,
            holder,
            title,
            user_message_id,
        };
        // From here on the answer task's save releases the lock, whatever way it ends.
        if let Some(lock) = lock {
            lock.disarm();
        }
        let chat = Arc::clone(self);
        let id = request_id::with_current(|id| id.map(str::to_owned));
        // The task owns `ending` and lends it to `run`: an async fn's arguments are stored
        // twice in its future, and this one lives as long as the stream.
        let task = async move {
            chat.run(&ending, answer, cancel, steps_tx, last_tx).await;
        };
        match id.and_then(|id| request_id::RequestId::parse(id.as_bytes())) {
            Some(id) => {
                self.streams.tracker.spawn(request_id::scope(id, task));
            }
            None => {
                self.streams.tracker.spawn(task);
            }
        }
        sse::response(events)
    }

    /// The answer task: runs the agent (whose steps go straight to the client), watches the
    /// client, renews the lock, then saves and hands the last event over.
    async fn run(
        &self,
        ending: &Ending,
        mut answer: Pin<Box<impl Future<Output = AnswerOutcome>>>,
        cancel: CancellationToken,
        steps: mpsc::Sender<Step>,
        last: oneshot::Sender<Bytes>,
    ) {
        let started = Instant::now();
        metrics::stream_opened();
        // Each stream renews at its own phase: answers started together must not all write
        // their renewal in the same instant (that burst would delay everyone's `done`).
        let phase = LOCK_RENEW_EVERY.mul_f64(0.5 + rand::random::<f64>());
        let mut renew =
            tokio::time::interval_at(tokio::time::Instant::now() + phase, LOCK_RENEW_EVERY);
        let mut client_gone = false;
        let outcome = loop {
            tokio::select! {
                outcome = &mut answer => break outcome,
                () = steps.closed(), if !client_gone => {
                    client_gone = true;
                    tracing::info!("client went away; cancelling the answer");
                    cancel.cancel();
                }
                _ = renew.tick() => {
                    // Boxed: a renewal is rare, and its future would otherwise take room in
                    // every stream's task for the whole answer.
                    let held = Box::pin(self.writer.renew(
                        &ending.conversation_id,
                        &ending.holder,
                        LOCK_TTL,
                    ))
                    .await;
                    if matches!(held, Ok(false)) {
                        tracing::warn!("stream lock lost (conversation deleted?); ending the answer");
                        cancel.cancel();
                    }
                }
            }
        };
        // The steps end here (the agent's sender went with its future): the client reads
        // what is queued, then waits for the last event.
        drop(steps);
        let shutting_down = self.streams.shutdown.is_cancelled();
        // One write stores the answer, releases the lock and records the usage, before
        // `done`: a client sending again at once is not refused, and one that read to the
        // end sees the tokens counted.
        // The agent's future is freed before saving; the save (database futures are large)
        // gets a box of its own for its moment, so this task stays small while it streams.
        drop(answer);
        let frame = Box::pin(self.save(ending, &outcome, shutting_down)).await;
        // Counted before the client can see the end (a scrape right after `done` includes it).
        metrics::stream_closed(&ending.model, &outcome, started.elapsed());
        // A client that went away has dropped the receiver: nothing to send to.
        let _ = last.send(frame);
    }

    /// What the answer used, for the day's row of its user and model.
    fn usage(ending: &Ending, outcome: &AnswerOutcome) -> Option<UsageEntry> {
        let delta = UsageDelta {
            prompt: i64::try_from(outcome.prompt_tokens).unwrap_or(i64::MAX),
            completion: i64::try_from(outcome.completion_tokens).unwrap_or(i64::MAX),
        };
        (delta.prompt != 0 || delta.completion != 0).then(|| UsageEntry {
            user_id: ending.user_id,
            date: now_utc().date(),
            model: ending.model.clone(),
            delta,
        })
    }

    /// When the answer could not be saved: frees the lock and still counts the tokens.
    async fn release_and_count(&self, ending: &Ending, usage: Option<UsageEntry>) {
        self.unlock(&ending.conversation_id, &ending.holder).await;
        let Some(usage) = usage else { return };
        if let Err(e) = self
            .store
            .add_usage(
                usage.user_id,
                usage.date,
                &usage.model,
                usage.delta,
                now_utc(),
            )
            .await
        {
            tracing::error!(error = %e, "could not record token usage");
        }
    }

    /// Saves what the answer produced, releases the conversation's lock and records the
    /// usage; returns the last event.
    async fn save(&self, ending: &Ending, outcome: &AnswerOutcome, shutting_down: bool) -> Bytes {
        let usage = Self::usage(ending, outcome);
        // An answer that produced nothing at all leaves no empty message behind.
        let content = if outcome.steps.is_empty() && outcome.end != End::Completed {
            None
        } else {
            match serde_json::to_string(&outcome.stored_content()) {
                Ok(c) => Some(c),
                Err(e) => {
                    self.release_and_count(ending, usage).await;
                    return sse::error(&format!("Internal error: {e}"));
                }
            }
        };
        let completed = outcome.end == End::Completed;
        let answer = FinishedAnswer {
            conversation_id: ending.conversation_id.clone(),
            holder: ending.holder.clone(),
            // Only a completed answer names its conversation.
            title: ending
                .title
                .clone()
                .filter(|_| completed && content.is_some()),
            content,
            token_count: i64::try_from(outcome.completion_tokens).unwrap_or(i64::MAX),
            usage: usage.clone(),
        };
        let (saved, titled) = match self.writer.end(answer).await {
            Ok(ended) => ended,
            Err(e) => {
                tracing::error!(error = %e, "could not save the answer");
                self.release_and_count(ending, usage).await;
                return sse::error("Internal error: the answer could not be saved");
            }
        };
        if let Some(message) = outcome.end.error_message() {
            return sse::error(message);
        }
        let Some(saved) = saved.filter(|_| completed) else {
            return sse::error(if shutting_down {
                "The server is restarting; the answer so far was saved"
            } else {
                "The answer was stopped; what it had so far was saved"
            });
        };
        let suggested = titled.then_some(ending.title.as_deref()).flatten();
        sse::event(
            sse::DONE,
            &DoneEvent {
                message_id: &saved.id,
                token_count: outcome.completion_tokens,
                suggested_title: suggested,
                user_message_id: ending.user_message_id.as_deref(),
            },
        )
    }
}

/// chat.md §8: the title an untitled conversation gets with its first completed answer, from
/// its first user message (its first 30 characters; [`NEW_CHAT_TITLE`] when it has no text).
fn automatic_title(conversation: &Conversation, stored: &[Message]) -> Option<String> {
    if !super::conversations::untitled(&conversation.title) {
        return None;
    }
    let text = stored
        .iter()
        .find(|m| m.role == role::USER)
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m.content).ok())
        .and_then(|c| c.get("text").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let title: String = text.chars().take(TITLE_CHARS).collect();
    Some(if title.is_empty() {
        NEW_CHAT_TITLE.to_owned()
    } else {
        title
    })
}
