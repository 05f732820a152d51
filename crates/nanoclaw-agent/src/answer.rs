//! The agent loop (chat.md §5): rounds against the model, tools in between, steps out.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use nanoclaw_llm::{ChatRequest, Client, Delta, Endpoint, Message, RoundStream, ToolCall};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::assemble::ToolCallAssembler;
use crate::executor::{ToolExecutor, ToolResult};
use crate::hooks::{
    AnswerHooks, RoundCallback, RoundReport, SubAgentRunner, SubAgentTask, UsageMeter,
};
use crate::registry::ToolRegistry;
use crate::step::{Step, StepKind};
use crate::tool::{BoxFuture, ToolContext};

/// The error text when the model still wants tools after the last allowed round (chat.md §10).
pub const EXHAUSTED_MESSAGE: &str = "Exceeded maximum tool call iterations";

/// Appended to the final text when the model stopped at `max_tokens` (`finish_reason: "length"`).
///
/// A note rather than an `error` event: the frontend discards a streamed answer on `error`, and a
/// truncated answer is still worth keeping — the user sees it and why it stops.
pub const LENGTH_NOTE: &str =
    "\n\n[The answer was cut off because it reached the max_tokens limit.]";

/// Loop settings from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentSettings {
    /// Most model rounds per answer (config `max_iterations`, at least 1).
    pub max_iterations: u32,
    /// Most tools running at once (config `tool_max_workers`, clamped to 1..=6).
    pub tool_max_workers: usize,
    /// Least time between two updates of one thinking/text step (chat.md §6.4); zero sends
    /// every delta.
    pub coalesce: Duration,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            max_iterations: 5,
            tool_max_workers: 4,
            coalesce: Duration::from_millis(50),
        }
    }
}

/// Runs answers; one per process, shared by every request (cheap to clone: every open
/// answer's future holds a clone).
#[derive(Debug, Clone)]
pub struct Agent {
    parts: Arc<AgentParts>,
}

#[derive(Debug)]
struct AgentParts {
    client: Client,
    registry: Arc<ToolRegistry>,
    settings: AgentSettings,
}

/// Everything one answer needs from the server, snapshotted when the request arrived.
#[derive(Debug, Clone)]
pub struct AnswerRequest {
    /// Where and as which model to ask.
    pub endpoint: Endpoint,
    /// The conversation's model id as configured (for tools; `endpoint.model` is the provider's name).
    pub model: String,
    /// The history of chat.md §2 (system prompt first, flattened texts).
    pub history: Vec<Message>,
    /// The conversation's temperature.
    pub temperature: f64,
    /// The conversation's `max_tokens`.
    pub max_tokens: u32,
    /// The conversation's `thinking_enabled` (already checked against the provider).
    pub thinking: bool,
    /// Offer the registry's tools (the request's `tools_enabled`).
    pub tools_enabled: bool,
    /// The effective project, already checked to belong to `user_id`.
    pub project_id: Option<String>,
    /// The workspace of `project_id`, opened by the server after its ownership check; the
    /// file tools are offered only when it is set.
    pub workspace: Option<nanoclaw_workspace::Workspace>,
    /// The conversation's owner.
    pub user_id: i64,
}

/// How an answer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The model answered without asking for more tools.
    Completed,
    /// The model request failed; the user-facing text of chat.md §10.
    Failed(String),
    /// The last allowed round still asked for tools ([`EXHAUSTED_MESSAGE`]).
    Exhausted,
    /// The answer was cancelled (client gone, shutdown) or nobody listened to the steps.
    Cancelled,
}

impl End {
    /// The `content` of the `error` event to send, if this end needs one.
    pub fn error_message(&self) -> Option<&str> {
        match self {
            End::Completed | End::Cancelled => None,
            End::Failed(message) => Some(message),
            End::Exhausted => Some(EXHAUSTED_MESSAGE),
        }
    }

    /// Whether the answer stopped before the model finished (stored as `"interrupted": true`).
    pub fn is_interrupted(&self) -> bool {
        *self != End::Completed
    }
}

/// What an answer produced, whatever way it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerOutcome {
    /// Every step in its final form, in index order (chat.md §7.1), including a cut-off round's.
    pub steps: Vec<Step>,
    /// The text of the last round (the stored message's `text`).
    pub text: String,
    /// The legacy `tool_calls` list of chat.md §7.2, one entry per call that got a result.
    pub tool_calls: Vec<Value>,
    /// Prompt tokens summed over rounds.
    pub prompt_tokens: u64,
    /// Completion tokens summed over rounds (the message's `token_count`).
    pub completion_tokens: u64,
    /// How it ended.
    pub end: End,
}

