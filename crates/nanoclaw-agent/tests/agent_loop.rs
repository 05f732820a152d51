//! The agent loop against the scripted mock model: real HTTP, real streaming, no sleeps.
// Test helpers outside `#[test]` functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use nanoclaw_agent::{
    Agent, AgentSettings, AnswerOutcome, AnswerRequest, BoxFuture, CancellationToken, End,
    LENGTH_NOTE, Step, StepKind, Tool, ToolContext, ToolOutput, ToolRegistry,
};
use nanoclaw_llm::{Client, ClientSettings, Endpoint, Message};
use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// Every test must finish far sooner; a hang fails instead of blocking the suite.
const LIMIT: Duration = Duration::from_secs(20);

fn settings() -> AgentSettings {
    AgentSettings {
        max_iterations: 5,
        tool_max_workers: 4,
        // Every delta is sent, so the streamed sequence is deterministic.
        coalesce: Duration::ZERO,
    }
}

fn agent(registry: ToolRegistry, settings: AgentSettings) -> Agent {
    let client = Client::new(ClientSettings {
        max_retries: 0,
        ..ClientSettings::default()
    })
    .unwrap();
    Agent::new(client, Arc::new(registry), settings)
}

fn request(mock: &MockLlm) -> AnswerRequest {
    AnswerRequest {
        endpoint: Endpoint {
            model: "mock-model".into(),
            api_url: mock.url(),
            api_key: "sk-test".into(),
            include_usage: true,
        },
        model: "mock".into(),
        history: vec![Message::system("SYS"), Message::user("please TOOL now")],
        temperature: 0.7,
        max_tokens: 1000,
        thinking: false,
        tools_enabled: true,
        project_id: None,
        workspace: None,
        user_id: 1,
    }
}

/// Runs an answer to the end, collecting the streamed steps.
async fn answer(agent: &Agent, request: AnswerRequest) -> (AnswerOutcome, Vec<Step>) {
    let (tx, mut rx) = mpsc::channel(16);
    let collector = tokio::spawn(async move {
        let mut steps = Vec::new();
        while let Some(step) = rx.recv().await {
            steps.push(step);
        }
        steps
    });
    let outcome = tokio::time::timeout(
        LIMIT,
        agent.run_answer(request, tx, CancellationToken::new()),
    )
    .await
    .expect("the answer finished");
    (outcome, collector.await.unwrap())
}

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// The last streamed version of each index: what the browser ends up showing.
fn as_shown(streamed: &[Step]) -> Vec<Step> {
    let mut shown: Vec<Option<Step>> = Vec::new();
    for step in streamed {
        let i = step.index as usize;
        if shown.len() <= i {
            shown.resize(i + 1, None);
        }
        shown[i] = Some(step.clone());
    }
    shown
        .into_iter()
        .map(|s| s.expect("no gap in the indexes"))
        .collect()
}

#[tokio::test]
async fn plain_answer() {
    let mock = MockLlm::start(
        Script::new().reply(
            Reply::text("Hello there, world")
                .split_every(4)
                .usage(12, 5),
        ),
    )
    .await;
    let (outcome, streamed) =
        answer(&agent(ToolRegistry::builtin(), settings()), request(&mock)).await;

    assert_eq!(outcome.end, End::Completed);
    assert_eq!(outcome.text, "Hello there, world");
    assert_eq!((outcome.prompt_tokens, outcome.completion_tokens), (12, 5));
    assert!(outcome.tool_calls.is_empty());
    // Cumulative content under one index, one update per delta.
    assert_eq!(streamed.len(), 5);
    assert!(streamed.iter().all(|s| s.index == 0));
    assert_eq!(
        json_of(&streamed[0]),
        json!({"id": "step-0", "index": 0, "type": "text", "content": "Hell"})
    );
    assert_eq!(as_shown(&streamed), outcome.steps);
    assert_eq!(
        json_of(&outcome.stored_content()),
        json!({"text": "Hello there, world", "steps": [{"id": "step-0", "index": 0, "type": "text", "content": "Hello there, world"}]})
    );

    let body = &mock.bodies()[0];
    assert_eq!(body["stream"], json!(true));
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "SYS"}, {"role": "user", "content": "please TOOL now"}])
    );
    let calculator = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "calculator")
        .unwrap();
    assert_eq!(
        calculator["function"]["parameters"]["required"],
        json!(["expression"])
    );
}

