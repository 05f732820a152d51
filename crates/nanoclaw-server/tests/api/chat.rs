//! Chat: conversations, messages and streamed answers against our scripted model server.

use std::time::Duration;

use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use serde_json::{Value, json};

use crate::helpers::*;

/// A multi-mode server whose one model is the mock (plus `extra` config).
pub(crate) async fn chat_app(mock: &MockLlm, extra: &str) -> TestApp {
    chat_app_with_model(mock, "mock-model", extra).await
}

/// [`chat_app`] with the mock configured under the model id `model`.
pub(crate) async fn chat_app_with_model(mock: &MockLlm, model: &str, extra: &str) -> TestApp {
    spawn_app(&format!(
        "{MULTI}models:\n  - {{id: {model}, name: Mock, api_url: '{}', api_key: test-key}}\n{extra}",
        mock.url()
    ))
    .await
}

/// A conversation of the caller; returns its id.
pub(crate) async fn conversation(app: &TestApp, token: &str, body: Value) -> String {
    let (s, b) = app
        .call("POST", "/api/conversations", Some(token), Some(body))
        .await;
    assert_eq!(s, 200, "{b}");
    b["data"]["id"].as_str().unwrap().to_owned()
}

/// The events of a finished stream as `(name, data)`.
pub(crate) fn parse_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let mut lines = e.lines();
            let name = lines
                .next()
                .and_then(|l| l.strip_prefix("event: "))
                .unwrap_or_else(|| panic!("event line in {e:?}"));
            let data = lines
                .next()
                .and_then(|l| l.strip_prefix("data: "))
                .unwrap_or_else(|| panic!("data line in {e:?}"));
            assert!(lines.next().is_none(), "one data line: {e:?}");
            (name.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

/// POSTs `body` to `path` and reads the whole answer: `(status, events or the error body)`.
pub(crate) async fn stream(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
) -> (u16, Vec<(String, Value)>, Value) {
    let resp = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    if status != 200 {
        let body: Value = resp.json().await.unwrap();
        return (status, Vec::new(), body);
    }
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    (status, parse_events(&text), Value::Null)
}

pub(crate) async fn send(
    app: &TestApp,
    token: &str,
    id: &str,
    text: &str,
) -> (u16, Vec<(String, Value)>, Value) {
    stream(
        app,
        token,
        &format!("/api/conversations/{id}/messages"),
        json!({"text": text, "stream": true}),
    )
    .await
}

/// The conversation's stored title.
async fn title(app: &TestApp, token: &str, id: &str) -> Value {
    let (_, conv) = app
        .call(
            "GET",
            &format!("/api/conversations/{id}"),
            Some(token),
            None,
        )
        .await;
    conv["data"]["title"].clone()
}

pub(crate) async fn messages(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let (s, b) = app
        .call(
            "GET",
            &format!("/api/conversations/{id}/messages?limit=100"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["data"]["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_plain_answer_streams_and_is_saved() {
    let mock = MockLlm::start(
        Script::new().reply(
            Reply::text("Hello there, friend.")
                .split_every(4)
                .usage(12, 5),
        ),
    )
    .await;
    let app = chat_app(&mock, "").await;
    let token = app.register("ann", "ann-password").await;
    let id = conversation(&app, &token, json!({"title": "新对话"})).await;
    let (s, events, _) = send(&app, &token, &id, "  Say hello  ").await;
    assert_eq!(s, 200);
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done", "{events:?}");
    let steps: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "process_step")
        .map(|(_, d)| d)
        .collect();
    assert!(!steps.is_empty());
    let final_text = steps.last().unwrap();
    assert_eq!(final_text["id"], "step-0");
    assert_eq!(final_text["type"], "text");
    assert_eq!(final_text["content"], "Hello there, friend.");
    assert_eq!(done["token_count"], 5);
    assert_eq!(done["suggested_title"], "Say hello");
    // What the model was sent: the stored, trimmed text, our key, usage asked for.
    let request = &mock.requests()[0];
    assert_eq!(request.authorization.as_deref(), Some("Bearer test-key"));
    assert_eq!(request.body["model"], "mock-model");
    assert_eq!(
        request.body["messages"],
        json!([{"role": "user", "content": "Say hello"}])
    );
    assert_eq!(
        request.body["stream_options"],
        json!({"include_usage": true})
    );
    // Stored: the user message first, then the answer with its steps.
    let stored = messages(&app, &token, &id).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["role"], "user");
    assert_eq!(stored[0]["text"], "Say hello");
    assert_eq!(done["user_message_id"], stored[0]["id"]);
    assert_eq!(stored[1]["id"], done["message_id"]);
    assert_eq!(stored[1]["text"], "Hello there, friend.");
    assert_eq!(stored[1]["token_count"], 5);
    assert_eq!(
        stored[1]["process_steps"][0]["content"],
        "Hello there, friend."
    );
    // The title was saved, and usage counted.
    assert_eq!(title(&app, &token, &id).await, "Say hello");
    let (_, stats) = app
        .call("GET", "/api/stats/tokens", Some(&token), None)
        .await;
    assert_eq!(stats["data"]["prompt_tokens"], 12);
    assert_eq!(stats["data"]["completion_tokens"], 5);
    assert_eq!(stats["data"]["by_model"]["mock-model"]["total"], 17);
    // A titled conversation keeps its title: the next answer suggests none.
    let (s, events, _) = send(&app, &token, &id, "And again").await;
    assert_eq!(s, 200);
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done", "{events:?}");
    assert_eq!(done["suggested_title"], Value::Null);
    assert_eq!(title(&app, &token, &id).await, "Say hello");
}

#[tokio::test]
async fn thinking_and_two_rounds_of_parallel_tool_calls() {
    let mock = MockLlm::start(
        Script::new()
            .reply(
                Reply::thinking_then_text("I should calculate.", "Let me calc.")
                    .then_tool_calls([
                        ("call_1", "calculator", r#"{"expression": "2+3"}"#),
                        ("call_2", "calculator", r#"{"expression": "6*7"}"#),
                    ])
                    .usage(20, 7),
            )
            .reply(Reply::text("2+3 is 5 and 6*7 is 42.").usage(40, 9)),
    )
    .await;
    let app = spawn_app(&format!(
        "{MULTI}models:\n  - {{id: deepseek-mock, name: Mock, api_url: '{}', api_key: test-key}}\n",
        mock.url_with_path("/deepseek/chat/completions")
    ))
    .await;
    let token = app.register("ben", "ben-password").await;
    let id = conversation(
        &app,
        &token,
        json!({"model": "deepseek-mock", "thinking_enabled": true}),
    )
    .await;
    let (s, events, _) = send(&app, &token, &id, "What are 2+3 and 6*7?").await;
    assert_eq!(s, 200);
    assert_eq!(events.last().unwrap().0, "done", "{events:?}");
    // The final state of every step, by index.
    let mut steps: std::collections::BTreeMap<u64, Value> = Default::default();
    for (_, d) in events.iter().filter(|(n, _)| n == "process_step") {
        steps.insert(d["index"].as_u64().unwrap(), d.clone());
    }
    let kinds: Vec<&str> = steps
        .values()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
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
    assert_eq!(steps[&0]["content"], "I should calculate.");
    assert_eq!(steps[&2]["id_ref"], "call_1");
    assert_eq!(steps[&4]["id_ref"], "call_1");
    let first: Value = serde_json::from_str(steps[&4]["content"].as_str().unwrap()).unwrap();
    let second: Value = serde_json::from_str(steps[&5]["content"].as_str().unwrap()).unwrap();
    assert_eq!(first["success"], true);
    assert_eq!(first["data"]["result"], 5);
    assert_eq!(second["data"]["result"], 42);
    assert_eq!(steps[&6]["content"], "2+3 is 5 and 6*7 is 42.");
    // Round 2 was sent the calls and their results; thinking was asked for.
    let bodies = mock.bodies();
    assert_eq!(bodies[0]["thinking"], json!({"type": "enabled"}));
    let round2 = bodies[1]["messages"].as_array().unwrap();
    assert_eq!(round2[1]["tool_calls"][1]["function"]["name"], "calculator");
    assert_eq!(round2[3]["role"], "tool");
    // Stored with all its steps and the legacy tool_calls; usage summed over both rounds.
    let stored = messages(&app, &token, &id).await;
    assert_eq!(stored[1]["process_steps"].as_array().unwrap().len(), 7);
    assert_eq!(stored[1]["tool_calls"].as_array().unwrap().len(), 2);
    assert_eq!(stored[1]["token_count"], 16);
    let (_, stats) = app
        .call("GET", "/api/stats/tokens?period=weekly", Some(&token), None)
        .await;
    assert_eq!(stats["data"]["total_tokens"], 76);
    assert_eq!(stats["data"]["daily"].as_object().unwrap().len(), 7);
}

#[tokio::test]
async fn upstream_failures_are_friendly_and_keep_what_was_said() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::status(500))
            .reply(Reply::text("Partial answer that").usage(5, 3).drop_after(2))
            .reply(Reply::upstream_error("model overloaded"))
            .reply(Reply::status(429).retry_after(0))
            .reply(Reply::text("after the retry")),
    )
    .await;
    let app = chat_app(&mock, "").await;
    let token = app.register("cat", "cat-password").await;
    let id = conversation(&app, &token, json!({})).await;

    let (_, events, _) = send(&app, &token, &id, "one").await;
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["content"], "LLM service unavailable (500)");
    assert!(
        !data.to_string().contains("127.0.0.1"),
        "no upstream URL: {data}"
    );

    let (_, events, _) = send(&app, &token, &id, "two").await;
    assert_eq!(events.last().unwrap().0, "error", "{events:?}");
    let (_, events, _) = send(&app, &token, &id, "three").await;
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert!(
        data["content"]
            .as_str()
            .unwrap()
            .contains("model overloaded"),
        "{data}"
    );
    // A 429 is retried before anything reached the client.
    let (_, events, _) = send(&app, &token, &id, "four").await;
    assert_eq!(events.last().unwrap().0, "done", "{events:?}");

    // Every user message is stored; the cut answer is kept, marked interrupted.
    let stored = messages(&app, &token, &id).await;
    let roles: Vec<&str> = stored.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["user", "user", "assistant", "user", "user", "assistant"]
    );
    assert_eq!(stored[2]["interrupted"], true);
    assert!(stored[2]["text"].as_str().unwrap().starts_with("Partial"));
    assert_eq!(stored[5]["text"], "after the retry");
}

