//! nanoclaw's agent: drives one answer of the chat (chat.md §5).
//!
//! [`Agent::run_answer`] sends the history to the model, streams each round as
//! [`Step`]s (the `process_step` payloads of chat.md §6.3, thinking/text coalesced), assembles
//! the model's tool calls, runs them through the [`ToolExecutor`] (tools.md §2) and feeds the
//! results back, for at most `max_iterations` rounds. However it ends — completed, failed,
//! exhausted or cancelled — it returns an [`AnswerOutcome`] with the steps so far and the token
//! usage, from which the server stores the message ([`AnswerOutcome::stored_content`]).
//!
//! Tools implement [`Tool`] (one file under `tools/`) and are listed in [`tools::builtin`].
//! This crate knows neither HTTP server nor database: the server passes the history in and
//! writes the outcome out.

#![warn(missing_docs)]

mod answer;
mod assemble;
mod executor;
mod hooks;
mod pyjson;
mod registry;
mod step;
mod tool;
pub mod tools;

pub use answer::{
    Agent, AgentSettings, AnswerOutcome, AnswerRequest, EXHAUSTED_MESSAGE, End, LENGTH_NOTE,
    StoredContent,
};
pub use assemble::ToolCallAssembler;
pub use executor::{MAX_WORKERS, ToolExecutor, ToolResult};
pub use hooks::{
    AnswerHooks, RoundCallback, RoundReport, SubAgentRunner, SubAgentTask, UsageMeter,
};
pub use registry::ToolRegistry;
pub use step::{Step, StepKind};
pub use tokio_util::sync::CancellationToken;
pub use tool::{BoxFuture, Tool, ToolContext, ToolOutput};