impl AnswerOutcome {
    /// The stored assistant `content` (chat.md §7): `{"text", "tool_calls"?, "steps", "interrupted"?}`.
    /// Serialise it with `serde_json::to_string`.
    pub fn stored_content(&self) -> StoredContent<'_> {
        StoredContent(self)
    }
}

/// The stored form of an [`AnswerOutcome`]; see [`AnswerOutcome::stored_content`].
#[derive(Debug, Clone, Copy)]
pub struct StoredContent<'a>(&'a AnswerOutcome);

impl Serialize for StoredContent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let outcome = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("text", &outcome.text)?;
        if !outcome.tool_calls.is_empty() {
            map.serialize_entry("tool_calls", &outcome.tool_calls)?;
        }
        map.serialize_entry("steps", &outcome.steps)?;
        if outcome.end.is_interrupted() {
            map.serialize_entry("interrupted", &true)?;
        }
        map.end()
    }
}

/// Why a round stopped early.
enum Stop {
    Cancelled,
    Failed(String),
}

/// One thinking or text step of the round being streamed.
#[derive(Default)]
struct Live {
    content: String,
    index: Option<u32>,
    /// Changed since it was last sent.
    dirty: bool,
}

#[derive(Default)]
struct Round {
    thinking: Live,
    text: Live,
    calls: ToolCallAssembler,
    prompt_tokens: u64,
    completion_tokens: u64,
    finish: Option<String>,
}

impl Round {
    fn step(index: u32, thinking: bool, content: String) -> Step {
        let kind = if thinking {
            StepKind::Thinking { content }
        } else {
            StepKind::Text { content }
        };
        Step {
            index,
            kind: Box::new(kind),
        }
    }

    /// The round's live steps as (index, is thinking), lower index first.
    fn live_order(&self) -> impl Iterator<Item = (u32, bool)> + use<> {
        let mut order = [
            self.thinking.index.map(|i| (i, true)),
            self.text.index.map(|i| (i, false)),
        ];
        order.sort_unstable();
        order.into_iter().flatten()
    }

    fn live_ref(&self, thinking: bool) -> &Live {
        if thinking { &self.thinking } else { &self.text }
    }

    fn live(&mut self, thinking: bool) -> &mut Live {
        if thinking {
            &mut self.thinking
        } else {
            &mut self.text
        }
    }

    /// Appends to thinking or text; the first piece of a kind takes the next free index, so
    /// whichever kind arrives first gets the lower one (chat.md §6.3, recommended variant).
    fn append(&mut self, thinking: bool, piece: &str, next_index: u32) {
        let other_exists = self.live(!thinking).index.is_some();
        let live = self.live(thinking);
        if live.index.is_none() {
            live.index = Some(next_index + u32::from(other_exists));
        }
        live.content.push_str(piece);
        live.dirty = true;
    }
}

/// The state of one answer across rounds.
struct Run<'a> {
    tx: &'a mpsc::Sender<Step>,
    cancel: &'a CancellationToken,
    coalesce: Duration,
    steps: Vec<Step>,
    next_index: u32,
    prompt_tokens: u64,
    completion_tokens: u64,
    tool_calls: Vec<Value>,
    /// Tokens the answer's tools spent (sub-agents), added to the totals at the end.
    tool_usage: Arc<UsageMeter>,
}