#[tokio::test]
async fn a_stalled_model_ends_with_a_timeout_and_the_partial_answer() {
    let mock = MockLlm::start(Script::new().reply(Reply::text("Half an ans").stall_after(1))).await;
    let app = chat_app(&mock, "llm_idle_timeout: 1\n").await;
    let token = app.register("dan", "dan-password").await;
    let id = conversation(&app, &token, json!({})).await;
    let (_, events, _) = send(&app, &token, &id, "talk").await;
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["content"], "LLM request timed out");
    let stored = messages(&app, &token, &id).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1]["interrupted"], true);
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_model_and_keeps_the_partial_answer() {
    let mock =
        MockLlm::start(Script::new().reply(Reply::paced(400, Duration::from_millis(25)))).await;
    let app = chat_app(&mock, "").await;
    let token = app.register("eve", "eve-password").await;
    let id = conversation(&app, &token, json!({})).await;
    let mut resp = app
        .client
        .post(app.url(&format!("/api/conversations/{id}/messages")))
        .bearer_auth(&token)
        .json(&json!({"text": "long story please"}))
        .send()
        .await
        .unwrap();
    // Wait for the first streamed step, then hang up.
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"event: process_step\n"));
    drop(resp);
    assert!(
        mock.wait_cancelled(1, Duration::from_secs(2)).await,
        "the model request was not cancelled"
    );
    // The answer so far is saved, marked interrupted, and the lock released.
    assert!(
        eventually(Duration::from_secs(5), || async {
            messages(&app, &token, &id).await.len() == 2
        })
        .await
    );
    let stored = messages(&app, &token, &id).await;
    assert_eq!(stored[1]["interrupted"], true);
    assert!(stored[1]["text"].as_str().unwrap().starts_with("w0"));
    mock.push(Reply::text("again"));
    let (s, events, _) = send(&app, &token, &id, "and now?").await;
    assert_eq!(s, 200);
    assert_eq!(events.last().unwrap().0, "done");
}

