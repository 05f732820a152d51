//! The client against the project's own scripted model server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use nanoclaw_llm::{
    ChatRequest, Client, ClientSettings, Delta, Endpoint, LlmError, Message, RoundStream, ToolSpec,
};
use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use serde_json::json;

fn settings() -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(5),
        max_retries: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_secs(8),
    }
}

fn endpoint(url: String) -> Endpoint {
    Endpoint {
        model: "mock-model".into(),
        api_url: url,
        api_key: "sk-test-key".into(),
        include_usage: true,
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("SYS"), Message::user("Say hello")],
        temperature: 0.5,
        max_tokens: 100_000,
        thinking: false,
        tools: std::sync::Arc::from([]),
        stream: true,
    }
}

/// Every delta until the end, and the error that ended the round, if any.
async fn drain(mut round: RoundStream) -> (Vec<Delta>, Option<LlmError>) {
    let mut deltas = Vec::new();
    while let Some(item) = round.next().await {
        match item {
            Ok(delta) => deltas.push(delta),
            Err(e) => {
                assert!(round.next().await.is_none(), "nothing after an error");
                return (deltas, Some(e));
            }
        }
    }
    (deltas, None)
}

async fn run(
    mock: &MockLlm,
    settings: ClientSettings,
    request: &ChatRequest,
) -> Result<(Vec<Delta>, Option<LlmError>), LlmError> {
    let client = Client::new(settings)?;
    let round = client.stream(&endpoint(mock.url()), request).await?;
    Ok(drain(round).await)
}

