//! Turns the model's tool calls into tool results (tools.md §2).
//!
//! One executor lives for one answer. Per batch (the calls of one round) it parses and checks
//! every call in order, answers repeats of side-effect-free calls from what it already knows,
//! runs the rest concurrently on at most `tool_max_workers` tasks and returns the results in
//! call order. Differences from nanoClaw, all from tools.md §2 and known-weaknesses W-05/W-36/
//! W-37/W-40:
//!
//! * `""` (or whitespace) arguments mean `{}`; non-object JSON is refused for that call only.
//! * Model-supplied `project_id` and `_…` keys are removed (unless the tool declares them);
//!   tools read the trusted values from [`ToolContext`] instead of injected arguments.
//! * Only tools without side effects are de-duplicated: a repeat of a successful call (in a later
//!   round, or later in the same batch) gets the first result with `"cached": true` and
//!   `execution_time` 0; failures are never reused; any side-effecting call forgets everything
//!   cached, and results of a batch that contained one are not cached (they ran concurrently with
//!   it).
//! * A handler that reports its own failure (`{"success": false}` or an `error` key) makes the
//!   envelope's `success` false, with the error copied to the top level.
//! * `execution_time` is the measured wall time of the handler for every call that ran.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use nanoclaw_llm::ToolCall;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::pyjson;
use crate::registry::ToolRegistry;
use crate::tool::{Tool, ToolContext, ToolOutput};

/// Most tools that run at once, whatever the configuration says (tools.md §2.5).
pub const MAX_WORKERS: usize = 6;

/// The result of one call, as fed back to the model and shown in a `tool_result` step.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// The result JSON text (tools.md §2.6): the `content` of the tool message and step.
    pub content: String,
    /// Top-level `success` of `content`.
    pub success: bool,
    /// Top-level `execution_time` of `content` (0 when absent).
    pub execution_time: f64,
}

/// Runs tool calls for one answer; see the module docs for the rules.
pub struct ToolExecutor {
    registry: Arc<ToolRegistry>,
    workers: usize,
    /// Successful results of side-effect-free calls by identity.
    cache: HashMap<String, Arc<Envelope>>,
}

/// The registry's wrapping of a handler's output (tools.md §2.5).
#[derive(Debug, Clone, PartialEq)]
struct Envelope {
    success: bool,
    data: Value,
    error: Option<String>,
}

impl Envelope {
    fn failure(error: impl Into<String>) -> Envelope {
        Envelope {
            success: false,
            data: Value::Null,
            error: Some(error.into()),
        }
    }

    /// Wraps a handler's output, applying the nested-success fix of tools.md §2.6.
    fn from_output(output: ToolOutput) -> Envelope {
        match output {
            Err(error) => Envelope::failure(error),
            Ok(data) => {
                let error = nested_failure(&data);
                Envelope {
                    success: error.is_none(),
                    data,
                    error,
                }
            }
        }
    }

    fn result(&self, execution_time: f64, cached: bool) -> ToolResult {
        #[derive(Serialize)]
        struct Wire<'a> {
            success: bool,
            data: &'a Value,
            error: Option<&'a str>,
            execution_time: f64,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            cached: bool,
        }
        let content = pyjson::to_string(&Wire {
            success: self.success,
            data: &self.data,
            error: self.error.as_deref(),
            execution_time,
            cached,
        });
        ToolResult {
            content,
            success: self.success,
            execution_time,
        }
    }
}

/// The error a handler reported inside its own output, if it did.
fn nested_failure(data: &Value) -> Option<String> {
    let obj = data.as_object()?;
    let error = match obj.get("error") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    if error.is_some() {
        return error;
    }
    (obj.get("success") == Some(&Value::Bool(false))).then(|| "Tool reported a failure".to_owned())
}

/// A result that never ran a handler: no `data`, no `execution_time` (tools.md §2.6).
fn refused(error: &str) -> ToolResult {
    #[derive(Serialize)]
    struct Wire<'a> {
        success: bool,
        error: &'a str,
    }
    ToolResult {
        content: pyjson::to_string(&Wire {
            success: false,
            error,
        }),
        success: false,
        execution_time: 0.0,
    }
}