#[tokio::test]
async fn a_second_stream_on_a_conversation_gets_409() {
    let mock =
        MockLlm::start(Script::new().reply(Reply::paced(200, Duration::from_millis(20)))).await;
    let app = chat_app(&mock, "").await;
    let token = app.register("fay", "fay-password").await;
    let id = conversation(&app, &token, json!({})).await;
    let mut first = app
        .client
        .post(app.url(&format!("/api/conversations/{id}/messages")))
        .bearer_auth(&token)
        .json(&json!({"text": "first"}))
        .send()
        .await
        .unwrap();
    assert!(first.chunk().await.unwrap().is_some());
    let (s, _, body) = send(&app, &token, &id, "second").await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["code"], 409);
    // The refused send stored nothing.
    drop(first);
    assert!(
        eventually(Duration::from_secs(5), || async {
            messages(&app, &token, &id).await.len() == 2
        })
        .await
    );
}

#[tokio::test]
async fn configuration_problems_are_400_before_anything_is_stored() {
    let mock = MockLlm::start(Script::new()).await;
    let app = spawn_app(&format!(
        "{MULTI}models:\n  - {{id: openai-like, name: O, api_url: '{}', api_key: k}}\n  - {{id: keyless, name: K, api_url: '{}', api_key: ''}}\n",
        mock.url(),
        mock.url()
    ))
    .await;
    let token = app.register("gus", "gus-password").await;
    let (s, b) = app
        .call(
            "POST",
            "/api/conversations",
            Some(&token),
            Some(json!({"model": "nope"})),
        )
        .await;
    assert_error(s, &b, 400, "Unknown model: 'nope'");
    let thinking = conversation(
        &app,
        &token,
        json!({"model": "openai-like", "thinking_enabled": true}),
    )
    .await;
    let (s, _, b) = send(&app, &token, &thinking, "hi").await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("Thinking not supported"),
        "{b}"
    );
    let keyless = conversation(&app, &token, json!({"model": "keyless"})).await;
    let (s, _, b) = send(&app, &token, &keyless, "hi").await;
    assert_eq!(s, 400, "{b}");
    assert!(messages(&app, &token, &thinking).await.is_empty());
    assert!(messages(&app, &token, &keyless).await.is_empty());
    assert_eq!(mock.received(), 0);
    // Wrong types are 400s and nothing is stored.
    for bad in [
        json!({"text": 5}),
        json!({"text": "x", "attachments": "a"}),
        json!({}),
    ] {
        let (s, _, _) = stream(
            &app,
            &token,
            &format!("/api/conversations/{keyless}/messages"),
            bad,
        )
        .await;
        assert_eq!(s, 400);
    }
}