#[tokio::test]
async fn no_tools_offered_when_disabled() {
    let mock = MockLlm::start(Script::new().reply(Reply::text("ok"))).await;
    let mut req = request(&mock);
    req.tools_enabled = false;
    let (outcome, _) = answer(&agent(ToolRegistry::builtin(), settings()), req).await;
    assert_eq!(outcome.end, End::Completed);
    assert!(mock.bodies()[0].get("tools").is_none());
}

#[tokio::test]
async fn thinking_and_text_take_indexes_in_arrival_order() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::thinking_then_text("think1 more", "Answer").split_every(7))
            .reply(Reply::text("Text first").then_reasoning("late thought")),
    )
    .await;
    let agent = agent(ToolRegistry::builtin(), settings());

    let (outcome, streamed) = answer(&agent, request(&mock)).await;
    assert_eq!(
        streamed.iter().map(json_of).collect::<Vec<_>>(),
        vec![
            json!({"id": "step-0", "index": 0, "type": "thinking", "content": "think1 "}),
            json!({"id": "step-0", "index": 0, "type": "thinking", "content": "think1 more"}),
            json!({"id": "step-1", "index": 1, "type": "text", "content": "Answer"}),
        ]
    );
    assert_eq!(as_shown(&streamed), outcome.steps);
    assert_eq!(outcome.text, "Answer");

    // Content before reasoning: the text keeps index 0, the thinking gets 1 (not both 0).
    let (outcome, streamed) = answer(&agent, request(&mock)).await;
    assert_eq!(
        *outcome.steps[0].kind,
        StepKind::Text {
            content: "Text first".into()
        }
    );
    assert_eq!(
        *outcome.steps[1].kind,
        StepKind::Thinking {
            content: "late thought".into()
        }
    );
    assert_eq!((outcome.steps[0].index, outcome.steps[1].index), (0, 1));
    assert_eq!(as_shown(&streamed), outcome.steps);
}