fn text_of(deltas: &[Delta]) -> String {
    deltas
        .iter()
        .filter_map(|d| match d {
            Delta::Content(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn plain_text_arrives_in_chunks_with_finish_and_usage() {
    let mock =
        MockLlm::start(Script::new().reply(Reply::text("Hello world").split_every(5).usage(12, 2)))
            .await;
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert_eq!(error, None);
    assert_eq!(
        deltas,
        vec![
            Delta::Content("Hello".into()),
            Delta::Content(" worl".into()),
            Delta::Content("d".into()),
            Delta::Finish("stop".into()),
            Delta::Usage {
                prompt_tokens: 12,
                completion_tokens: 2
            },
        ]
    );
}

#[tokio::test]
async fn reasoning_comes_before_the_answer() {
    let mock = MockLlm::start(
        Script::new().reply(Reply::thinking_then_text("Let me think.", "42").split_every(4)),
    )
    .await;
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert_eq!(error, None);
    let thinking: String = deltas
        .iter()
        .filter_map(|d| match d {
            Delta::Reasoning(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(thinking, "Let me think.");
    assert_eq!(text_of(&deltas), "42");
    let first_content = deltas
        .iter()
        .position(|d| matches!(d, Delta::Content(_)))
        .unwrap();
    assert!(
        deltas[..first_content]
            .iter()
            .all(|d| matches!(d, Delta::Reasoning(_)))
    );
}

#[tokio::test]
async fn tool_call_deltas_split_over_chunks_assemble_by_index() {
    let mock = MockLlm::start(
        Script::new().reply(
            Reply::tool_calls([
                ("call_1", "calculator", r#"{"expression":"2+3"}"#),
                ("call_2", "calculator", r#"{"expression":"7*6"}"#),
            ])
            .usage(30, 20),
        ),
    )
    .await;
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert_eq!(error, None);
    // What the agent does: key by index, first id/name win, arguments appended.
    let mut calls: BTreeMap<u32, (String, String, String, usize)> = BTreeMap::new();
    for d in &deltas {
        if let Delta::ToolCall {
            index,
            id,
            name,
            arguments,
        } = d
        {
            let entry = calls.entry(*index).or_default();
            if let Some(id) = id {
                entry.0 = id.clone();
            }
            if let Some(name) = name {
                entry.1 = name.clone();
            }
            if let Some(a) = arguments {
                entry.2.push_str(a);
                entry.3 += 1;
            }
        }
    }
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (
            calls[&0].0.as_str(),
            calls[&0].1.as_str(),
            calls[&0].2.as_str()
        ),
        ("call_1", "calculator", r#"{"expression":"2+3"}"#)
    );
    assert_eq!(
        (calls[&1].0.as_str(), calls[&1].2.as_str()),
        ("call_2", r#"{"expression":"7*6"}"#)
    );
    assert!(
        calls[&0].3 >= 2,
        "arguments really arrived in several pieces"
    );
    assert!(deltas.contains(&Delta::Finish("tool_calls".into())));
    assert_eq!(
        deltas.last(),
        Some(&Delta::Usage {
            prompt_tokens: 30,
            completion_tokens: 20
        })
    );
}

#[tokio::test]
async fn finish_reason_length_is_surfaced() {
    let mock = MockLlm::start(Script::new().reply(Reply::text("truncat").finish("length"))).await;
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert_eq!(error, None);
    assert!(deltas.contains(&Delta::Finish("length".into())));
}

#[tokio::test]
async fn odd_but_harmless_stream_lines_are_ignored() {
    let reply = Reply::text("a")
        .raw(": keep-alive\n\n")
        .raw("data:{\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n")
        .raw("data: null\n\n")
        .raw("data: not json\n\n")
        .raw("event: noise\ndata: {\"choices\":[{\"delta\":null}]}\n\n")
        .raw("data: {\"choices\":[{\"delta\":{\"tool_calls\":null,\"content\":\"c\"}}]}\n\n")
        .raw("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n")
        .usage(5, 3);
    let mock = MockLlm::start(Script::new().reply(reply)).await;
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert_eq!(error, None);
    assert_eq!(text_of(&deltas), "abc");
    let last_usage = deltas
        .iter()
        .rev()
        .find(|d| matches!(d, Delta::Usage { .. }));
    assert_eq!(
        last_usage,
        Some(&Delta::Usage {
            prompt_tokens: 5,
            completion_tokens: 3
        }),
        "last usage wins"
    );
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_out_then_succeeds() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::status(429).retry_after(1))
            .reply(Reply::text("finally")),
    )
    .await;
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert_eq!(error, None);
    assert_eq!(text_of(&deltas), "finally");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at.duration_since(requests[0].at);
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After honoured, waited {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "but not much longer: {waited:?}"
    );
}

#[tokio::test]
async fn retry_after_is_capped_at_backoff_max() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::status(429).retry_after(3600))
            .reply(Reply::text("ok")),
    )
    .await;
    let capped = ClientSettings {
        backoff_max: Duration::from_millis(50),
        ..settings()
    };
    let (deltas, _) = run(&mock, capped, &request()).await.unwrap();
    assert_eq!(text_of(&deltas), "ok");
    assert_eq!(mock.received(), 2);
}

#[tokio::test]
async fn rate_limited_forever_gives_up_after_max_retries() {
    let mock = MockLlm::start(Script::new().otherwise(Reply::status(429))).await;
    let err = run(
        &mock,
        ClientSettings {
            max_retries: 2,
            ..settings()
        },
        &request(),
    )
    .await
    .unwrap_err();
    assert_eq!(err, LlmError::RateLimited);
    assert_eq!(mock.received(), 3, "one attempt and two retries");
    assert_eq!(
        err.user_message(),
        "Rate limit exceeded, please try again later"
    );
}

#[tokio::test]
async fn server_errors_are_not_retried() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::status(500))
            .reply(Reply::text("never")),
    )
    .await;
    let err = run(&mock, settings(), &request()).await.unwrap_err();
    assert_eq!(err, LlmError::Unavailable(500));
    assert_eq!(mock.received(), 1);
    assert_eq!(err.user_message(), "LLM service unavailable (500)");
}

#[tokio::test]
async fn other_statuses_are_rejected_with_the_upstream_reason_and_no_secrets() {
    let body = json!({"error": {"message": "Incorrect API key provided: sk-test-key", "type": "invalid_request_error"}});
    let mock = MockLlm::start(Script::new().reply(Reply::status(401).json_body(body))).await;
    let err = run(&mock, settings(), &request()).await.unwrap_err();
    assert_eq!(
        err,
        LlmError::Rejected {
            status: 401,
            reason: "401 Unauthorized: Incorrect API key provided: [redacted]".into()
        }
    );
    let shown = err.user_message();
    assert!(
        !shown.contains("sk-test-key") && !shown.contains(&mock.addr.to_string()),
        "{shown}"
    );
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::new(settings()).unwrap();
    let err = client
        .stream(
            &endpoint(format!("http://127.0.0.1:{port}/v1/chat/completions")),
            &request(),
        )
        .await
        .unwrap_err();
    assert_eq!(err, LlmError::Connect);
    assert_eq!(err.user_message(), "Unable to connect to LLM service");
}

#[tokio::test]
async fn a_silent_upstream_is_reported_as_stalled() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::text("partial").stall_after(1))
            .reply(Reply::stall()),
    )
    .await;
    let quick = ClientSettings {
        idle_timeout: Duration::from_millis(300),
        ..settings()
    };
    let (deltas, error) = run(&mock, quick, &request()).await.unwrap();
    assert_eq!(deltas, vec![Delta::Content("partial".into())]);
    assert_eq!(error, Some(LlmError::Stalled));
    // Headers and then nothing at all.
    let (deltas, error) = run(&mock, quick, &request()).await.unwrap();
    assert!(deltas.is_empty());
    assert_eq!(error, Some(LlmError::Stalled));
    assert_eq!(LlmError::Stalled.user_message(), "LLM request timed out");
    // Giving up closed both connections.
    assert!(
        mock.wait_cancelled(2, Duration::from_secs(5)).await,
        "cancelled = {}",
        mock.cancelled()
    );
}