impl Run<'_> {
    /// Sends a step, waiting for room in the channel; a closed channel counts as cancellation.
    async fn send(&self, step: Step) -> Result<(), Stop> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Stop::Cancelled),
            sent = self.tx.send(step) => sent.map_err(|_| Stop::Cancelled),
        }
    }

    /// Sends the dirty live steps without waiting; false when the channel was full and some
    /// are still dirty. Skipping is fine for intermediate updates — the next one supersedes
    /// them — and it means a slow client never stalls reading the model.
    fn try_flush(&self, round: &mut Round) -> Result<bool, Stop> {
        for (index, thinking) in round.live_order() {
            let live = round.live(thinking);
            if !live.dirty {
                continue;
            }
            match self
                .tx
                .try_send(Round::step(index, thinking, live.content.clone()))
            {
                Ok(()) => live.dirty = false,
                Err(TrySendError::Full(_)) => return Ok(false),
                Err(TrySendError::Closed(_)) => return Err(Stop::Cancelled),
            }
        }
        Ok(true)
    }

    /// Sends the final state of every dirty live step, waiting for room in the channel.
    async fn flush(&self, round: &mut Round) -> Result<(), Stop> {
        for (index, thinking) in round.live_order() {
            let live = round.live(thinking);
            if live.dirty {
                live.dirty = false;
                let step = Round::step(index, thinking, live.content.clone());
                self.send(step).await?;
            }
        }
        Ok(())
    }

    /// Streams one round into `round`, forwarding thinking/text updates coalesced to at most
    /// one per step every `coalesce`, and the final state of both at the end.
    async fn stream_round(&self, stream: &mut RoundStream, round: &mut Round) -> Result<(), Stop> {
        let cancelled = self.cancel.cancelled();
        tokio::pin!(cancelled);
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        // A flush is due when the timer fires.
        let mut armed = false;
        // The channel was full: send again as soon as it has room (no timer spinning).
        let mut blocked = false;
        let mut last_flush: Option<Instant> = None;
        loop {
            tokio::select! {
                biased;
                () = &mut cancelled => return Err(Stop::Cancelled),
                permit = self.tx.reserve(), if blocked => {
                    let permit = permit.map_err(|_| Stop::Cancelled)?;
                    if let Some((index, thinking)) = round.live_order().find(|&(_, t)| round.live_ref(t).dirty) {
                        let live = round.live(thinking);
                        live.dirty = false;
                        permit.send(Round::step(index, thinking, live.content.clone()));
                    }
                    blocked = !self.try_flush(round)?;
                    last_flush = Some(Instant::now());
                }
                () = &mut timer, if armed => {
                    armed = false;
                    blocked = !self.try_flush(round)?;
                    last_flush = Some(Instant::now());
                }
                next = stream.next() => match next {
                    None => break,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, kind = e.kind(), "model round failed");
                        return Err(Stop::Failed(e.user_message()));
                    }
                    Some(Ok(delta)) => {
                        if !self.apply(round, delta) || armed || blocked {
                            continue;
                        }
                        let now = Instant::now();
                        match last_flush {
                            Some(at) if now < at + self.coalesce => {
                                timer.as_mut().reset(at + self.coalesce);
                                armed = true;
                            }
                            _ => {
                                blocked = !self.try_flush(round)?;
                                last_flush = Some(now);
                            }
                        }
                    }
                },
            }
        }
        if round.finish.as_deref() == Some("length") && round.calls.is_empty() {
            round.append(false, LENGTH_NOTE, self.next_index);
        }
        // Boxed: it waits for room in the channel, and only at the end of a round.
        Box::pin(self.flush(round)).await
    }

    /// Folds a delta into the round; true when a live step changed.
    fn apply(&self, round: &mut Round, delta: Delta) -> bool {
        match delta {
            Delta::Reasoning(piece) if !piece.is_empty() => {
                round.append(true, &piece, self.next_index);
                true
            }
            Delta::Content(piece) if !piece.is_empty() => {
                round.append(false, &piece, self.next_index);
                true
            }
            Delta::Reasoning(_) | Delta::Content(_) => false,
            Delta::ToolCall {
                index,
                id,
                name,
                arguments,
            } => {
                round
                    .calls
                    .push(index, id.as_deref(), name.as_deref(), arguments.as_deref());
                false
            }
            Delta::Usage {
                prompt_tokens,
                completion_tokens,
            } => {
                round.prompt_tokens = prompt_tokens;
                round.completion_tokens = completion_tokens;
                false
            }
            Delta::Finish(reason) => {
                round.finish = Some(reason);
                false
            }
        }
    }

    /// Books the round's usage and final thinking/text steps; returns the round's text.
    fn close_round(&mut self, round: &mut Round) -> String {
        self.prompt_tokens += round.prompt_tokens;
        self.completion_tokens += round.completion_tokens;
        let text = round.text.content.clone();
        for (index, thinking) in round.live_order() {
            let content = std::mem::take(&mut round.live(thinking).content);
            self.steps.push(Round::step(index, thinking, content));
            self.next_index += 1;
        }
        text
    }

    /// Records a tool step and sends it.
    async fn push(&mut self, kind: StepKind) -> Result<(), Stop> {
        let step = Step {
            index: self.next_index,
            kind: Box::new(kind),
        };
        self.next_index += 1;
        self.steps.push(step.clone());
        self.send(step).await
    }

    /// Shows a round's tool calls, runs them (their progress lines become thinking steps while
    /// they run) and shows their results; the results in call order.
    async fn run_tools(
        &mut self,
        room: &mut ToolRoom,
        calls: &[ToolCall],
    ) -> Result<Vec<ToolResult>, Stop> {
        for call in calls {
            self.push(StepKind::ToolCall {
                id_ref: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            })
            .await?;
        }
        let batch = {
            let mut batch = std::pin::pin!(room.executor.run_batch(calls, &room.ctx));
            loop {
                tokio::select! {
                    results = &mut batch => break results,
                    Some(line) = room.progress.recv() => {
                        self.push(StepKind::Thinking { content: line }).await?;
                    }
                }
            }
        };
        while let Ok(line) = room.progress.try_recv() {
            self.push(StepKind::Thinking { content: line }).await?;
        }
        let results = batch.ok_or(Stop::Cancelled)?;
        for (call, result) in calls.iter().zip(&results) {
            self.tool_calls.push(json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
                "result": result.content,
                "success": result.success,
                "skipped": false,
                "execution_time": result.execution_time,
            }));
            self.push(StepKind::ToolResult {
                id_ref: call.id.clone(),
                name: call.name.clone(),
                content: result.content.clone(),
                skipped: false,
            })
            .await?;
        }
        Ok(results)
    }

    fn outcome(self, text: String, end: End) -> AnswerOutcome {
        let (tool_prompt, tool_completion) = self.tool_usage.get();
        AnswerOutcome {
            steps: self.steps,
            text,
            tool_calls: self.tool_calls,
            prompt_tokens: self.prompt_tokens + tool_prompt,
            completion_tokens: self.completion_tokens + tool_completion,
            end,
        }
    }
}