#[tokio::test]
async fn two_rounds_with_two_parallel_calculator_calls() {
    let mock = MockLlm::start(
        Script::new()
            .reply(
                Reply::thinking_then_text("think1 more", "Let me calc.")
                    .then_tool_calls([
                        ("call_1", "calculator", r#"{"expression": "2+3"}"#),
                        ("call_2", "calculator", r#"{"expression": "6 * 7"}"#),
                    ])
                    .usage(10, 4),
            )
            .reply(Reply::text("Final answer").split_every(6).usage(30, 2)),
    )
    .await;
    let (outcome, streamed) =
        answer(&agent(ToolRegistry::builtin(), settings()), request(&mock)).await;

    assert_eq!(outcome.end, End::Completed);
    assert_eq!(outcome.text, "Final answer");
    assert_eq!((outcome.prompt_tokens, outcome.completion_tokens), (40, 6));
    let kinds: Vec<&str> = outcome.steps.iter().map(Step::type_name).collect();
    assert_eq!(
        kinds,
        [
            "thinking",
            "text",
            "tool_call",
            "tool_call",
            "tool_result",
            "tool_result",
            "text"
        ]
    );
    assert!(
        outcome
            .steps
            .iter()
            .enumerate()
            .all(|(i, s)| s.index as usize == i)
    );
    assert_eq!(as_shown(&streamed), outcome.steps);

    let steps = json_of(&outcome.steps);
    assert_eq!(
        steps[2],
        json!({"id": "step-2", "index": 2, "type": "tool_call", "id_ref": "call_1", "name": "calculator", "arguments": "{\"expression\": \"2+3\"}"})
    );
    assert_eq!(steps[5]["id_ref"], json!("call_2"));
    assert_eq!(steps[5]["skipped"], json!(false));
    let r1: Value = serde_json::from_str(steps[4]["content"].as_str().unwrap()).unwrap();
    let r2: Value = serde_json::from_str(steps[5]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        (r1["success"].clone(), r1["data"].clone()),
        (json!(true), json!({"result": 5}))
    );
    assert_eq!(r2["data"], json!({"result": 42}));

    // The legacy list, paired with the results by position.
    assert_eq!(outcome.tool_calls.len(), 2);
    assert_eq!(
        outcome.tool_calls[0]["function"],
        json!({"name": "calculator", "arguments": "{\"expression\": \"2+3\"}"})
    );
    assert_eq!(outcome.tool_calls[0]["result"], steps[4]["content"]);
    assert_eq!(outcome.tool_calls[1]["success"], json!(true));
    let stored = json_of(&outcome.stored_content());
    assert_eq!(stored["tool_calls"], json!(outcome.tool_calls));
    assert!(stored.get("interrupted").is_none());

    // Round two carries the assistant turn with its calls and both results; not the thinking.
    let second = &mock.bodies()[1]["messages"];
    assert_eq!(second.as_array().unwrap().len(), 5);
    assert_eq!(second[2]["role"], json!("assistant"));
    assert_eq!(second[2]["content"], json!("Let me calc."));
    assert_eq!(second[2]["tool_calls"][1]["id"], json!("call_2"));
    assert_eq!(
        second[2]["tool_calls"][0]["function"]["arguments"],
        json!("{\"expression\": \"2+3\"}")
    );
    assert_eq!(
        second[3],
        json!({"role": "tool", "tool_call_id": "call_1", "name": "calculator", "content": steps[4]["content"]})
    );
    assert_eq!(second[4]["tool_call_id"], json!("call_2"));
}

#[tokio::test]
async fn running_out_of_iterations_keeps_the_work_so_far() {
    let calc = |id: &str, expr: &str| {
        Reply::text(format!("step {id}"))
            .then_tool_calls([(
                id.to_owned(),
                "calculator",
                format!(r#"{{"expression": "{expr}"}}"#),
            )])
            .usage(5, 1)
    };
    let mock = MockLlm::start(
        Script::new()
            .reply(calc("a", "1+1"))
            .reply(calc("b", "2+2"))
            .reply(Reply::text("never asked")),
    )
    .await;
    let agent = agent(
        ToolRegistry::builtin(),
        AgentSettings {
            max_iterations: 2,
            ..settings()
        },
    );
    let (outcome, streamed) = answer(&agent, request(&mock)).await;

    assert_eq!(outcome.end, End::Exhausted);
    assert_eq!(
        outcome.end.error_message(),
        Some("Exceeded maximum tool call iterations")
    );
    assert_eq!(mock.received(), 2);
    assert_eq!(outcome.text, "step b");
    assert_eq!((outcome.prompt_tokens, outcome.completion_tokens), (10, 2));
    let kinds: Vec<&str> = outcome.steps.iter().map(Step::type_name).collect();
    assert_eq!(
        kinds,
        [
            "text",
            "tool_call",
            "tool_result",
            "text",
            "tool_call",
            "tool_result"
        ]
    );
    assert_eq!(as_shown(&streamed), outcome.steps);
    assert_eq!(outcome.tool_calls.len(), 2);
    assert_eq!(
        json_of(&outcome.stored_content())["interrupted"],
        json!(true)
    );
}

#[tokio::test]
async fn upstream_error_mid_round_keeps_the_partial_answer() {
    let mock = MockLlm::start(
        Script::new().reply(
            Reply::text("partial ")
                .then_text("answer")
                .usage(3, 2)
                .then_error("model overloaded")
                .without_done(),
        ),
    )
    .await;
    let (outcome, streamed) =
        answer(&agent(ToolRegistry::builtin(), settings()), request(&mock)).await;

    match &outcome.end {
        End::Failed(message) => assert!(message.contains("model overloaded"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(outcome.text, "partial answer");
    assert_eq!(
        outcome.steps,
        vec![Step {
            index: 0,
            kind: Box::new(StepKind::Text {
                content: "partial answer".into()
            })
        }]
    );
    assert_eq!(as_shown(&streamed), outcome.steps);
    assert_eq!(
        json_of(&outcome.stored_content())["interrupted"],
        json!(true)
    );
}

#[tokio::test]
async fn upstream_failures_before_and_during_the_stream() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::status(500))
            .reply(Reply::text("cut ").then_text("off").drop_after(2)),
    )
    .await;
    let agent = agent(ToolRegistry::builtin(), settings());

    let (outcome, streamed) = answer(&agent, request(&mock)).await;
    assert_eq!(
        outcome.end,
        End::Failed("LLM service unavailable (500)".into())
    );
    assert!(outcome.steps.is_empty() && streamed.is_empty());

    let (outcome, _) = answer(&agent, request(&mock)).await;
    let End::Failed(message) = &outcome.end else {
        panic!("{:?}", outcome.end)
    };
    assert!(
        !message.contains("127.0.0.1"),
        "no upstream address in {message}"
    );
    // Whatever of the body got through before the cut is kept (hyper may not flush it first).
    assert!(
        "cut off".starts_with(&outcome.text),
        "{message}: {:?}",
        outcome.text
    );
}

#[tokio::test]
async fn length_finish_appends_a_note() {
    let mock =
        MockLlm::start(Script::new().reply(Reply::text("A long answ").finish("length"))).await;
    let (outcome, streamed) =
        answer(&agent(ToolRegistry::builtin(), settings()), request(&mock)).await;
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(outcome.text, format!("A long answ{LENGTH_NOTE}"));
    assert_eq!(as_shown(&streamed), outcome.steps);
}

#[tokio::test]
async fn coalesced_updates_end_with_the_final_state() {
    let text: String = (0..400).map(|i| format!("w{i} ")).collect();
    let mock = MockLlm::start(Script::new().reply(Reply::text(text.clone()).split_every(4))).await;
    let coalescing = AgentSettings {
        coalesce: Duration::from_millis(50),
        ..settings()
    };
    let (outcome, streamed) =
        answer(&agent(ToolRegistry::builtin(), coalescing), request(&mock)).await;
    assert_eq!(outcome.text, text);
    // Hundreds of deltas, a handful of updates; the last one is complete.
    assert!(streamed.len() < 100, "{} updates", streamed.len());
    assert_eq!(as_shown(&streamed), outcome.steps);
}

#[tokio::test]
async fn cancellation_mid_stream_closes_the_upstream_request() {
    // Two chunks, then silence with the connection open.
    let mock = MockLlm::start(
        Script::new().reply(Reply::thinking_then_text("hmm", "partial").stall_after(2)),
    )
    .await;
    let agent = agent(ToolRegistry::builtin(), settings());
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (agent, request, cancel) = (agent.clone(), request(&mock), cancel.clone());
        async move { agent.run_answer(request, tx, cancel).await }
    });
    let mut streamed = Vec::new();
    while let Some(step) = rx.recv().await {
        let is_text = matches!(*step.kind, StepKind::Text { .. });
        streamed.push(step);
        if is_text {
            break;
        }
    }
    let cancelled_at = tokio::time::Instant::now();
    cancel.cancel();
    let outcome = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    assert!(
        cancelled_at.elapsed() < Duration::from_millis(500),
        "{:?}",
        cancelled_at.elapsed()
    );
    assert_eq!(outcome.end, End::Cancelled);
    assert_eq!(outcome.end.error_message(), None);
    assert_eq!(as_shown(&streamed), outcome.steps);
    assert_eq!(outcome.text, "partial");
    assert_eq!(
        json_of(&outcome.stored_content())["interrupted"],
        json!(true)
    );
    assert!(
        mock.wait_cancelled(1, LIMIT).await,
        "the mock saw the connection closed"
    );
}

/// A tool that never finishes, and reports when it started and when it was dropped.
struct Stuck {
    started: Arc<tokio::sync::Notify>,
    dropped: Arc<tokio::sync::Notify>,
}

impl Tool for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }
    fn description(&self) -> &str {
        "never returns"
    }
    fn category(&self) -> &str {
        "test"
    }
    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }
    fn has_side_effects(&self) -> bool {
        true
    }
    fn run<'a>(
        &'a self,
        _args: Map<String, Value>,
        _ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        struct OnDrop(Arc<tokio::sync::Notify>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                self.0.notify_one();
            }
        }
        let guard = OnDrop(self.dropped.clone());
        let started = self.started.clone();
        Box::pin(async move {
            let _guard = guard;
            started.notify_one();
            std::future::pending::<()>().await;
            Ok(Value::Null)
        })
    }
}

