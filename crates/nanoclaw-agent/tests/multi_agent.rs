//! `multi_agent` against the scripted mock model: sub-agents run their own loops through the
//! real client, their tool sets are enforced at execution, their usage is booked, their
//! rounds are shown as steps, and a cancelled answer or a deadline stops them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use nanoclaw_agent::{
    Agent, AgentSettings, AnswerOutcome, AnswerRequest, CancellationToken, End, Step, StepKind,
    ToolRegistry,
};
use nanoclaw_core::Config;
use nanoclaw_core::config::SubAgentConfig;
use nanoclaw_llm::{Client, ClientSettings, Endpoint, Message};
use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A hang fails the test instead of blocking the suite.
const LIMIT: Duration = Duration::from_secs(30);

fn agent(sub_agent: SubAgentConfig) -> Agent {
    let config = Config {
        sub_agent,
        ..Config::default()
    };
    let client = Client::new(ClientSettings {
        max_retries: 0,
        ..ClientSettings::default()
    })
    .unwrap();
    let settings = AgentSettings {
        max_iterations: 5,
        tool_max_workers: 4,
        coalesce: Duration::ZERO,
    };
    Agent::new(
        client,
        Arc::new(ToolRegistry::from_config(&config)),
        settings,
    )
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
        history: vec![Message::system("SYS"), Message::user("split this up")],
        temperature: 0.3,
        max_tokens: 777,
        thinking: false,
        tools_enabled: true,
        project_id: None,
        workspace: None,
        user_id: 1,
    }
}

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

