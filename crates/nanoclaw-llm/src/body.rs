//! The JSON body of chat.md §3.3 with the provider adjustments.

use serde::Serialize;

use crate::types::{ChatRequest, Endpoint, Message, Provider, ToolSpec};

/// The wire request, borrowing the caller's messages rather than copying them.
#[derive(Debug, Serialize)]
pub(crate) struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    temperature: f64,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "<[ToolSpec]>::is_empty")]
    tools: &'a [ToolSpec],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    // Omitted, not `false`, for non-streamed calls, as the original sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Debug, Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// Shapes `request` for `endpoint`'s provider. Thinking on an OpenAI-style provider is refused
/// earlier by `Client::check`; here it is simply not sent.
pub(crate) fn wire_request<'a>(
    endpoint: &'a Endpoint,
    request: &'a ChatRequest,
) -> WireRequest<'a> {
    let provider = Provider::detect(&endpoint.api_url);
    let max_tokens = match provider.max_tokens_cap() {
        Some(cap) => request.max_tokens.min(cap),
        None => request.max_tokens,
    };
    let thinking =
        (request.thinking && provider.supports_thinking()).then_some(Thinking { kind: "enabled" });
    let has_tools = !request.tools.is_empty();
    WireRequest {
        model: &endpoint.model,
        messages: &request.messages,
        temperature: request.temperature,
        max_tokens,
        thinking,
        tools: &request.tools,
        tool_choice: has_tools.then_some("auto"),
        stream: request.stream.then_some(true),
        stream_options: (request.stream && endpoint.include_usage).then_some(StreamOptions {
            include_usage: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::{Value, json};

    use super::*;
    use crate::types::ToolCall;

    fn endpoint(url: &str, include_usage: bool) -> Endpoint {
        Endpoint {
            model: "m1".into(),
            api_url: url.into(),
            api_key: "sk-secret".into(),
            include_usage,
        }
    }

    fn request(max_tokens: u32, thinking: bool, tools: Vec<ToolSpec>, stream: bool) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::system("SYS"), Message::user("hi")],
            temperature: 0.7,
            max_tokens,
            thinking,
            tools: tools.into(),
            stream,
        }
    }

    fn body(e: &Endpoint, r: &ChatRequest) -> Value {
        serde_json::to_value(wire_request(e, r)).unwrap()
    }

    fn calculator() -> ToolSpec {
        ToolSpec {
            name: "calculator".into(),
            description: "Evaluate".into(),
            parameters: json!({"type":"object","properties":{"expression":{"type":"string"}}}),
        }
    }

    #[test]
    fn plain_openai_body_has_exactly_the_base_keys() {
        let b = body(
            &endpoint("https://api.openai.com/v1/chat/completions", false),
            &request(100_000, false, vec![], true),
        );
        assert_eq!(
            b,
            json!({
                "model": "m1",
                "messages": [{"role":"system","content":"SYS"},{"role":"user","content":"hi"}],
                "temperature": 0.7,
                "max_tokens": 100_000,
                "stream": true,
            })
        );
    }

    #[test]
    fn deepseek_caps_max_tokens_and_sends_thinking() {
        let b = body(
            &endpoint("https://api.deepseek.com/chat/completions", false),
            &request(100_000, true, vec![], true),
        );
        assert_eq!(b["max_tokens"], 8192);
        assert_eq!(b["thinking"], json!({"type":"enabled"}));
        let small = body(
            &endpoint("https://api.deepseek.com/chat/completions", false),
            &request(1000, false, vec![], true),
        );
        assert_eq!(small["max_tokens"], 1000);
        assert!(
            small.get("thinking").is_none(),
            "thinking off → key omitted"
        );
    }

    #[test]
    fn glm_caps_at_65536() {
        let e = endpoint(
            "https://open.bigmodel.cn/api/paas/v4/chat/completions",
            true,
        );
        let b = body(&e, &request(100_000, true, vec![], true));
        assert_eq!(b["max_tokens"], 65536);
        assert_eq!(b["thinking"], json!({"type":"enabled"}));
    }

    #[test]
    fn stream_options_only_when_asked_and_streaming() {
        let e = endpoint("http://localhost:8080/v1/chat/completions", true);
        assert_eq!(
            body(&e, &request(10, false, vec![], true))["stream_options"],
            json!({"include_usage": true})
        );
        let not_streamed = body(&e, &request(10, false, vec![], false));
        assert!(not_streamed.get("stream_options").is_none());
        assert!(
            not_streamed.get("stream").is_none(),
            "stream omitted for non-streamed calls"
        );
    }

    #[test]
    fn tools_and_tool_choice_only_when_offered() {
        let e = endpoint("http://localhost/v1/chat/completions", false);
        let b = body(&e, &request(10, false, vec![calculator()], true));
        assert_eq!(b["tool_choice"], "auto");
        assert_eq!(
            b["tools"],
            json!([{"type":"function","function":{"name":"calculator","description":"Evaluate",
                "parameters":{"type":"object","properties":{"expression":{"type":"string"}}}}}])
        );
        let none = body(&e, &request(10, false, vec![], true));
        assert!(none.get("tools").is_none() && none.get("tool_choice").is_none());
    }

    #[test]
    fn loop_messages_have_the_openai_shape() {
        let messages = vec![
            Message::Assistant {
                content: String::new(),
                tool_calls: vec![
                    ToolCall {
                        id: "call_1".into(),
                        name: "calculator".into(),
                        arguments: "{\"expression\":\"2+3\"}".into(),
                    },
                    ToolCall {
                        id: "call_2".into(),
                        name: "now".into(),
                        arguments: String::new(),
                    },
                ],
            },
            Message::Tool {
                tool_call_id: "call_1".into(),
                name: "calculator".into(),
                content: "{\"result\":5}".into(),
            },
            Message::assistant("done"),
        ];
        assert_eq!(
            serde_json::to_value(&messages).unwrap(),
            json!([
                {"role":"assistant","content":"","tool_calls":[
                    {"id":"call_1","type":"function","function":{"name":"calculator","arguments":"{\"expression\":\"2+3\"}"}},
                    {"id":"call_2","type":"function","function":{"name":"now","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"call_1","name":"calculator","content":"{\"result\":5}"},
                {"role":"assistant","content":"done"}
            ])
        );
    }

    #[test]
    fn provider_detection_follows_the_table() {
        assert_eq!(
            Provider::detect("https://api.deepseek.com/chat/completions"),
            Provider::DeepSeek
        );
        assert_eq!(
            Provider::detect("https://open.bigmodel.cn/api/paas/v4/chat/completions"),
            Provider::Glm
        );
        assert_eq!(
            Provider::detect("https://api.openai.com/v1/chat/completions"),
            Provider::OpenAi
        );
        assert_eq!(
            Provider::detect("http://127.0.0.1:9/deepseek/v1/chat/completions"),
            Provider::DeepSeek
        );
        // deepseek wins when both appear (the original's order).
        assert_eq!(
            Provider::detect("https://bigmodel.example/deepseek"),
            Provider::DeepSeek
        );
        assert_eq!(
            Provider::detect("https://API.DeepSeek.com/x"),
            Provider::DeepSeek
        );
        assert_eq!(Provider::OpenAi.to_string(), "openai");
    }

    #[test]
    fn endpoint_debug_hides_key_and_path() {
        let e = endpoint(
            "https://api.example.com/v1/chat/completions?key=sk-in-query",
            false,
        );
        let dbg = format!("{e:?}");
        assert!(dbg.contains("api.example.com"));
        assert!(
            !dbg.contains("sk-secret") && !dbg.contains("sk-in-query") && !dbg.contains("/v1"),
            "{dbg}"
        );
    }
}