#[tokio::test]
async fn the_idle_deadline_counts_from_the_last_byte_not_from_the_start() {
    // Ten chunks 100 ms apart: the answer outlasts the idle timeout, no gap comes near it
    // (6x margin for a loaded machine); then the upstream falls silent and the deadline,
    // moved by the chunks, still fires. Real time: tokio's paused clock would advance past
    // the deadline while a chunk is still on its way through the socket.
    let mock = MockLlm::start(
        Script::new().reply(Reply::paced(10, Duration::from_millis(100)).stall_after(10)),
    )
    .await;
    let quick = ClientSettings {
        idle_timeout: Duration::from_millis(600),
        ..settings()
    };
    let (deltas, error) = run(&mock, quick, &request()).await.unwrap();
    let chunks = deltas
        .iter()
        .filter(|d| matches!(d, Delta::Content(_)))
        .count();
    assert_eq!(chunks, 10, "{deltas:?}");
    assert_eq!(error, Some(LlmError::Stalled));
}

#[tokio::test]
async fn a_dropped_connection_mid_stream_is_an_error() {
    let mock =
        MockLlm::start(Script::new().reply(Reply::text("abcdef").split_every(2).drop_after(2)))
            .await;
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert_eq!(text_of(&deltas), "abcd");
    assert!(matches!(error, Some(LlmError::Protocol(_))), "{error:?}");
}

#[tokio::test]
async fn an_in_band_error_chunk_ends_the_round() {
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::text("so far").then_error("boom"))
            .reply(Reply::upstream_error("boom")),
    )
    .await;
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert_eq!(text_of(&deltas), "so far");
    assert_eq!(error, Some(LlmError::Upstream("boom".into())));
    let (deltas, error) = run(&mock, settings(), &request()).await.unwrap();
    assert!(deltas.is_empty());
    let error = error.unwrap();
    assert_eq!(error.user_message(), "LLM error: boom");
}

#[tokio::test]
async fn dropping_the_round_closes_the_upstream_connection() {
    let slow = Reply::text("x".repeat(500))
        .split_every(1)
        .delay_between(Duration::from_millis(20));
    let mock = MockLlm::start(
        Script::new()
            .reply(slow)
            .reply(Reply::text("first").stall_after(1)),
    )
    .await;
    let client = Client::new(settings()).unwrap();

    let mut round = client
        .stream(&endpoint(mock.url()), &request())
        .await
        .unwrap();
    assert_eq!(round.next().await, Some(Ok(Delta::Content("x".into()))));
    drop(round);
    assert!(
        mock.wait_cancelled(1, Duration::from_secs(2)).await,
        "a streaming upstream saw us leave"
    );

    // Also while the upstream is silent: nothing is written, so only the close can tell it.
    let mut round = client
        .stream(&endpoint(mock.url()), &request())
        .await
        .unwrap();
    assert_eq!(round.next().await, Some(Ok(Delta::Content("first".into()))));
    drop(round);
    assert!(
        mock.wait_cancelled(2, Duration::from_secs(2)).await,
        "a silent upstream saw us leave"
    );
    assert_eq!(mock.completed(), 0);
}

