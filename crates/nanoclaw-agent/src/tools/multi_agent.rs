//! `multi_agent` (tools.md §4.15, chat.md §12): sub-agents, each with its own agent loop.
//!
//! Fixes of W-39: the tool set of a sub-agent (its task's `tools`, never `multi_agent`) is
//! its registry, so anything else it calls is refused at execution; a sub-agent gets no
//! sub-agent runner, so `multi_agent` cannot recurse even if offered; each sub-agent is bounded
//! by `sub_agent.timeout` and the whole call by `sub_agent.deadline`, and both stop at once
//! when the answer is cancelled; the instruction is a user message; every round's tokens are
//! booked to the answer's usage and shown to the user as a progress step.

use std::sync::Arc;
use std::time::Duration;

use nanoclaw_core::config::SubAgentConfig;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::answer::{AnswerOutcome, End};
use crate::hooks::{AnswerHooks, RoundCallback, RoundReport, SubAgentRunner, SubAgentTask};
use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// The tool's name; sub-agents never get it.
pub const NAME: &str = "multi_agent";

/// Most tasks per call (nanoClaw's limit).
pub const MAX_TASKS: usize = 5;

/// Longest instruction accepted per task, in characters.
pub const MAX_INSTRUCTION_CHARS: usize = 20_000;

/// Longest response kept per sub-agent in the result, in characters (the rest is cut with a
/// note): five of them go back into the model's context.
pub const MAX_RESPONSE_CHARS: usize = 20_000;

/// The `multi_agent` tool, with the `sub_agent` limits.
#[derive(Debug, Clone)]
pub struct MultiAgent {
    limits: SubAgentConfig,
}

impl MultiAgent {
    /// The tool with these limits.
    pub fn new(limits: SubAgentConfig) -> MultiAgent {
        MultiAgent { limits }
    }
}

/// One task as the model gave it.
struct Task {
    name: String,
    instruction: String,
    tools: Option<Vec<String>>,
}

fn parse_tasks(args: &Map<String, Value>) -> Result<Vec<Task>, String> {
    let tasks = match args.get("tasks") {
        None => return Err("'tasks'".into()),
        Some(Value::Array(tasks)) => tasks,
        Some(_) => return Err("tasks must be an array of task objects".into()),
    };
    let mut out = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.iter().enumerate() {
        let n = i + 1;
        let Some(task) = task.as_object() else {
            return Err(format!("task {n} must be an object"));
        };
        let text = |key: &str| match task.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(format!("task {n}: '{key}' must not be empty")),
            Some(_) => Err(format!("task {n}: '{key}' must be a string")),
            None => Err(format!("task {n}: '{key}' is required")),
        };
        let name = text("name")?;
        let instruction = text("instruction")?;
        if instruction.chars().count() > MAX_INSTRUCTION_CHARS {
            return Err(format!(
                "task {n}: the instruction is longer than {MAX_INSTRUCTION_CHARS} characters"
            ));
        }
        let tools = match task.get("tools") {
            None | Some(Value::Null) => None,
            Some(Value::Array(names)) => {
                let names = names
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| format!("task {n}: 'tools' must be a list of tool names"))?;
                // An empty list means every tool, as in nanoClaw.
                (!names.is_empty()).then_some(names)
            }
            Some(_) => return Err(format!("task {n}: 'tools' must be a list of tool names")),
        };
        out.push(Task {
            name,
            instruction,
            tools,
        });
    }
    Ok(out)
}

/// Why a sub-agent was stopped by this tool.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stopped {
    No,
    Timeout,
    Deadline,
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}\n[… response cut at {max} characters]", &text[..at]),
    }
}

fn progress_line(name: &str, report: &RoundReport) -> String {
    if report.calls.is_empty() {
        format!(
            "[sub-agent \"{name}\"] round {}/{}: answered ({} characters)",
            report.round, report.max_rounds, report.text_chars
        )
    } else {
        format!(
            "[sub-agent \"{name}\"] round {}/{}: calling {}",
            report.round,
            report.max_rounds,
            report.calls.join(", ")
        )
    }
}