#[tokio::test]
async fn cancellation_abandons_running_tools() {
    let mock = MockLlm::start(
        Script::new().reply(
            Reply::tool_calls([
                ("s1", "stuck", "{}"),
                ("c1", "calculator", r#"{"expression": "1"}"#),
            ])
            .usage(4, 2),
        ),
    )
    .await;
    let started = Arc::new(tokio::sync::Notify::new());
    let dropped = Arc::new(tokio::sync::Notify::new());
    let mut registry = ToolRegistry::builtin();
    registry.register(Arc::new(Stuck {
        started: started.clone(),
        dropped: dropped.clone(),
    }));
    let agent = agent(registry, settings());
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (agent, request, cancel) = (agent.clone(), request(&mock), cancel.clone());
        async move { agent.run_answer(request, tx, cancel).await }
    });
    started.notified().await;
    cancel.cancel();
    let outcome = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    tokio::time::timeout(LIMIT, dropped.notified())
        .await
        .expect("the tool was dropped");

    assert_eq!(outcome.end, End::Cancelled);
    // Usage of the finished round is kept; the calls are shown, without results.
    assert_eq!((outcome.prompt_tokens, outcome.completion_tokens), (4, 2));
    let kinds: Vec<&str> = outcome.steps.iter().map(Step::type_name).collect();
    assert_eq!(kinds, ["tool_call", "tool_call"]);
    assert!(outcome.tool_calls.is_empty());
    let mut streamed = Vec::new();
    while let Ok(step) = rx.try_recv() {
        streamed.push(step);
    }
    assert_eq!(streamed, outcome.steps);
}