impl From<Stop> for End {
    fn from(stop: Stop) -> End {
        match stop {
            Stop::Cancelled => End::Cancelled,
            Stop::Failed(message) => End::Failed(message),
        }
    }
}

impl Agent {
    /// An agent offering `registry`'s tools.
    pub fn new(client: Client, registry: Arc<ToolRegistry>, settings: AgentSettings) -> Agent {
        Agent {
            parts: Arc::new(AgentParts {
                client,
                registry,
                settings,
            }),
        }
    }

    /// The tool registry (for `GET /api/tools`).
    pub fn registry(&self) -> &Arc<ToolRegistry> {
        &self.parts.registry
    }

    /// The LLM client.
    pub fn client(&self) -> &Client {
        &self.parts.client
    }

    /// Produces one answer, sending every `process_step` payload to `steps` as it happens.
    ///
    /// Never fails: how it ended is in [`AnswerOutcome::end`], with the steps and the token
    /// usage gathered up to then. When `cancel` fires (or `steps` is closed) the model request
    /// is dropped, which closes its connection, and running tools are abandoned at once.
    ///
    /// The future owns what it needs (a clone of the agent): it can be spawned or boxed as is.
    pub fn run_answer(
        &self,
        request: AnswerRequest,
        steps: mpsc::Sender<Step>,
        cancel: CancellationToken,
    ) -> impl Future<Output = AnswerOutcome> + Send + 'static {
        self.clone().run_loop(request, steps, cancel, None)
    }

    /// The loop of [`Agent::run_answer`]; `sub` set runs it as a sub-agent (its own tool set,
    /// round limit and report, no tools on the last round, no sub-agents of its own).
    ///
    /// Not an `async fn`: that would store its arguments twice (as arguments, then as locals)
    /// in the future every open answer holds. The block below uses them where they are.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would store its arguments twice"
    )]
    fn run_loop(
        self,
        mut request: AnswerRequest,
        steps: mpsc::Sender<Step>,
        cancel: CancellationToken,
        sub: Option<SubLoop>,
    ) -> impl Future<Output = AnswerOutcome> + Send + 'static {
        async move {
            let registry = match &sub {
                Some(sub) => Arc::clone(&sub.registry),
                None => Arc::clone(&self.parts.registry),
            };
            let max_iterations = match &sub {
                Some(sub) => sub.max_iterations,
                None => self.parts.settings.max_iterations,
            }
            .max(1);
            let offered = if request.tools_enabled {
                registry.specs(request.workspace.is_some())
            } else {
                Arc::from([])
            };
            // The history moves into the model request; `request` keeps the rest for the tools.
            let mut chat = ChatRequest {
                messages: std::mem::take(&mut request.history),
                temperature: request.temperature,
                max_tokens: request.max_tokens,
                thinking: request.thinking,
                tools: Arc::from([]),
                stream: true,
            };
            // What running tools takes is built at the first round that calls one: most answers
            // call none, and every open stream would hold it for nothing.
            let mut tools: Option<Box<ToolRoom>> = None;
            let mut run = Run {
                tx: &steps,
                cancel: &cancel,
                coalesce: self.parts.settings.coalesce,
                steps: Vec::new(),
                next_index: 0,
                prompt_tokens: 0,
                completion_tokens: 0,
                tool_calls: Vec::new(),
                tool_usage: Arc::default(),
            };
            let mut last_text = String::new();

            for round_no in 0..max_iterations {
                let last_round = round_no + 1 == max_iterations;
                // A sub-agent must end in text: its last round offers no tools.
                chat.tools = if sub.is_some() && last_round {
                    Arc::from([])
                } else {
                    Arc::clone(&offered)
                };
                // Boxed: the request's future is large and lives only until the reply starts.
                let opened = Box::pin(self.parts.client.stream(&request.endpoint, &chat));
                let mut stream = match tokio::select! {
                    biased;
                    () = cancel.cancelled() => return run.outcome(last_text, End::Cancelled),
                    opened = opened => opened,
                } {
                    Ok(stream) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, kind = e.kind(), "model request failed");
                        return run.outcome(last_text, End::Failed(e.user_message()));
                    }
                };
                let mut round = Round::default();
                let streamed = run.stream_round(&mut stream, &mut round).await;
                // Closes the upstream connection now, whatever happens next.
                drop(stream);
                let text = run.close_round(&mut round);
                if let Err(stop) = streamed {
                    return run.outcome(text, stop.into());
                }
                let calls = round.calls.finish(round_no);
                if let Some(sub) = &sub {
                    (sub.on_round)(&RoundReport {
                        round: round_no + 1,
                        max_rounds: max_iterations,
                        calls: calls.iter().map(|c| c.name.clone()).collect(),
                        text_chars: text.chars().count(),
                        prompt_tokens: round.prompt_tokens,
                        completion_tokens: round.completion_tokens,
                    });
                    if last_round && !calls.is_empty() {
                        // Tools were not offered; do not run what the model asked for anyway.
                        return run.outcome(text, End::Exhausted);
                    }
                }
                if calls.is_empty() {
                    return run.outcome(text, End::Completed);
                }
                let room = tools.get_or_insert_with(|| {
                    Box::new(self.tool_room(&request, &registry, sub.is_none(), &run))
                });
                // Boxed: only rounds with tool calls need its state.
                let results = match Box::pin(run.run_tools(room, &calls)).await {
                    Ok(results) => results,
                    Err(stop) => return run.outcome(text, stop.into()),
                };
                chat.messages.push(Message::Assistant {
                    content: text.clone(),
                    tool_calls: calls.clone(),
                });
                chat.messages
                    .extend(
                        calls
                            .into_iter()
                            .zip(results)
                            .map(|(call, result)| Message::Tool {
                                tool_call_id: call.id,
                                name: call.name,
                                content: result.content,
                            }),
                    );
                last_text = text;
            }
            run.outcome(last_text, End::Exhausted)
        }
    }

    /// The tools' side of an answer: executor, context (with its progress channel and, for an
    /// answer, the sub-agent runner) and the progress lines' receiving end.
    fn tool_room(
        &self,
        request: &AnswerRequest,
        registry: &Arc<ToolRegistry>,
        may_start_sub_agents: bool,
        run: &Run<'_>,
    ) -> ToolRoom {
        let (progress_tx, progress) = mpsc::unbounded_channel::<String>();
        let sub_agents = may_start_sub_agents.then(|| {
            Arc::new(SubAgents {
                agent: self.clone(),
                request: request.clone(),
            }) as Arc<dyn SubAgentRunner>
        });
        let mut hooks = AnswerHooks::new(Some(progress_tx), sub_agents);
        // Shared with the answer's totals: what tools spend is counted however it ends.
        hooks.usage = Arc::clone(&run.tool_usage);
        ToolRoom {
            executor: ToolExecutor::new(Arc::clone(registry), self.parts.settings.tool_max_workers),
            ctx: Arc::new(ToolContext {
                model: request.model.clone(),
                max_tokens: request.max_tokens,
                temperature: request.temperature,
                project_id: request.project_id.clone(),
                workspace: request.workspace.clone(),
                user_id: request.user_id,
                // A child: tools may watch it, but cancelling it cannot end the answer.
                cancel: run.cancel.child_token(),
                hooks,
            }),
            progress,
        }
    }
}

