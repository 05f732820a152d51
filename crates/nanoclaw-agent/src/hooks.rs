//! What a running tool may do with the answer it runs in, beyond returning its result:
//! show progress to the user, book model tokens it spent, start sub-agents.
//!
//! The agent loop fills [`AnswerHooks`] for each answer; `AnswerHooks::default()` (unit tests,
//! sub-agents) does nothing and offers no sub-agents.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::answer::AnswerOutcome;
use crate::tool::BoxFuture;

/// The answer-level services a tool can reach through [`crate::ToolContext::hooks`].
#[derive(Clone, Default)]
pub struct AnswerHooks {
    /// Progress lines, shown by the loop as `thinking` steps while the tool batch runs.
    pub(crate) progress: Option<mpsc::UnboundedSender<String>>,
    /// Tokens spent by tools (sub-agents), added to the answer's usage however it ends.
    pub(crate) usage: Arc<UsageMeter>,
    /// Runs sub-agents on the answer's model; absent inside a sub-agent (no recursion).
    pub(crate) sub_agents: Option<Arc<dyn SubAgentRunner>>,
}

impl fmt::Debug for AnswerHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerHooks")
            .field("progress", &self.progress.is_some())
            .field("usage", &self.usage.get())
            .field("sub_agents", &self.sub_agents.is_some())
            .finish()
    }
}

impl AnswerHooks {
    /// Hooks that collect progress lines into `progress` and offer `sub_agents` (tests and the
    /// agent loop).
    pub fn new(
        progress: Option<mpsc::UnboundedSender<String>>,
        sub_agents: Option<Arc<dyn SubAgentRunner>>,
    ) -> AnswerHooks {
        AnswerHooks {
            progress,
            usage: Arc::default(),
            sub_agents,
        }
    }

    /// Shows `line` to the user as a step of the answer (a no-op when nobody listens).
    pub fn progress(&self, line: impl Into<String>) {
        if let Some(tx) = &self.progress {
            // The receiver is gone only when the answer is over; nothing left to show.
            let _ = tx.send(line.into());
        }
    }

    /// Books model tokens a tool spent (recorded with the answer's usage).
    pub fn add_usage(&self, prompt_tokens: u64, completion_tokens: u64) {
        self.usage.add(prompt_tokens, completion_tokens);
    }

    /// Tokens booked so far: `(prompt, completion)`.
    pub fn usage(&self) -> (u64, u64) {
        self.usage.get()
    }

    /// The sub-agent runner, when this answer may start sub-agents.
    pub fn sub_agents(&self) -> Option<&Arc<dyn SubAgentRunner>> {
        self.sub_agents.as_ref()
    }
}

/// Token counters shared between a tool and its answer.
#[derive(Debug, Default)]
pub struct UsageMeter {
    prompt: AtomicU64,
    completion: AtomicU64,
}

impl UsageMeter {
    /// Adds to both counters.
    pub fn add(&self, prompt_tokens: u64, completion_tokens: u64) {
        self.prompt.fetch_add(prompt_tokens, Ordering::Relaxed);
        self.completion
            .fetch_add(completion_tokens, Ordering::Relaxed);
    }

    /// `(prompt, completion)` so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.prompt.load(Ordering::Relaxed),
            self.completion.load(Ordering::Relaxed),
        )
    }
}

/// One sub-agent to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAgentTask {
    /// The instruction, sent as the sub-agent's user message.
    pub instruction: String,
    /// Tool names it may use (offered and allowed at execution); `None` = every tool of the
    /// answer. `multi_agent` is never among them.
    pub tools: Option<Vec<String>>,
    /// Most model rounds; the last one offers no tools.
    pub max_iterations: u32,
}

/// What a sub-agent reports after each of its rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundReport {
    /// 1-based round number.
    pub round: u32,
    /// The sub-agent's round limit.
    pub max_rounds: u32,
    /// The tools the model called this round (empty: it answered).
    pub calls: Vec<String>,
    /// Characters of text the round produced.
    pub text_chars: usize,
    /// Tokens of the round.
    pub prompt_tokens: u64,
    /// Tokens of the round.
    pub completion_tokens: u64,
}

/// Called after each sub-agent round (must be quick: it runs on the sub-agent's task).
pub type RoundCallback = Arc<dyn Fn(&RoundReport) + Send + Sync>;

/// Runs sub-agents on the model of the answer that offers it (its endpoint, client, project).
pub trait SubAgentRunner: Send + Sync {
    /// Runs one sub-agent loop until it answers, fails, runs out of rounds or `cancel` fires;
    /// `on_round` hears of every finished round (with its tokens, so usage survives an abort).
    fn run_sub_agent(
        &self,
        task: SubAgentTask,
        on_round: RoundCallback,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, AnswerOutcome>;
}