/// What the preparation of one call decided.
enum Plan {
    /// Answered without running anything.
    Done(ToolResult),
    /// Runs as job number `.0`.
    Run(usize),
    /// Repeats job number `.0` of this batch: gets its result marked cached.
    SameAs(usize),
}

struct Job {
    tool: Arc<dyn Tool>,
    args: Map<String, Value>,
    /// Set for side-effect-free tools: the key their successful result is cached under.
    identity: Option<String>,
}

impl ToolExecutor {
    /// A fresh executor (one per answer); `tool_max_workers` is clamped to 1..=6.
    pub fn new(registry: Arc<ToolRegistry>, tool_max_workers: usize) -> ToolExecutor {
        ToolExecutor {
            registry,
            workers: tool_max_workers.clamp(1, MAX_WORKERS),
            cache: HashMap::new(),
        }
    }

    /// Runs one round's calls; results are in call order. `None` when `ctx.cancel` fired first:
    /// running tools are then aborted at their next await and their results dropped.
    pub async fn run_batch(
        &mut self,
        calls: &[ToolCall],
        ctx: &Arc<ToolContext>,
    ) -> Option<Vec<ToolResult>> {
        let mut plans = Vec::with_capacity(calls.len());
        let mut jobs: Vec<Job> = Vec::new();
        let mut firsts: HashMap<String, usize> = HashMap::new();
        let mut side_effects = false;
        for call in calls {
            plans.push(self.prepare(call, &mut jobs, &mut firsts, &mut side_effects));
        }

        let ran = if jobs.is_empty() {
            Vec::new()
        } else {
            let run = run_jobs(&jobs, self.workers, ctx);
            tokio::select! {
                biased;
                () = ctx.cancel.cancelled() => return None,
                ran = run => ran,
            }
        };

        if !side_effects {
            for (job, (envelope, _)) in jobs.iter().zip(&ran) {
                if let (Some(identity), true) = (&job.identity, envelope.success) {
                    self.cache.insert(identity.clone(), Arc::clone(envelope));
                }
            }
        }
        Some(
            plans
                .into_iter()
                .map(|plan| match plan {
                    Plan::Done(result) => result,
                    Plan::Run(i) => ran[i].0.result(ran[i].1, false),
                    Plan::SameAs(i) => ran[i].0.result(0.0, true),
                })
                .collect(),
        )
    }

    fn prepare(
        &mut self,
        call: &ToolCall,
        jobs: &mut Vec<Job>,
        firsts: &mut HashMap<String, usize>,
        side_effects: &mut bool,
    ) -> Plan {
        let mut args = match parse_arguments(&call.arguments) {
            Ok(args) => args,
            Err(error) => return Plan::Done(refused(error)),
        };
        let Some((tool, parameters)) = self.registry.lookup(&call.name) else {
            return Plan::Done(
                Envelope::failure(format!("Tool not found: {}", call.name)).result(0.0, false),
            );
        };
        strip_injected_keys(&mut args, parameters);
        let tool = Arc::clone(tool);
        if tool.has_side_effects() {
            // Whatever was read before may be stale now (W-37), including within this batch.
            *side_effects = true;
            self.cache.clear();
            firsts.clear();
            jobs.push(Job {
                tool,
                args,
                identity: None,
            });
            return Plan::Run(jobs.len() - 1);
        }
        let identity = identity(&call.name, &args);
        if let Some(envelope) = self.cache.get(&identity) {
            return Plan::Done(envelope.result(0.0, true));
        }
        if let Some(&first) = firsts.get(&identity) {
            return Plan::SameAs(first);
        }
        firsts.insert(identity.clone(), jobs.len());
        jobs.push(Job {
            tool,
            args,
            identity: Some(identity),
        });
        Plan::Run(jobs.len() - 1)
    }
}