/// What an answer needs to run tools, kept across its rounds (the executor de-duplicates
/// across them).
struct ToolRoom {
    executor: ToolExecutor,
    ctx: Arc<ToolContext>,
    /// Tools' progress lines, shown as thinking steps while their batch runs.
    progress: mpsc::UnboundedReceiver<String>,
}

/// How a sub-agent's loop differs from an answer's.
struct SubLoop {
    /// Only the tools the task may use (never `multi_agent`): what is not here is refused at
    /// execution as an unknown tool.
    registry: Arc<ToolRegistry>,
    max_iterations: u32,
    on_round: RoundCallback,
}

/// The [`SubAgentRunner`] of one answer: its agent, model endpoint, sampling and project.
struct SubAgents {
    agent: Agent,
    /// The answer's request without its history.
    request: AnswerRequest,
}

/// Told to a sub-agent before its instruction (nanoClaw's reminder, tools.md §4.15).
const SUB_AGENT_PROMPT: &str = "You are a sub-agent working on one task of a larger request. \
Use the tools offered if they help. After using tools you must finish with a written answer \
to the task: do not end on tool calls.";

impl SubAgentRunner for SubAgents {
    fn run_sub_agent(
        &self,
        task: SubAgentTask,
        on_round: RoundCallback,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, AnswerOutcome> {
        Box::pin(async move {
            let mut registry = ToolRegistry::new();
            for tool in self.agent.parts.registry.tools() {
                let allowed = match &task.tools {
                    Some(names) => names.iter().any(|n| n == tool.name()),
                    None => true,
                };
                if allowed && tool.name() != crate::tools::multi_agent::NAME {
                    registry.register(Arc::clone(tool));
                }
            }
            let request = AnswerRequest {
                history: vec![
                    Message::system(SUB_AGENT_PROMPT),
                    Message::user(task.instruction),
                ],
                thinking: false,
                tools_enabled: true,
                ..self.request.clone()
            };
            let sub = SubLoop {
                registry: Arc::new(registry),
                max_iterations: task.max_iterations,
                on_round,
            };
            // Nobody shows a sub-agent's own steps; its rounds are reported through `on_round`.
            let (tx, mut rx) = mpsc::channel::<Step>(64);
            let drain = async move { while rx.recv().await.is_some() {} };
            let (outcome, ()) = tokio::join!(
                self.agent.clone().run_loop(request, tx, cancel, Some(sub)),
                drain
            );
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_arriving_kind_takes_the_lower_index() {
        let mut round = Round::default();
        round.append(false, "text", 5);
        round.append(true, "thought", 5);
        round.append(false, " more", 5);
        assert_eq!((round.text.index, round.thinking.index), (Some(5), Some(6)));
        assert_eq!(
            round.live_order().collect::<Vec<_>>(),
            [(5, false), (6, true)]
        );
        assert_eq!(round.text.content, "text more");

        let mut round = Round::default();
        round.append(true, "t", 0);
        round.append(false, "x", 0);
        assert_eq!(
            round.live_order().collect::<Vec<_>>(),
            [(0, true), (1, false)]
        );

        let mut round = Round::default();
        round.append(true, "only thinking", 3);
        assert_eq!(round.live_order().collect::<Vec<_>>(), [(3, true)]);
    }

    #[test]
    fn end_messages() {
        assert_eq!(End::Exhausted.error_message(), Some(EXHAUSTED_MESSAGE));
        assert_eq!(End::Failed("x".into()).error_message(), Some("x"));
        assert_eq!(End::Completed.error_message(), None);
        assert_eq!(End::Cancelled.error_message(), None);
        assert!(!End::Completed.is_interrupted() && End::Cancelled.is_interrupted());
    }
}