impl MultiAgent {
    /// The result of one sub-agent (tools.md §4.15 step 3).
    fn task_result(&self, name: &str, outcome: &AnswerOutcome, stopped: Stopped) -> Value {
        let failed = |error: String| json!({"task_name": name, "success": false, "error": error});
        match (&outcome.end, stopped) {
            (End::Completed, _) => json!({
                "task_name": name,
                "success": true,
                "response": cut(&outcome.text, MAX_RESPONSE_CHARS),
            }),
            (End::Exhausted, _) => {
                let note = format!(
                    "The sub-agent produced no final text answer within its limit of {} rounds.",
                    self.limits.max_iterations
                );
                let response = if outcome.text.trim().is_empty() {
                    note
                } else {
                    format!("{}\n\n[{note}]", cut(&outcome.text, MAX_RESPONSE_CHARS))
                };
                json!({"task_name": name, "success": true, "response": response})
            }
            (End::Failed(message), _) => failed(message.clone()),
            (End::Cancelled, Stopped::Timeout) => failed(format!(
                "Sub-agent timed out after {} s",
                self.limits.timeout
            )),
            (End::Cancelled, Stopped::Deadline) => failed(format!(
                "multi_agent deadline of {} s reached before this sub-agent finished",
                self.limits.deadline
            )),
            (End::Cancelled, Stopped::No) => failed("Cancelled".into()),
        }
    }

    async fn run_tasks(
        &self,
        tasks: Vec<Task>,
        runner: Arc<dyn SubAgentRunner>,
        ctx: &ToolContext,
    ) -> Value {
        let total = tasks.len();
        let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
        // Cancelled by the overall deadline or with the answer; every sub-agent hangs below it.
        let all = ctx.cancel.child_token();
        let slots = Arc::new(Semaphore::new(
            usize::try_from(self.limits.max_concurrency.max(1)).unwrap_or(1),
        ));
        let per_task = Duration::from_secs(self.limits.timeout.max(1));
        let max_iterations = self.limits.max_iterations.max(1);
        // Dropped (the answer cancelled): every sub-agent task is aborted with it.
        let mut set = JoinSet::new();
        for (i, task) in tasks.into_iter().enumerate() {
            let runner = Arc::clone(&runner);
            let hooks: AnswerHooks = ctx.hooks.clone();
            let all = all.clone();
            let slots = Arc::clone(&slots);
            set.spawn(async move {
                // The semaphore is never closed; run anyway if that somehow failed.
                let _slot = slots.acquire_owned().await.ok();
                let token = all.child_token();
                let name = task.name.clone();
                let on_round: RoundCallback = {
                    let hooks = hooks.clone();
                    Arc::new(move |report: &RoundReport| {
                        hooks.add_usage(report.prompt_tokens, report.completion_tokens);
                        hooks.progress(progress_line(&name, report));
                    })
                };
                let run = runner.run_sub_agent(
                    SubAgentTask {
                        instruction: task.instruction,
                        tools: task.tools,
                        max_iterations,
                    },
                    on_round,
                    token.clone(),
                );
                tokio::pin!(run);
                let mut stopped = Stopped::No;
                let timer = tokio::time::sleep(per_task);
                tokio::pin!(timer);
                let outcome = loop {
                    tokio::select! {
                        outcome = &mut run => break outcome,
                        () = &mut timer, if stopped == Stopped::No => {
                            // The loop ends promptly once cancelled and returns what it has.
                            stopped = Stopped::Timeout;
                            token.cancel();
                        }
                    }
                };
                if stopped == Stopped::No && all.is_cancelled() {
                    stopped = Stopped::Deadline;
                }
                (i, outcome, stopped)
            });
        }

        let deadline = tokio::time::sleep(Duration::from_secs(self.limits.deadline.max(1)));
        tokio::pin!(deadline);
        let mut results: Vec<Option<Value>> = vec![None; total];
        loop {
            tokio::select! {
                joined = set.join_next() => match joined {
                    None => break,
                    Some(Ok((i, outcome, stopped))) => {
                        let stopped = if stopped == Stopped::Deadline && ctx.cancel.is_cancelled() {
                            Stopped::No
                        } else {
                            stopped
                        };
                        let result = self.task_result(&names[i], &outcome, stopped);
                        if result["success"] != json!(true) {
                            let error = result["error"].as_str().unwrap_or("failed");
                            ctx.hooks.progress(format!("[sub-agent \"{}\"] failed: {error}", names[i]));
                        }
                        results[i] = Some(result);
                    }
                    Some(Err(e)) => tracing::error!(error = %e, "a sub-agent task failed"),
                },
                () = &mut deadline, if !all.is_cancelled() => all.cancel(),
            }
        }
        let results: Vec<Value> = results
            .into_iter()
            .zip(&names)
            .map(|(r, name)| {
                r.unwrap_or_else(
                    || json!({"task_name": name, "success": false, "error": "Sub-agent crashed"}),
                )
            })
            .collect();
        json!({"success": true, "results": results, "total": total})
    }
}