#[tokio::test]
async fn the_request_body_is_shaped_for_the_provider() {
    let mock = MockLlm::start(Script::new()).await;
    let client = Client::new(settings()).unwrap();
    let deepseek = Endpoint {
        model: "deepseek-chat".into(),
        api_url: mock.url_with_path("/deepseek/v1/chat/completions"),
        api_key: "sk-deep".into(),
        include_usage: true,
    };
    let mut req = request();
    req.thinking = true;
    req.tools = vec![ToolSpec {
        name: "calculator".into(),
        description: "Evaluate an arithmetic expression".into(),
        parameters: json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}),
    }]
    .into();
    let (deltas, error) = drain(client.stream(&deepseek, &req).await.unwrap()).await;
    assert_eq!(error, None);
    assert_eq!(
        text_of(&deltas),
        "Say hello",
        "the default reply echoes the last user message"
    );

    let received = mock.requests();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(sent.path, "/deepseek/v1/chat/completions");
    assert_eq!(sent.authorization.as_deref(), Some("Bearer sk-deep"));
    let body = &sent.body;
    assert_eq!(body["model"], "deepseek-chat");
    assert_eq!(body["max_tokens"], 8192, "deepseek cap");
    assert_eq!(body["temperature"], 0.5);
    assert_eq!(body["thinking"], json!({"type": "enabled"}));
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "calculator");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "SYS"}, {"role": "user", "content": "Say hello"}])
    );

    // An OpenAI-style endpoint without tools and usage: none of those keys.
    let plain = Endpoint {
        include_usage: false,
        ..endpoint(mock.url())
    };
    drain(client.stream(&plain, &request()).await.unwrap()).await;
    let body = &mock.bodies()[1];
    assert_eq!(body["max_tokens"], 100_000);
    for key in ["thinking", "stream_options", "tools", "tool_choice"] {
        assert!(body.get(key).is_none(), "{key} must be absent: {body}");
    }
}

#[tokio::test]
async fn a_non_streamed_call_is_replayed_as_deltas() {
    let mock = MockLlm::start(
        Script::new().reply(
            Reply::tool_calls([
                ("call_a", "calculator", r#"{"expression":"1+1"}"#),
                ("call_b", "calculator", ""),
            ])
            .usage(4, 5),
        ),
    )
    .await;
    let mut req = request();
    req.stream = false;
    let (deltas, error) = run(&mock, settings(), &req).await.unwrap();
    assert_eq!(error, None);
    assert!(
        mock.bodies()[0].get("stream").is_none(),
        "stream omitted for sub-agent calls"
    );
    assert_eq!(
        deltas,
        vec![
            Delta::ToolCall {
                index: 0,
                id: Some("call_a".into()),
                name: Some("calculator".into()),
                arguments: Some(r#"{"expression":"1+1"}"#.into()),
            },
            Delta::ToolCall {
                index: 1,
                id: Some("call_b".into()),
                name: Some("calculator".into()),
                arguments: None
            },
            Delta::Finish("tool_calls".into()),
            Delta::Usage {
                prompt_tokens: 4,
                completion_tokens: 5
            },
        ]
    );
}

#[tokio::test]
async fn configuration_problems_are_found_before_sending() {
    let mock = MockLlm::start(Script::new()).await;
    let mut req = request();
    req.thinking = true;
    let err = Client::check(&endpoint(mock.url()), &req).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Thinking not supported for provider 'openai'"
    );
    let client = Client::new(settings()).unwrap();
    assert!(client.stream(&endpoint(mock.url()), &req).await.is_err());
    assert_eq!(mock.received(), 0, "nothing was sent");
}

#[test]
fn rounds_and_their_futures_can_move_between_tasks() {
    fn is_send<T: Send>(_: &T) {}
    fn is_send_sync<T: Send + Sync + Clone>() {}
    is_send_sync::<Client>();
    let client = Client::new(settings()).unwrap();
    let endpoint = endpoint("http://127.0.0.1:9/v1/chat/completions".into());
    let request = request();
    // Built, never polled: only the types are checked.
    let opening = client.stream(&endpoint, &request);
    is_send(&opening);
    drop(opening);
    fn next_is_send(round: &mut RoundStream) {
        let next = round.next();
        is_send(&next);
    }
    let _ = next_is_send;
}