/// Runs every job, at most `workers` at once; results by job index with their time in seconds.
async fn run_jobs(
    jobs: &[Job],
    workers: usize,
    ctx: &Arc<ToolContext>,
) -> Vec<(Arc<Envelope>, f64)> {
    let permits = Arc::new(Semaphore::new(workers));
    // Dropping the set (on cancellation) aborts every task still running.
    let mut set = JoinSet::new();
    for (i, job) in jobs.iter().enumerate() {
        let tool = Arc::clone(&job.tool);
        let args = job.args.clone();
        let ctx = Arc::clone(ctx);
        let permits = Arc::clone(&permits);
        set.spawn(async move {
            // The semaphore is never closed, so this cannot fail; run anyway if it somehow did.
            let _permit = permits.acquire_owned().await.ok();
            let started = Instant::now();
            let output = tool.run(args, &ctx).await;
            (i, Envelope::from_output(output), seconds(started))
        });
    }
    let mut ran: Vec<Option<(Arc<Envelope>, f64)>> = vec![None; jobs.len()];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, envelope, time)) => ran[i] = Some((Arc::new(envelope), time)),
            Err(e) => tracing::error!(error = %e, "tool task failed"),
        }
    }
    ran.into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                (
                    Arc::new(Envelope::failure("Tool execution failed: the tool crashed")),
                    0.0,
                )
            })
        })
        .collect()
}

/// Elapsed seconds, to the microsecond.
fn seconds(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e6).round() / 1e6
}

/// Parses a call's arguments text (tools.md §2.2, with the rebuild's `""` → `{}`).
fn parse_arguments(text: &str) -> Result<Map<String, Value>, &'static str> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(args)) => Ok(args),
        Ok(_) => Err("Invalid arguments: expected a JSON object"),
        Err(_) => Err("Invalid JSON arguments"),
    }
}

/// Removes keys only the server may set (W-05) unless the tool's schema declares them.
fn strip_injected_keys(args: &mut Map<String, Value>, parameters: &Value) {
    let declared = parameters.get("properties").and_then(Value::as_object);
    args.retain(|key, _| {
        let reserved = key == "project_id" || key.starts_with('_');
        !reserved || declared.is_some_and(|d| d.contains_key(key))
    });
}

/// Tool name plus the arguments as canonical JSON (keys sorted at every level, whatever
/// order `serde_json::Map` keeps).
fn identity(name: &str, args: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(name.len() + 64);
    out.push_str(name);
    out.push('\0');
    canonical_map(args, &mut out);
    out
}

