//! Tools over the real server: the `tools:` switches (catalog, what the model is offered, what
//! is refused at execution), and chats where the scripted model calls `get_weather`,
//! `text_process`, `json_process` and `multi_agent` and their results arrive as steps.

use std::collections::BTreeMap;

use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use serde_json::{Value, json};

use crate::helpers::*;

async fn chat_app(mock: &MockLlm, extra: &str) -> TestApp {
    spawn_app(&format!(
        "{MULTI}models:\n  - {{id: mock-model, name: Mock, api_url: '{}', api_key: test-key}}\n{extra}",
        mock.url()
    ))
    .await
}

/// Sends one message in a new conversation; returns the final state of every step by index
/// and the name of the last event.
async fn chat(app: &TestApp, token: &str, text: &str) -> (BTreeMap<u64, Value>, String) {
    let (s, b) = app
        .call(
            "POST",
            "/api/conversations",
            Some(token),
            Some(json!({"model": "mock-model"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["data"]["id"].as_str().unwrap().to_owned();
    let resp = app
        .client
        .post(app.url(&format!("/api/conversations/{id}/messages")))
        .bearer_auth(token)
        .json(&json!({"text": text, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    let mut steps = BTreeMap::new();
    let mut last = String::new();
    for event in body.split("\n\n").filter(|e| !e.is_empty()) {
        let mut lines = event.lines();
        let name = lines.next().unwrap().strip_prefix("event: ").unwrap();
        let data: Value =
            serde_json::from_str(lines.next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
        if name == "process_step" {
            steps.insert(data["index"].as_u64().unwrap(), data);
        }
        last = name.to_owned();
    }
    (steps, last)
}

/// The `tool_result` step answering `id_ref`, its content parsed.
fn result_of(steps: &BTreeMap<u64, Value>, id_ref: &str) -> Value {
    let step = steps
        .values()
        .find(|s| s["type"] == "tool_result" && s["id_ref"] == id_ref)
        .unwrap_or_else(|| panic!("no tool_result for {id_ref}: {steps:?}"));
    serde_json::from_str(step["content"].as_str().unwrap()).unwrap()
}

fn names(tools: &Value) -> Vec<String> {
    tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A schema without its `description`s (free text); names, types, enums, required stay.
fn shape(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| *k != "description")
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn the_catalog_lists_the_data_weather_and_agent_tools_with_the_spec_schemas() {
    let mock = MockLlm::start(Script::new()).await;
    let app = chat_app(&mock, "").await;
    let (s, b) = json_of(app.get("/api/tools", None).await).await;
    assert_eq!(s, 200);
    let tools = &b["data"]["tools"];
    let schema = |name: &str| {
        let tool = tools
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["function"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert!(tool["function"]["description"].as_str().unwrap().len() > 20);
        shape(&tool["function"]["parameters"])
    };
    assert_eq!(
        schema("text_process"),
        json!({"type": "object", "properties": {"text": {"type": "string"},
               "operation": {"type": "string", "enum": ["count", "lines", "words", "upper", "lower", "reverse"]}},
               "required": ["text", "operation"]})
    );
    assert_eq!(
        schema("json_process"),
        json!({"type": "object", "properties": {"json_string": {"type": "string"},
               "operation": {"type": "string", "enum": ["parse", "format", "keys", "validate"]}},
               "required": ["json_string", "operation"]})
    );
    assert_eq!(
        schema("get_weather"),
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    );
    assert_eq!(
        schema("multi_agent"),
        json!({"type": "object", "properties": {"tasks": {"type": "array", "items": {
               "type": "object", "properties": {"name": {"type": "string"}, "instruction": {"type": "string"},
               "tools": {"type": "array", "items": {"type": "string"}}},
               "required": ["name", "instruction"]}}}, "required": ["tasks"]})
    );
    // The simulated weather says so to the model.
    let weather = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "get_weather")
        .unwrap();
    assert!(
        weather["function"]["description"]
            .as_str()
            .unwrap()
            .contains("simulated")
    );
}

#[tokio::test]
async fn switched_off_tools_are_not_listed_not_offered_and_refused_when_called() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::tool_calls([
                (
                    "c1",
                    "text_process",
                    r#"{"text": "hi there", "operation": "words"}"#,
                ),
                ("c2", "calculator", r#"{"expression": "6*7"}"#),
                (
                    "c3",
                    "multi_agent",
                    r#"{"tasks": [{"name": "a", "instruction": "x"}]}"#,
                ),
            ]))
            .reply(Reply::text("ok")),
    )
    .await;
    // The whole data category off but the calculator; no sub-agents; the file tools off.
    let app = chat_app(
        &mock,
        "tools:\n  data: false\n  calculator: true\n  multi_agent: false\n  file: false\n",
    )
    .await;
    let (_, b) = json_of(app.get("/api/tools", None).await).await;
    let listed = names(&b["data"]["tools"]);
    assert_eq!(b["data"]["total"], json!(listed.len()));
    assert!(listed.contains(&"calculator".to_owned()), "{listed:?}");
    assert!(listed.contains(&"get_weather".to_owned()), "{listed:?}");
    for off in ["text_process", "json_process", "multi_agent", "file_read"] {
        assert!(
            !listed.contains(&off.to_owned()),
            "{off} listed: {listed:?}"
        );
    }

    let token = app.register("tina", "tina-password").await;
    let (steps, last) = chat(&app, &token, "count").await;
    assert_eq!(last, "done");
    // The model was offered exactly the listed tools (no project: no file tools anyway).
    let offered = names(&mock.bodies()[0]["tools"]);
    assert_eq!(offered, listed);
    // Called anyway: refused at execution, while the enabled tool ran.
    let refused = result_of(&steps, "c1");
    assert_eq!(refused["success"], json!(false));
    assert_eq!(refused["error"], json!("Tool not found: text_process"));
    assert_eq!(result_of(&steps, "c2")["data"], json!({"result": 42}));
    assert_eq!(
        result_of(&steps, "c3")["error"],
        json!("Tool not found: multi_agent")
    );
}

#[tokio::test]
async fn the_model_calls_weather_text_and_json_tools_and_their_results_are_steps() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::tool_calls([
                ("w1", "get_weather", r#"{"city": "北京"}"#),
                (
                    "t1",
                    "text_process",
                    r#"{"text": "Hello wide world", "operation": "words"}"#,
                ),
                (
                    "j1",
                    "json_process",
                    r#"{"json_string": "{\"b\": 1, \"a\": [2]}", "operation": "keys"}"#,
                ),
            ]))
            .reply(Reply::text("It is sunny in Beijing (simulated).")),
    )
    .await;
    let app = chat_app(&mock, "").await;
    let token = app.register("wendy", "wendy-password").await;
    let (steps, last) = chat(&app, &token, "weather?").await;
    assert_eq!(last, "done");
    let weather = result_of(&steps, "w1");
    assert_eq!(weather["success"], json!(true));
    assert_eq!(
        weather["data"],
        json!({"city": "北京", "temperature": 25, "humidity": 60, "description": "晴天",
               "query_time": "2026-03-24 12:00:00", "simulated": true})
    );
    assert_eq!(result_of(&steps, "t1")["data"], json!({"words": 3}));
    assert_eq!(result_of(&steps, "j1")["data"], json!({"keys": ["b", "a"]}));
    // The results went back to the model too.
    let round2 = mock.bodies()[1]["messages"].as_array().unwrap().clone();
    assert!(
        round2
            .iter()
            .any(|m| m["role"] == "tool" && m["name"] == "get_weather")
    );
}

#[tokio::test]
async fn a_sub_agent_runs_shows_its_rounds_as_steps_and_its_tokens_are_counted() {
    let mock = MockLlm::start(
        Script::new()
            .reply(
                Reply::tool_calls([(
                    "m1",
                    "multi_agent",
                    r#"{"tasks": [{"name": "helper", "instruction": "Reverse abc", "tools": ["text_process"]}]}"#,
                )])
                .usage(10, 4),
            )
            // The sub-agent: one tool round, then its answer.
            .reply(
                Reply::tool_calls([(
                    "s1",
                    "text_process",
                    r#"{"text": "abc", "operation": "reverse"}"#,
                )])
                .usage(6, 2),
            )
            .reply(Reply::text("cba").usage(8, 1))
            .reply(Reply::text("The helper says cba.").usage(30, 5)),
    )
    .await;
    let app = chat_app(&mock, "").await;
    let token = app.register("sam", "sam-password").await;
    let (steps, last) = chat(&app, &token, "delegate").await;
    assert_eq!(last, "done");
    let progress: Vec<&str> = steps
        .values()
        .filter(|s| s["type"] == "thinking")
        .map(|s| s["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        progress,
        [
            "[sub-agent \"helper\"] round 1/3: calling text_process",
            "[sub-agent \"helper\"] round 2/3: answered (3 characters)"
        ]
    );
    assert_eq!(
        result_of(&steps, "m1")["data"]["results"],
        json!([{"task_name": "helper", "success": true, "response": "cba"}])
    );
    // The sub-agent's rounds are in the user's token statistics.
    let (_, stats) = app
        .call("GET", "/api/stats/tokens?period=weekly", Some(&token), None)
        .await;
    assert_eq!(
        stats["data"]["total_tokens"],
        json!(10 + 4 + 6 + 2 + 8 + 1 + 30 + 5)
    );
}
