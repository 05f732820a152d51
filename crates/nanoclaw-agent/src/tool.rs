//! What a tool is: its description for the model and an async handler.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

/// A boxed, sendable future; what [`Tool::run`] returns so tools fit behind `Arc<dyn Tool>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A handler's outcome: `Ok(data)` becomes the envelope's `data`, `Err(text)` a failure whose
/// `error` is `text` (tools.md §2.5).
///
/// A handler may also report a failure inside `Ok` the way nanoClaw's handlers did
/// (`{"error": …}` or `{"success": false, …}`); the executor then marks the envelope failed too
/// (tools.md §2.6), so both styles reach the user as failures.
pub type ToolOutput = Result<Value, String>;

/// One tool the model can call.
///
/// Adding a tool is one file under `tools/` implementing this trait plus one line in
/// [`crate::tools::builtin`].
pub trait Tool: Send + Sync + 'static {
    /// Unique name the model calls it by.
    fn name(&self) -> &str;

    /// What the tool does, for the model (a prompt, not wire contract).
    fn description(&self) -> &str;

    /// Category label of tools.md §1 (`data`, `file`, …); not sent to the model.
    fn category(&self) -> &str;

    /// JSON Schema of the arguments object, exactly as tools.md gives it.
    fn parameters(&self) -> Value;

    /// Whether a call changes state or may answer differently when repeated (files, code,
    /// the web). Such calls are never answered from the executor's cache, and running one
    /// forgets every cached result (tools.md §2.4).
    fn has_side_effects(&self) -> bool;

    /// Whether the tool works on the answer's project workspace. Such tools are offered to
    /// the model only when [`ToolContext::workspace`] is bound (tools.md §3); `GET /api/tools`
    /// still lists them.
    fn needs_workspace(&self) -> bool {
        false
    }

    /// Runs the tool on the model's (already validated as an object) arguments.
    ///
    /// Keys the server injects (`project_id`, `_…`) are stripped from `args` before this is
    /// called; trusted values come from `ctx`. Long-running tools should watch `ctx.cancel`;
    /// blocking work belongs in `spawn_blocking`.
    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput>;
}

/// What the server knows about the answer a tool runs in (tools.md §2.3, chat.md §1).
///
/// `Default` is for tests: no project, a fresh cancel token, hooks that do nothing.
#[derive(Debug, Clone, Default)]
pub struct ToolContext {
    /// The conversation's model name (for tools that call the model themselves).
    pub model: String,
    /// The conversation's `max_tokens`.
    pub max_tokens: u32,
    /// The conversation's temperature.
    pub temperature: f64,
    /// The effective project, already checked to belong to `user_id`.
    pub project_id: Option<String>,
    /// That project's workspace: the only way a tool reaches files (never a `project_id` from
    /// the model's arguments, W-05).
    pub workspace: Option<nanoclaw_workspace::Workspace>,
    /// The conversation's owner.
    pub user_id: i64,
    /// Cancelled when the answer is abandoned (client gone, shutdown).
    pub cancel: CancellationToken,
    /// Progress steps, token bookkeeping and sub-agents of the answer (set by the agent loop;
    /// `AnswerHooks::default()` does nothing).
    pub hooks: crate::hooks::AnswerHooks,
}