#[tokio::test]
async fn other_users_conversations_are_not_found_anywhere() {
    let mock = MockLlm::start(Script::new()).await;
    let app = chat_app(&mock, "").await;
    let owner = app.register("hal", "hal-password").await;
    let other = app.register("ida", "ida-password").await;
    let id = conversation(&app, &owner, json!({})).await;
    let (s, events, _) = send(&app, &owner, &id, "mine").await;
    assert_eq!((s, events.last().unwrap().0.as_str()), (200, "done"));
    let message_id = messages(&app, &owner, &id).await[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path, body) in [
        ("GET", format!("/api/conversations/{id}"), None),
        (
            "PATCH",
            format!("/api/conversations/{id}"),
            Some(json!({"title": "x"})),
        ),
        ("DELETE", format!("/api/conversations/{id}"), None),
        ("GET", format!("/api/conversations/{id}/messages"), None),
        (
            "POST",
            format!("/api/conversations/{id}/messages"),
            Some(json!({"text": "x"})),
        ),
        (
            "DELETE",
            format!("/api/conversations/{id}/messages/{message_id}"),
            None,
        ),
        (
            "POST",
            format!("/api/conversations/{id}/regenerate/{message_id}"),
            Some(json!({})),
        ),
    ] {
        let (s, b) = app.call(method, &path, Some(&other), body).await;
        assert_error(s, &b, 404, "conversation not found");
    }
    let (_, list) = app
        .call("GET", "/api/conversations", Some(&other), None)
        .await;
    assert_eq!(list["data"]["items"], json!([]));
    // A project id in a body that is not the caller's.
    let (s, b) = app
        .call(
            "POST",
            "/api/conversations",
            Some(&other),
            Some(json!({"project_id": "not-mine"})),
        )
        .await;
    assert_error(s, &b, 404, "Project not found");
    assert_eq!(
        messages(&app, &owner, &id).await.len(),
        2,
        "nothing changed for the owner"
    );
}