fn offered(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn tool_messages(body: &Value) -> Vec<(String, Value)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                serde_json::from_str(m["content"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

fn thinking(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|s| match &*s.kind {
            StepKind::Thinking { content } => Some(content.clone()),
            _ => None,
        })
        .collect()
}

fn tasks_call(tasks: Value) -> Reply {
    Reply::tool_calls([("call_m", "multi_agent", json!({"tasks": tasks}).to_string())])
}

#[tokio::test]
async fn two_sub_agents_run_their_own_loops_with_tool_sets_enforced_usage_and_steps() {
    let mock =
        MockLlm::start(Script::from(vec![
        // The answer's first round starts two sub-agents; alpha may only use the calculator.
        tasks_call(json!([
            {"name": "alpha", "instruction": "ALPHA: add two and three", "tools": ["calculator"]},
            {"name": "beta", "instruction": "BETA: say hi"}
        ]))
        .usage(10, 5),
        // alpha, round 1: tries to recurse, and a tool outside its set, and its own tool.
        Reply::tool_calls([
            (
                "a1",
                "multi_agent",
                r#"{"tasks": [{"name": "deeper", "instruction": "recurse"}]}"#,
            ),
            ("a2", "text_process", r#"{"text": "abc", "operation": "count"}"#),
            ("a3", "calculator", r#"{"expression": "2+3"}"#),
        ])
        .usage(3, 2),
        // alpha, round 2 (its last: no tools offered).
        Reply::text("alpha says 5").usage(4, 1),
        // beta, round 1.
        Reply::text("beta says hi").usage(5, 1),
        // The answer's second round.
        Reply::text("all done").usage(20, 3),
    ]))
        .await;
    let agent = agent(SubAgentConfig {
        max_iterations: 2,
        // One at a time: the mock answers requests in arrival order.
        max_concurrency: 1,
        ..SubAgentConfig::default()
    });
    let (outcome, steps) = answer(&agent, request(&mock)).await;
    assert_eq!(outcome.end, End::Completed, "{outcome:?}");
    assert_eq!(outcome.text, "all done");
    // The answer's own rounds plus every sub-agent round.
    assert_eq!(
        (outcome.prompt_tokens, outcome.completion_tokens),
        (10 + 3 + 4 + 5 + 20, 5 + 2 + 1 + 1 + 3)
    );

    let bodies = mock.bodies();
    assert_eq!(bodies.len(), 5);
    assert!(offered(&bodies[0]).contains(&"multi_agent".to_owned()));
    // alpha: its instruction as a user message, the conversation's model settings, only its tool.
    let alpha = &bodies[1];
    let messages = alpha["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(
        messages[1],
        json!({"role": "user", "content": "ALPHA: add two and three"})
    );
    assert_eq!(alpha["max_tokens"], json!(777));
    assert_eq!(alpha["temperature"], json!(0.3));
    assert_eq!(offered(alpha), ["calculator"]);
    // Its second, last round offers no tools and carries the results of round 1: the calls
    // outside its set were refused at execution, the calculator ran.
    let alpha2 = &bodies[2];
    assert!(alpha2.get("tools").is_none(), "{alpha2}");
    let results = tool_messages(alpha2);
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].0, "multi_agent");
    assert_eq!(results[0].1["success"], json!(false));
    assert_eq!(results[0].1["error"], json!("Tool not found: multi_agent"));
    assert_eq!(results[1].1["error"], json!("Tool not found: text_process"));
    assert_eq!(results[2].1["success"], json!(true));
    assert_eq!(results[2].1["data"], json!({"result": 5}));
    // beta: every tool of the answer but multi_agent (no workspace: no file tools).
    let beta = offered(&bodies[3]);
    assert!(beta.contains(&"calculator".to_owned()) && beta.contains(&"text_process".to_owned()));
    assert!(!beta.contains(&"multi_agent".to_owned()));
    assert!(!beta.iter().any(|n| n.starts_with("file_")));
    assert_eq!(bodies[3]["messages"][1]["content"], json!("BETA: say hi"));

    // The tool's result, fed back to the answer's model.
    let parent = tool_messages(&bodies[4]);
    assert_eq!(parent.len(), 1);
    assert_eq!(parent[0].1["success"], json!(true));
    assert_eq!(
        parent[0].1["data"],
        json!({"success": true, "total": 2, "results": [
            {"task_name": "alpha", "success": true, "response": "alpha says 5"},
            {"task_name": "beta", "success": true, "response": "beta says hi"}
        ]})
    );

    // A progress step per sub-agent round, between the call and its result.
    assert_eq!(
        thinking(&steps),
        [
            "[sub-agent \"alpha\"] round 1/2: calling multi_agent, text_process, calculator",
            "[sub-agent \"alpha\"] round 2/2: answered (12 characters)",
            "[sub-agent \"beta\"] round 1/2: answered (12 characters)",
        ]
    );
    let kinds: Vec<&str> = steps.iter().map(|s| s.type_name()).collect();
    assert_eq!(
        kinds,
        [
            "tool_call",
            "thinking",
            "thinking",
            "thinking",
            "tool_result",
            "text"
        ]
    );
    let indexes: Vec<u32> = steps.iter().map(|s| s.index).collect();
    assert_eq!(indexes, [0, 1, 2, 3, 4, 5]);
    // The stored steps are the streamed ones.
    assert_eq!(outcome.steps, steps);
}

#[tokio::test]
async fn cancelling_the_answer_stops_running_sub_agents_at_once() {
    let mock = MockLlm::start(Script::from(vec![
        tasks_call(json!([
            {"name": "a", "instruction": "wait A"},
            {"name": "b", "instruction": "wait B"}
        ]))
        .usage(7, 1),
        // Both sub-agents' models never answer.
        Reply::stall(),
        Reply::stall(),
    ]))
    .await;
    let agent = agent(SubAgentConfig {
        max_concurrency: 2,
        timeout: 3600,
        deadline: 3600,
        ..SubAgentConfig::default()
    });
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel(16);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let run = {
        let agent = agent.clone();
        let request = request(&mock);
        let cancel = cancel.clone();
        tokio::spawn(async move { agent.run_answer(request, tx, cancel).await })
    };
    // Both sub-agents are waiting on the model at the same time (max_concurrency 2).
    assert!(mock.wait_until(LIMIT, |m| m.received() >= 3).await);
    cancel.cancel();
    let outcome = tokio::time::timeout(LIMIT, run)
        .await
        .expect("returned promptly")
        .unwrap();
    assert_eq!(outcome.end, End::Cancelled);
    assert_eq!((outcome.prompt_tokens, outcome.completion_tokens), (7, 1));
    // Both sub-agents' model connections were closed.
    assert!(mock.wait_cancelled(2, LIMIT).await);
    drain.await.unwrap();
}

#[tokio::test]
async fn a_sub_agent_over_its_time_and_a_call_over_its_deadline_fail_cleanly() {
    // Per sub-agent: `timeout` 1 s; the stalled one fails, the other one's answer is kept.
    let mock = MockLlm::start(Script::from(vec![
        tasks_call(json!([
            {"name": "slow", "instruction": "never answers"},
            {"name": "fast", "instruction": "answers"}
        ])),
        Reply::stall(),
        Reply::text("fast answer"),
        Reply::text("done"),
    ]))
    .await;
    let agent = agent(SubAgentConfig {
        max_concurrency: 1,
        timeout: 1,
        deadline: 3600,
        ..SubAgentConfig::default()
    });
    let (outcome, steps) = answer(&agent, request(&mock)).await;
    assert_eq!(outcome.end, End::Completed);
    let result = tool_messages(&mock.bodies()[3]).remove(0).1;
    assert_eq!(
        result["data"]["results"],
        json!([
            {"task_name": "slow", "success": false, "error": "Sub-agent timed out after 1 s"},
            {"task_name": "fast", "success": true, "response": "fast answer"}
        ])
    );
    assert!(
        thinking(&steps)
            .contains(&"[sub-agent \"slow\"] failed: Sub-agent timed out after 1 s".to_owned())
    );
    assert!(mock.wait_cancelled(1, LIMIT).await);

    // The whole call: `deadline` 1 s while each sub-agent could take an hour.
    let mock = MockLlm::start(Script::from(vec![
        tasks_call(json!([{"name": "stuck", "instruction": "never answers"}])),
        Reply::stall(),
        Reply::text("done"),
    ]))
    .await;
    let agent = self::agent(SubAgentConfig {
        timeout: 3600,
        deadline: 1,
        ..SubAgentConfig::default()
    });
    let (outcome, _) = answer(&agent, request(&mock)).await;
    assert_eq!(outcome.end, End::Completed);
    let result = tool_messages(&mock.bodies()[2]).remove(0).1;
    assert_eq!(
        result["data"]["results"][0]["error"],
        json!("multi_agent deadline of 1 s reached before this sub-agent finished")
    );
}

#[tokio::test]
async fn a_sub_agent_that_never_stops_calling_tools_ends_with_a_note() {
    let mock = MockLlm::start(Script::from(vec![
        tasks_call(json!([{"name": "loop", "instruction": "calc forever"}])),
        Reply::tool_calls([("l1", "calculator", r#"{"expression": "1+1"}"#)]),
        // Its last round: no tools offered, yet it asks again: not run.
        Reply::tool_calls([("l2", "calculator", r#"{"expression": "2+2"}"#)]),
        Reply::text("done"),
    ]))
    .await;
    let agent = agent(SubAgentConfig {
        max_iterations: 2,
        ..SubAgentConfig::default()
    });
    let (outcome, _) = answer(&agent, request(&mock)).await;
    assert_eq!(outcome.end, End::Completed);
    let result = tool_messages(&mock.bodies()[3]).remove(0).1;
    assert_eq!(
        result["data"]["results"][0],
        json!({"task_name": "loop", "success": true,
               "response": "The sub-agent produced no final text answer within its limit of 2 rounds."})
    );
}