#[tokio::test]
async fn a_closed_step_channel_ends_the_answer() {
    let mock = MockLlm::start(
        Script::new().reply(
            Reply::text("nobody reads this")
                .split_every(3)
                .stall_after(3),
        ),
    )
    .await;
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let agent = agent(ToolRegistry::builtin(), settings());
    let outcome = tokio::time::timeout(
        LIMIT,
        agent.run_answer(request(&mock), tx, CancellationToken::new()),
    )
    .await
    .unwrap();
    assert_eq!(outcome.end, End::Cancelled);
    assert!(mock.wait_cancelled(1, LIMIT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_skips_updates_but_gets_the_final_state() {
    let text: String = (0..300).map(|i| format!("w{i} ")).collect();
    let mock = MockLlm::start(
        Script::new().reply(Reply::thinking_then_text(text.clone(), text.clone()).split_every(3)),
    )
    .await;
    let agent = agent(ToolRegistry::builtin(), settings());
    // Room for one step only, and a reader that lets everything else run between reads.
    let (tx, mut rx) = mpsc::channel(1);
    let collector = tokio::spawn(async move {
        let mut steps = Vec::new();
        while let Some(step) = rx.recv().await {
            steps.push(step);
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
        steps
    });
    let outcome = tokio::time::timeout(
        LIMIT,
        agent.run_answer(request(&mock), tx, CancellationToken::new()),
    )
    .await
    .unwrap();
    let streamed = collector.await.unwrap();
    assert_eq!(outcome.end, End::Completed);
    assert_eq!(as_shown(&streamed), outcome.steps);
    // Updates of one step only ever grow.
    for pair in streamed.windows(2) {
        if pair[0].index == pair[1].index {
            let len = |s: &Step| match &*s.kind {
                StepKind::Thinking { content } | StepKind::Text { content } => content.len(),
                _ => 0,
            };
            assert!(len(&pair[0]) < len(&pair[1]));
        }
    }
}