impl Tool for MultiAgent {
    fn name(&self) -> &str {
        NAME
    }

    fn description(&self) -> &str {
        "Start several sub-agents (at most 5) that work on separate tasks concurrently. Each \
         sub-agent has its own conversation with the model, may use tools (all of them, or the \
         ones named in its task's `tools`; never multi_agent) and ends with a written answer. \
         Use it to split a large job into independent parts. Returns each sub-agent's response."
    }

    fn category(&self) -> &str {
        "agent"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "tasks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "description": "Short name of the task (shown in progress and results)."},
                            "instruction": {"type": "string", "description": "What the sub-agent must do, complete and self-contained: it does not see this conversation."},
                            "tools": {"type": "array", "items": {"type": "string"}, "description": "Names of the tools this sub-agent may use; empty or missing means all tools (multi_agent excepted)."}
                        },
                        "required": ["name", "instruction"]
                    },
                    "description": "The sub-agents' tasks (max 5)."
                }
            },
            "required": ["tasks"]
        })
    }

    fn has_side_effects(&self) -> bool {
        // Its sub-agents may write files or run code; and a model's answer varies.
        true
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let tasks = parse_tasks(&args)?;
            if tasks.is_empty() {
                return Ok(json!({"success": false, "error": "No tasks given: pass 1 to 5 tasks"}));
            }
            if tasks.len() > MAX_TASKS {
                return Ok(
                    json!({"success": false, "error": "Maximum 5 concurrent agents allowed"}),
                );
            }
            let Some(runner) = ctx.hooks.sub_agents() else {
                return Ok(json!({
                    "success": false,
                    "error": "multi_agent is not available here (sub-agents cannot start sub-agents)"
                }));
            };
            Ok(self.run_tasks(tasks, Arc::clone(runner), ctx).await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn bad_task_lists_fail_before_anything_runs() {
        let tool = MultiAgent::new(SubAgentConfig::default());
        let ctx = ToolContext::default();
        let run = |a| tool.run(args(a), &ctx);
        assert_eq!(run(json!({})).await, Err("'tasks'".into()));
        assert!(run(json!({"tasks": "x"})).await.is_err());
        assert_eq!(
            run(json!({"tasks": [{"instruction": "x"}]})).await,
            Err("task 1: 'name' is required".into())
        );
        assert_eq!(
            run(json!({"tasks": [{"name": "a", "instruction": "x", "tools": [1]}]})).await,
            Err("task 1: 'tools' must be a list of tool names".into())
        );
        let long = "x".repeat(MAX_INSTRUCTION_CHARS + 1);
        assert!(
            run(json!({"tasks": [{"name": "a", "instruction": long}]}))
                .await
                .is_err()
        );
        assert_eq!(
            run(json!({"tasks": []})).await.unwrap()["success"],
            json!(false)
        );
        let six: Vec<Value> = (0..6)
            .map(|i| json!({"name": format!("t{i}"), "instruction": "x"}))
            .collect();
        assert_eq!(
            run(json!({"tasks": six})).await,
            Ok(json!({"success": false, "error": "Maximum 5 concurrent agents allowed"}))
        );
        // Without a runner (inside a sub-agent): refused.
        let refused = run(json!({"tasks": [{"name": "a", "instruction": "x"}]}))
            .await
            .unwrap();
        assert_eq!(refused["success"], json!(false));
        assert!(
            refused["error"]
                .as_str()
                .unwrap()
                .contains("sub-agents cannot")
        );
    }

    #[test]
    fn responses_are_cut_on_a_character_boundary() {
        assert_eq!(cut("héllo", 10), "héllo");
        assert_eq!(cut("héllo", 2), "hé\n[… response cut at 2 characters]");
    }
}