#[tokio::test]
async fn regenerate_replaces_the_answer_and_delete_removes_one_message() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::text("first answer"))
            .reply(Reply::text("second answer")),
    )
    .await;
    let app = chat_app(&mock, "").await;
    let token = app.register("jo", "jo-password").await;
    let id = conversation(&app, &token, json!({})).await;
    send(&app, &token, &id, "question").await;
    let stored = messages(&app, &token, &id).await;
    let (user_id, answer_id) = (
        stored[0]["id"].as_str().unwrap().to_owned(),
        stored[1]["id"].as_str().unwrap().to_owned(),
    );
    let (s, _, b) = stream(
        &app,
        &token,
        &format!("/api/conversations/{id}/regenerate/{user_id}"),
        json!({}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["message"], "can only regenerate assistant messages");
    let (s, events, _) = stream(
        &app,
        &token,
        &format!("/api/conversations/{id}/regenerate/{answer_id}"),
        json!({"tools_enabled": false}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(events.last().unwrap().0, "done");
    let stored = messages(&app, &token, &id).await;
    let texts: Vec<&str> = stored.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["question", "second answer"]);
    // Regenerate sent the same history and, with tools off, no tools.
    let bodies = mock.bodies();
    assert_eq!(bodies[0]["messages"], bodies[1]["messages"]);
    assert!(bodies[1].get("tools").is_none());
    let (s, b) = app
        .call(
            "DELETE",
            &format!("/api/conversations/{id}/messages/temp_123"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((s.as_u16(), b["message"].as_str()), (200, Some("deleted")));
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/conversations/{id}/messages/{user_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(messages(&app, &token, &id).await.len(), 1);
}

#[tokio::test]
async fn pages_reach_the_newest_messages_and_never_repeat() {
    let mock = MockLlm::start(Script::new()).await;
    let app = chat_app(&mock, "").await;
    let token = app.register("kay", "kay-password").await;
    let id = conversation(&app, &token, json!({})).await;
    for i in 0..7 {
        let (_, events, _) = send(&app, &token, &id, &format!("m{i}")).await;
        assert_eq!(events.last().unwrap().0, "done");
    }
    // 14 messages, pages of 4: the newest first, each page in chronological order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/conversations/{id}/messages?limit=4&cursor={c}"),
            None => format!("/api/conversations/{id}/messages?limit=4"),
        };
        let (s, b) = app.call("GET", &path, Some(&token), None).await;
        assert_eq!(s, 200, "{b}");
        let items = b["data"]["items"].as_array().unwrap();
        let page: Vec<String> = items
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        seen.splice(0..0, page);
        if b["data"]["has_more"] == false {
            assert!(b["data"]["next_cursor"].is_null());
            break;
        }
        cursor = Some(b["data"]["next_cursor"].as_str().unwrap().to_owned());
    }
    let expected: Vec<String> = (0..7)
        .flat_map(|i| [format!("m{i}"), format!("m{i}")])
        .collect();
    assert_eq!(seen, expected, "every message once, oldest to newest");
    // Conversations too: newest updated first, no repeats.
    for title in ["a", "b", "c"] {
        conversation(&app, &token, json!({"title": title})).await;
    }
    let (_, first) = app
        .call("GET", "/api/conversations?limit=2", Some(&token), None)
        .await;
    let cursor = first["data"]["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = app
        .call(
            "GET",
            &format!("/api/conversations?limit=2&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    let titles: Vec<&str> = first["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"]["items"].as_array().unwrap())
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["c", "b", "a", "m0"]);
    assert_eq!(second["data"]["items"][1]["message_count"], 14);
    let (s, _) = app
        .call("GET", "/api/conversations?limit=abc", Some(&token), None)
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn shutdown_lets_answers_end_and_saves_what_they_had() {
    let mock =
        MockLlm::start(Script::new().reply(Reply::paced(400, Duration::from_millis(25)))).await;
    let base = tempfile::tempdir().unwrap();
    let yaml = format!(
        "{MULTI}stream_shutdown_grace: 0\nmodels:\n  - {{id: mock-model, name: Mock, api_url: '{}', api_key: k}}\n",
        mock.url()
    );
    let app = spawn_app_in(base.path(), &yaml).await;
    let token = app.register("lee", "lee-password").await;
    let id = conversation(&app, &token, json!({})).await;
    let mut resp = app
        .client
        .post(app.url(&format!("/api/conversations/{id}/messages")))
        .bearer_auth(&token)
        .json(&json!({"text": "a long one"}))
        .send()
        .await
        .unwrap();
    let mut text = String::from_utf8(resp.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    let reader = tokio::spawn(async move {
        while let Some(chunk) = resp.chunk().await.unwrap() {
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        text
    });
    // The server is told to stop while the answer streams: with no grace the answer is cut,
    // saved, and its client told why; then the server exits.
    app.stop().await;
    let events = parse_events(&reader.await.unwrap());
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(
        data["content"],
        "The server is restarting; the answer so far was saved"
    );
    assert!(mock.wait_cancelled(1, Duration::from_secs(2)).await);
    let again = spawn_app_in(base.path(), &yaml).await;
    let (_, login) = again.login("lee", "lee-password").await;
    let token = login["data"]["token"].as_str().unwrap().to_owned();
    let stored = messages(&again, &token, &id).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1]["interrupted"], true);
    assert!(stored[1]["text"].as_str().unwrap().starts_with("w0"));
}

#[tokio::test]
async fn two_processes_share_one_stream_lock() {
    let mock =
        MockLlm::start(Script::new().reply(Reply::paced(200, Duration::from_millis(20)))).await;
    let base = tempfile::tempdir().unwrap();
    let yaml = format!(
        "{MULTI}models:\n  - {{id: mock-model, name: Mock, api_url: '{}', api_key: k}}\n",
        mock.url()
    );
    let a = spawn_app_in(base.path(), &yaml).await;
    let b = spawn_app_in(base.path(), &yaml).await;
    let token = a.register("max", "max-password").await;
    let id = conversation(&a, &token, json!({})).await;
    let mut first = a
        .client
        .post(a.url(&format!("/api/conversations/{id}/messages")))
        .bearer_auth(&token)
        .json(&json!({"text": "on A"}))
        .send()
        .await
        .unwrap();
    assert!(first.chunk().await.unwrap().is_some());
    let (s, _, body) = send(&b, &token, &id, "on B meanwhile").await;
    assert_eq!(s, 409, "{body}");
    drop(first);
}

#[tokio::test]
async fn the_model_writes_then_reads_a_file_of_the_bound_project() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::tool_calls([(
                "w1",
                "file_write",
                r#"{"path": "notes/hello.txt", "content": "hi from the model", "project_id": "someone-elses"}"#,
            )]))
            .reply(Reply::tool_calls([("r1", "file_read", r#"{"path": "notes/hello.txt"}"#)]))
            .reply(Reply::text("Written and read back."))
            .reply(Reply::text("No project here.")),
    )
    .await;
    let app = chat_app(&mock, "").await;
    let token = app.register("nia", "nia-password").await;
    let (s, project) = app
        .call(
            "POST",
            "/api/projects",
            Some(&token),
            Some(json!({"name": "Notes"})),
        )
        .await;
    assert_eq!(s, 200, "{project}");
    let project_id = project["data"]["id"].as_str().unwrap().to_owned();
    let id = conversation(&app, &token, json!({"project_id": project_id})).await;
    let (_, events, _) = send(&app, &token, &id, "write a note, then read it").await;
    assert_eq!(events.last().unwrap().0, "done", "{events:?}");
    let results: Vec<Value> = events
        .iter()
        .filter(|(n, d)| n == "process_step" && d["type"] == "tool_result")
        .map(|(_, d)| serde_json::from_str(d["content"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["success"], true, "{results:?}");
    assert_eq!(results[1]["success"], true, "{results:?}");
    assert!(
        results[1].to_string().contains("hi from the model"),
        "{results:?}"
    );
    // The file is in the project, where the file API finds it.
    let (s, file) = app
        .call(
            "GET",
            &format!("/api/projects/{project_id}/files/notes/hello.txt"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, 200, "{file}");
    assert!(file.to_string().contains("hi from the model"));
    // File tools are offered with a bound project, and not without one.
    let offered = |body: &Value| -> Vec<String> {
        body["tools"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(offered(&mock.bodies()[0]).contains(&"file_read".to_owned()));
    let unbound = conversation(&app, &token, json!({})).await;
    let (_, events, _) = send(&app, &token, &unbound, "hello").await;
    assert_eq!(events.last().unwrap().0, "done");
    let last = mock.bodies().last().unwrap().clone();
    assert!(
        !offered(&last).iter().any(|t| t.starts_with("file_")),
        "{:?}",
        offered(&last)
    );
    assert!(offered(&last).contains(&"calculator".to_owned()));
}