fn canonical_map(map: &Map<String, Value>, out: &mut String) {
    let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(key.as_str()).to_string());
        out.push(':');
        canonical(value, out);
    }
    out.push('}');
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => canonical_map(map, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;
    use tokio::sync::{Barrier, oneshot};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::tool::BoxFuture;

    type Handler = dyn Fn(Map<String, Value>) -> BoxFuture<'static, ToolOutput> + Send + Sync;

    /// A test tool: counts its runs and delegates to a closure.
    struct Fake {
        name: &'static str,
        side_effects: bool,
        runs: AtomicUsize,
        handler: Box<Handler>,
    }

    impl Tool for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn description(&self) -> &str {
            "test"
        }
        fn category(&self) -> &str {
            "test"
        }
        fn parameters(&self) -> Value {
            json!({"type": "object", "properties": {"x": {}, "_declared": {}}})
        }
        fn has_side_effects(&self) -> bool {
            self.side_effects
        }
        fn run<'a>(
            &'a self,
            args: Map<String, Value>,
            _ctx: &'a ToolContext,
        ) -> BoxFuture<'a, ToolOutput> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            (self.handler)(args)
        }
    }

    fn fake(
        name: &'static str,
        side_effects: bool,
        handler: impl Fn(Map<String, Value>) -> BoxFuture<'static, ToolOutput> + Send + Sync + 'static,
    ) -> Arc<Fake> {
        Arc::new(Fake {
            name,
            side_effects,
            runs: AtomicUsize::new(0),
            handler: Box::new(handler),
        })
    }

    /// Echoes its arguments as data.
    fn echo(name: &'static str, side_effects: bool) -> Arc<Fake> {
        fake(name, side_effects, |args| {
            Box::pin(async move { Ok(Value::Object(args)) })
        })
    }

    fn executor(tools: &[Arc<Fake>], workers: usize) -> ToolExecutor {
        let mut registry = ToolRegistry::builtin();
        for tool in tools {
            registry.register(Arc::clone(tool) as Arc<dyn Tool>);
        }
        ToolExecutor::new(Arc::new(registry), workers)
    }

    fn ctx() -> Arc<ToolContext> {
        Arc::new(ToolContext {
            model: "m".into(),
            max_tokens: 100,
            temperature: 0.5,
            project_id: Some("p1".into()),
            workspace: None,
            user_id: 7,
            cancel: CancellationToken::new(),
            hooks: Default::default(),
        })
    }

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    fn parsed(result: &ToolResult) -> Value {
        serde_json::from_str(&result.content).unwrap()
    }

    #[tokio::test]
    async fn calculator_envelope_and_python_layout() {
        let mut ex = executor(&[], 4);
        let out = ex
            .run_batch(
                &[call("c1", "calculator", r#"{"expression": "2+3"}"#)],
                &ctx(),
            )
            .await
            .unwrap();
        assert!(out[0].success);
        let prefix =
            r#"{"success": true, "data": {"result": 5}, "error": null, "execution_time": "#;
        assert!(out[0].content.starts_with(prefix), "{}", out[0].content);
        assert_eq!(
            parsed(&out[0])["execution_time"],
            json!(out[0].execution_time)
        );
    }

    #[tokio::test]
    async fn argument_parsing() {
        let echo = echo("echo", false);
        let mut ex = executor(&[Arc::clone(&echo)], 4);
        let out = ex
            .run_batch(
                &[
                    call("a", "echo", ""),
                    call("b", "echo", "  \n"),
                    call("c", "echo", "{not json"),
                    call("d", "echo", "[1]"),
                    call("e", "echo", "null"),
                    call("f", "nope", "{}"),
                ],
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(parsed(&out[0])["data"], json!({}));
        // The same identity as the first: answered from it.
        assert_eq!(parsed(&out[1])["cached"], json!(true));
        assert_eq!(
            out[2].content,
            r#"{"success": false, "error": "Invalid JSON arguments"}"#
        );
        assert_eq!(
            out[3].content,
            r#"{"success": false, "error": "Invalid arguments: expected a JSON object"}"#
        );
        assert!(!out[4].success);
        assert_eq!(
            parsed(&out[5]),
            json!({"success": false, "data": null, "error": "Tool not found: nope", "execution_time": 0.0})
        );
        assert_eq!(echo.runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn model_supplied_context_keys_are_stripped_unless_declared() {
        let echo = echo("file_echo", true);
        let mut ex = executor(&[echo], 4);
        let out = ex
            .run_batch(
                &[call(
                    "a",
                    "file_echo",
                    r#"{"x": 1, "project_id": "someone-else", "_model": "m", "_declared": 2}"#,
                )],
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(parsed(&out[0])["data"], json!({"x": 1, "_declared": 2}));
    }

    #[tokio::test]
    async fn nested_failures_become_top_level_failures() {
        let nested = fake("nested", false, |args| {
            Box::pin(async move {
                Ok(match args.get("x").and_then(Value::as_i64) {
                    Some(1) => json!({"success": false, "error": "File not found: a.txt"}),
                    Some(2) => json!({"error": {"code": 3}}),
                    Some(3) => json!({"success": false}),
                    Some(4) => Err("raised".to_owned())?,
                    _ => json!({"success": true, "error": null, "value": 1}),
                })
            })
        });
        let mut ex = executor(&[nested], 4);
        let calls: Vec<_> = (1..=5)
            .map(|i| call(&format!("c{i}"), "nested", &format!(r#"{{"x": {i}}}"#)))
            .collect();
        let out = ex.run_batch(&calls, &ctx()).await.unwrap();
        let v: Vec<Value> = out.iter().map(parsed).collect();
        assert_eq!(v[0]["success"], json!(false));
        assert_eq!(v[0]["error"], json!("File not found: a.txt"));
        assert_eq!(
            v[0]["data"],
            json!({"success": false, "error": "File not found: a.txt"})
        );
        assert_eq!(v[1]["error"], json!(r#"{"code":3}"#));
        assert_eq!(v[2]["error"], json!("Tool reported a failure"));
        assert_eq!(
            v[3],
            json!({"success": false, "data": null, "error": "raised", "execution_time": v[3]["execution_time"]})
        );
        assert_eq!(v[4]["success"], json!(true));
        assert!(out[..4].iter().all(|r| !r.success) && out[4].success);
    }

    #[tokio::test]
    async fn pure_calls_are_deduplicated_across_rounds_and_within_a_batch() {
        let pure = echo("pure", false);
        let mut ex = executor(&[Arc::clone(&pure)], 4);
        let c = ctx();
        let first = ex
            .run_batch(
                &[
                    call("a", "pure", r#"{"x": 1, "y": [1, {"b": 1, "a": 2}]}"#),
                    call("b", "pure", r#"{"y": [1, {"a": 2, "b": 1}], "x": 1}"#),
                ],
                &c,
            )
            .await
            .unwrap();
        assert_eq!(pure.runs.load(Ordering::SeqCst), 1);
        assert!(parsed(&first[0]).get("cached").is_none());
        assert_eq!(parsed(&first[1])["cached"], json!(true));
        assert_eq!(parsed(&first[1])["execution_time"], json!(0.0));
        assert_eq!(parsed(&first[1])["data"], parsed(&first[0])["data"]);
        // A later round: still answered from the cache.
        let second = ex
            .run_batch(
                &[call("c", "pure", r#"{"x": 1, "y": [1, {"a": 2, "b": 1}]}"#)],
                &c,
            )
            .await
            .unwrap();
        assert_eq!(parsed(&second[0])["cached"], json!(true));
        assert_eq!(pure.runs.load(Ordering::SeqCst), 1);
        // A new executor (a new answer) knows nothing.
        let mut other = executor(&[Arc::clone(&pure)], 4);
        other
            .run_batch(
                &[call("d", "pure", r#"{"x": 1, "y": [1, {"a": 2, "b": 1}]}"#)],
                &c,
            )
            .await
            .unwrap();
        assert_eq!(pure.runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failures_and_side_effecting_calls_are_never_reused() {
        let failing = fake("failing", false, |_| {
            Box::pin(async { Err("nope".to_owned()) })
        });
        let effect = echo("effect", true);
        let pure = echo("pure", false);
        let mut ex = executor(
            &[Arc::clone(&failing), Arc::clone(&effect), Arc::clone(&pure)],
            4,
        );
        let c = ctx();
        for _ in 0..2 {
            let out = ex
                .run_batch(
                    &[
                        call("a", "failing", "{}"),
                        call("b", "effect", "{}"),
                        call("c", "effect", "{}"),
                    ],
                    &c,
                )
                .await
                .unwrap();
            assert!(out.iter().all(|r| !r.content.contains("cached")));
        }
        assert_eq!(failing.runs.load(Ordering::SeqCst), 2);
        assert_eq!(effect.runs.load(Ordering::SeqCst), 4);

        // A read is cached, a write forgets it, the next read runs again.
        ex.run_batch(&[call("r1", "pure", "{}")], &c).await.unwrap();
        let cached = ex.run_batch(&[call("r2", "pure", "{}")], &c).await.unwrap();
        assert_eq!(parsed(&cached[0])["cached"], json!(true));
        ex.run_batch(&[call("w", "effect", "{}")], &c)
            .await
            .unwrap();
        let fresh = ex.run_batch(&[call("r3", "pure", "{}")], &c).await.unwrap();
        assert!(parsed(&fresh[0]).get("cached").is_none());
        assert_eq!(pure.runs.load(Ordering::SeqCst), 2);

        // Within a batch, a write between two identical reads makes both run, and the batch's
        // reads (concurrent with the write) are not cached either.
        let out = ex
            .run_batch(
                &[
                    call("r4", "pure", r#"{"x": 9}"#),
                    call("w2", "effect", "{}"),
                    call("r5", "pure", r#"{"x": 9}"#),
                ],
                &c,
            )
            .await
            .unwrap();
        assert!(out.iter().all(|r| !r.content.contains("cached")));
        assert_eq!(pure.runs.load(Ordering::SeqCst), 4);
        let again = ex
            .run_batch(&[call("r6", "pure", r#"{"x": 9}"#)], &c)
            .await
            .unwrap();
        assert!(parsed(&again[0]).get("cached").is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_in_parallel_within_the_worker_limit_and_keeps_call_order() {
        // Both calls finish only if both run at the same time.
        let barrier = Arc::new(Barrier::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let tool = {
            let (barrier, running, peak, order) = (
                barrier.clone(),
                running.clone(),
                peak.clone(),
                order.clone(),
            );
            fake("par", false, move |args| {
                let (barrier, running, peak, order) = (
                    barrier.clone(),
                    running.clone(),
                    peak.clone(),
                    order.clone(),
                );
                Box::pin(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    barrier.wait().await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    order.lock().unwrap().push(args["x"].clone());
                    Ok(json!({"x": args["x"]}))
                })
            })
        };
        let mut ex = executor(&[tool], 2);
        let calls: Vec<_> = (0..6)
            .map(|i| call(&format!("c{i}"), "par", &format!(r#"{{"x": {i}}}"#)))
            .collect();
        let out = ex.run_batch(&calls, &ctx()).await.unwrap();
        let xs: Vec<Value> = out.iter().map(|r| parsed(r)["data"]["x"].clone()).collect();
        assert_eq!(xs, (0..6).map(|i| json!(i)).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(order.lock().unwrap().len(), 6);
        assert_eq!(
            ToolExecutor::new(Arc::new(ToolRegistry::new()), 0).workers,
            1
        );
        assert_eq!(
            ToolExecutor::new(Arc::new(ToolRegistry::new()), 99).workers,
            MAX_WORKERS
        );
    }

    #[tokio::test]
    async fn cancellation_abandons_running_tools() {
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let (dropped_tx, dropped_rx) = oneshot::channel::<()>();
        let slots = Arc::new(Mutex::new(Some((started_tx, dropped_tx))));
        let stuck = fake("stuck", true, move |_| {
            let slots = slots.lock().unwrap().take();
            Box::pin(async move {
                let (started, _dropped_when_aborted) = slots.unwrap();
                let _ = started.send(());
                std::future::pending::<()>().await;
                Ok(Value::Null)
            })
        });
        let mut ex = executor(&[stuck], 4);
        let c = ctx();
        let cancel = c.cancel.clone();
        tokio::spawn(async move {
            let _ = started_rx.await;
            cancel.cancel();
        });
        assert!(
            ex.run_batch(&[call("a", "stuck", "{}")], &c)
                .await
                .is_none()
        );
        // The tool's future was dropped (its sender with it).
        assert!(dropped_rx.await.is_err());
    }

    #[test]
    fn identity_is_canonical() {
        let a: Map<String, Value> =
            serde_json::from_str(r#"{"b": {"y": 1, "x": [2, {"q": 1, "p": 2}]}, "a": "é"}"#)
                .unwrap();
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"a": "é", "b": {"x": [2, {"p": 2, "q": 1}], "y": 1}}"#)
                .unwrap();
        assert_eq!(identity("t", &a), identity("t", &b));
        assert_ne!(identity("t", &a), identity("u", &a));
        assert_eq!(identity("t", &Map::new()), "t\0{}");
    }
}
