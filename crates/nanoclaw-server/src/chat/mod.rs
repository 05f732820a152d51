//! Conversations and their answers: the conversation service behind `/api/conversations/*`
//! and `/api/stats/tokens`.
//!
//! The agent loop and the LLM client live in their own crates; this module owns what ties
//! them to a user: ownership (another user's conversation, message or project is a 404),
//! validation, the stored user message, the stream lock, saving whatever an answer produced
//! (completed or not), token usage and titles.

mod answer;
mod conversations;
mod history;
pub mod input;
pub mod sse;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use nanoclaw_agent::{Agent, AgentSettings, CancellationToken, ToolRegistry};
use nanoclaw_core::Config;
use nanoclaw_core::config::ModelConfig;
use nanoclaw_llm::{Client, ClientSettings};
use nanoclaw_store::Store;
use tokio_util::task::TaskTracker;

pub use answer::StreamStart;
pub use conversations::{CONVERSATIONS_PAGE, MESSAGES_PAGE, page_params};

use crate::error::AppError;
use crate::projects::Projects;

/// The conversation service.
#[derive(Debug)]
pub struct Chat {
    store: Store,
    /// Opens the workspace of the project an answer works in (after the ownership check).
    projects: Projects,
    /// Applies the stream writes (open, renew, end) in batches.
    writer: writer::Writer,
    agent: Agent,
    models: Arc<[ModelConfig]>,
    default_model: String,
    streams: Streams,
}

/// The open answer streams: their tasks, and the signal that cuts them at shutdown.
#[derive(Debug)]
struct Streams {
    tracker: TaskTracker,
    /// Cancelled when the shutdown grace has passed; every answer's token is a child.
    shutdown: CancellationToken,
    /// How long open answers may go on after a shutdown signal.
    grace: Duration,
}

impl Chat {
    /// The service for `config`, with the built-in tools.
    pub fn new(store: Store, projects: Projects, config: &Config) -> Result<Self, AppError> {
        let client = Client::new(ClientSettings {
            idle_timeout: Duration::from_secs(config.llm_idle_timeout),
            ..ClientSettings::default()
        })
        .map_err(|e| AppError::internal(format!("cannot build the LLM client: {e}")))?;
        let settings = AgentSettings {
            max_iterations: config.max_iterations,
            tool_max_workers: usize::try_from(config.tool_max_workers).unwrap_or(1),
            ..AgentSettings::default()
        };
        let agent = Agent::new(
            client,
            Arc::new(ToolRegistry::from_config(config)),
            settings,
        );
        Ok(Self {
            writer: writer::Writer::start(store.clone()),
            store,
            projects,
            agent,
            models: config.models.clone().into(),
            default_model: config.default_model.clone(),
            streams: Streams {
                tracker: TaskTracker::new(),
                shutdown: CancellationToken::new(),
                grace: Duration::from_secs(config.stream_shutdown_grace),
            },
        })
    }

    /// `GET /api/tools`: the registry's tools.
    pub fn tools_json(&self) -> serde_json::Value {
        self.agent.registry().catalog_json()
    }

    /// Called when the server was told to stop: open answers may finish within the grace
    /// period; then they are cut, and each saves what it has.
    pub fn begin_shutdown(&self) {
        self.streams.tracker.close();
        let shutdown = self.streams.shutdown.clone();
        let grace = self.streams.grace;
        let tracker = self.streams.tracker.clone();
        tokio::spawn(async move {
            if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
                tracing::info!("shutdown grace over; ending the open answers");
            }
            shutdown.cancel();
        });
    }

    /// Waits (at most `limit`) until every answer task has saved its work.
    pub async fn wait_for_streams(&self, limit: Duration) {
        self.streams.tracker.close();
        if tokio::time::timeout(limit, self.streams.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some answers were still saving at exit");
        }
    }
}
