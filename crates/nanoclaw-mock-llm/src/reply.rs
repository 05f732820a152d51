//! What the mock answers: scripted replies and their wire frames.

use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};

/// One piece of a streamed answer, sent as one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A `content` delta.
    Content(String),
    /// A `reasoning_content` delta.
    Reasoning(String),
    /// A `tool_calls` delta for the call at `index`.
    ToolCall {
        /// Position of the call in the round.
        index: u32,
        /// Call id (first piece of a call).
        id: Option<String>,
        /// Function name (first piece of a call).
        name: Option<String>,
        /// A fragment of the arguments text.
        arguments: Option<String>,
    },
    /// An in-band `{"error": {"message": …}}` chunk.
    Error(String),
    /// Verbatim bytes written to the stream (an SSE line and its blank line are up to you).
    Raw(String),
}

/// How a streamed reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Finish reason, usage (if any), `data: [DONE]`.
    Done,
    /// Finish reason and usage, then the body just ends.
    NoDone,
    /// After this many chunks, nothing more ever (headers were sent).
    Stall {
        /// Chunks sent before going silent.
        after: usize,
    },
    /// After this many chunks the connection is cut mid-body.
    Drop {
        /// Chunks sent before the cut.
        after: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusReply {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: Value,
}

/// One scripted answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub(crate) pieces: Vec<Piece>,
    pub(crate) usage: Option<(u64, u64)>,
    pub(crate) finish: Option<String>,
    pub(crate) delay: Duration,
    pub(crate) ending: Ending,
    pub(crate) status: Option<StatusReply>,
    /// Resolved per request: the last user message, sent back.
    pub(crate) echo: bool,
}

impl Reply {
    fn with_pieces(pieces: Vec<Piece>) -> Reply {
        Reply {
            pieces,
            usage: None,
            finish: None,
            delay: Duration::ZERO,
            ending: Ending::Done,
            status: None,
            echo: false,
        }
    }

    /// A streamed answer of one content chunk (see [`Reply::split_every`]).
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::with_pieces(vec![Piece::Content(text.into())])
    }

    /// Reasoning first, then the answer.
    pub fn thinking_then_text(thinking: impl Into<String>, text: impl Into<String>) -> Reply {
        Reply::with_pieces(vec![
            Piece::Reasoning(thinking.into()),
            Piece::Content(text.into()),
        ])
    }

    /// Tool calls `(id, name, arguments)` with indexes 0, 1, …: id and name in a call's first
    /// chunk, its arguments split over three more. Finish reason `tool_calls`.
    pub fn tool_calls<I, S1, S2, S3>(calls: I) -> Reply
    where
        I: IntoIterator<Item = (S1, S2, S3)>,
        S1: Into<String>,
        S2: Into<String>,
        S3: Into<String>,
    {
        Reply::with_pieces(Vec::new()).then_tool_calls(calls)
    }

    /// A plain HTTP error status with a JSON error body.
    pub fn status(status: u16) -> Reply {
        let mut reply = Reply::with_pieces(Vec::new());
        reply.status = Some(StatusReply {
            status,
            retry_after: None,
            body: json!({"error": {"message": format!("mock status {status}"), "type": "mock_error", "code": status}}),
        });
        reply
    }

    /// Headers sent, then silence forever.
    pub fn stall() -> Reply {
        let mut reply = Reply::with_pieces(Vec::new());
        reply.ending = Ending::Stall { after: 0 };
        reply
    }

    /// One in-band error chunk, then the body ends (no finish, no `[DONE]`).
    pub fn upstream_error(message: impl Into<String>) -> Reply {
        let mut reply = Reply::with_pieces(vec![Piece::Error(message.into())]);
        reply.ending = Ending::NoDone;
        reply
    }

    /// The last user message sent back (the default when the script is empty).
    pub fn echo() -> Reply {
        let mut reply = Reply::with_pieces(Vec::new());
        reply.echo = true;
        reply
    }

    /// `chunks` content chunks of one short word each, `interval` apart, with usage: the slow
    /// model of the benchmarks.
    pub fn paced(chunks: usize, interval: Duration) -> Reply {
        let pieces = (0..chunks)
            .map(|i| Piece::Content(format!("w{} ", i % 10)))
            .collect();
        let mut reply = Reply::with_pieces(pieces);
        reply.delay = interval;
        reply.usage = Some((10, chunks as u64));
        reply
    }

    /// Appends a content chunk.
    pub fn then_text(mut self, text: impl Into<String>) -> Reply {
        self.pieces.push(Piece::Content(text.into()));
        self
    }

    /// Appends a reasoning chunk.
    pub fn then_reasoning(mut self, text: impl Into<String>) -> Reply {
        self.pieces.push(Piece::Reasoning(text.into()));
        self
    }

    /// Appends tool calls (indexes continue after any already present).
    pub fn then_tool_calls<I, S1, S2, S3>(mut self, calls: I) -> Reply
    where
        I: IntoIterator<Item = (S1, S2, S3)>,
        S1: Into<String>,
        S2: Into<String>,
        S3: Into<String>,
    {
        let first = self
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::ToolCall { index, .. } => Some(index + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        for ((id, name, arguments), index) in calls.into_iter().zip(first..) {
            self.pieces.push(Piece::ToolCall {
                index,
                id: Some(id.into()),
                name: Some(name.into()),
                arguments: None,
            });
            let arguments: String = arguments.into();
            let size = arguments.chars().count().div_ceil(3).max(1);
            for part in split_chars(&arguments, size) {
                self.pieces.push(Piece::ToolCall {
                    index,
                    id: None,
                    name: None,
                    arguments: Some(part),
                });
            }
        }
        self
    }

    /// Appends an in-band error chunk.
    pub fn then_error(mut self, message: impl Into<String>) -> Reply {
        self.pieces.push(Piece::Error(message.into()));
        self
    }

    /// Appends verbatim stream bytes, e.g. `"data:{\"choices\":null}\n\n"` or `": ping\n\n"`.
    pub fn raw(mut self, text: impl Into<String>) -> Reply {
        self.pieces.push(Piece::Raw(text.into()));
        self
    }

    /// Re-splits content, reasoning and tool arguments into chunks of at most `chars` characters.
    pub fn split_every(mut self, chars: usize) -> Reply {
        let chars = chars.max(1);
        let mut out = Vec::with_capacity(self.pieces.len());
        for piece in self.pieces {
            match piece {
                Piece::Content(t) => {
                    out.extend(split_chars(&t, chars).into_iter().map(Piece::Content))
                }
                Piece::Reasoning(t) => {
                    out.extend(split_chars(&t, chars).into_iter().map(Piece::Reasoning))
                }
                Piece::ToolCall {
                    index,
                    id,
                    name,
                    arguments: Some(args),
                } if id.is_none() && name.is_none() => {
                    out.extend(
                        split_chars(&args, chars)
                            .into_iter()
                            .map(|a| Piece::ToolCall {
                                index,
                                id: None,
                                name: None,
                                arguments: Some(a),
                            }),
                    );
                }
                other => out.push(other),
            }
        }
        self.pieces = out;
        self
    }

    /// Adds a usage chunk (`choices: []`) before `[DONE]`.
    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Reply {
        self.usage = Some((prompt_tokens, completion_tokens));
        self
    }

    /// Sets the finish reason (default `tool_calls` when the reply calls tools, else `stop`).
    pub fn finish(mut self, reason: impl Into<String>) -> Reply {
        self.finish = Some(reason.into());
        self
    }

    /// Waits this long before every chunk but the first.
    pub fn delay_between(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Sends the first `chunks` chunks, then goes silent with the connection open.
    pub fn stall_after(mut self, chunks: usize) -> Reply {
        self.ending = Ending::Stall { after: chunks };
        self
    }

    /// Sends the first `chunks` chunks, then cuts the connection mid-body.
    pub fn drop_after(mut self, chunks: usize) -> Reply {
        self.ending = Ending::Drop { after: chunks };
        self
    }

    /// Ends the body after finish and usage without `data: [DONE]`.
    pub fn without_done(mut self) -> Reply {
        self.ending = Ending::NoDone;
        self
    }

    /// For a status reply: a `Retry-After` of this many seconds.
    pub fn retry_after(self, seconds: u64) -> Reply {
        self.retry_after_header(seconds.to_string())
    }

    /// For a status reply: a verbatim `Retry-After` value (e.g. an HTTP-date).
    pub fn retry_after_header(mut self, value: impl Into<String>) -> Reply {
        if let Some(status) = self.status.as_mut() {
            status.retry_after = Some(value.into());
        }
        self
    }

    /// For a status reply: the JSON body to send.
    pub fn json_body(mut self, body: Value) -> Reply {
        if let Some(status) = self.status.as_mut() {
            status.body = body;
        }
        self
    }

    /// The echo reply made concrete for one request body.
    pub(crate) fn resolve_echo(&self, request: &Value) -> Reply {
        let messages = request.get("messages").and_then(Value::as_array);
        let last_user = messages
            .and_then(|m| {
                m.iter()
                    .rev()
                    .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            })
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let prompt_words: usize = messages
            .map(|m| {
                m.iter()
                    .filter_map(|m| m.get("content").and_then(Value::as_str))
                    .map(|c| c.split_whitespace().count())
                    .sum()
            })
            .unwrap_or(0);
        let mut reply = Reply::text(last_user).split_every(8);
        reply.usage = Some((
            prompt_words as u64,
            last_user.split_whitespace().count() as u64,
        ));
        reply.delay = self.delay;
        reply
    }

    fn default_finish(&self) -> &str {
        match &self.finish {
            Some(f) => f,
            None if self
                .pieces
                .iter()
                .any(|p| matches!(p, Piece::ToolCall { .. })) =>
            {
                "tool_calls"
            }
            None => "stop",
        }
    }

    /// The SSE frames, in order, for a streamed request.
    pub(crate) fn frames(&self) -> Vec<Bytes> {
        let mut frames: Vec<Bytes> = Vec::with_capacity(self.pieces.len() + 3);
        let mut first = true;
        for piece in &self.pieces {
            let delta = match piece {
                Piece::Content(t) => json!({"content": t}),
                Piece::Reasoning(t) => json!({"reasoning_content": t}),
                Piece::ToolCall {
                    index,
                    id,
                    name,
                    arguments,
                } => {
                    let mut call = json!({"index": index});
                    if let Some(id) = id {
                        call["id"] = json!(id);
                        call["type"] = json!("function");
                    }
                    let mut function = serde_json::Map::new();
                    if let Some(name) = name {
                        function.insert("name".into(), json!(name));
                    }
                    // OpenAI sends `"arguments": ""` beside the name; keep that quirk.
                    function.insert(
                        "arguments".into(),
                        json!(arguments.clone().unwrap_or_default()),
                    );
                    call["function"] = Value::Object(function);
                    json!({"tool_calls": [call]})
                }
                Piece::Error(message) => {
                    frames.push(data(&json!({"error": {"message": message, "type": "server_error", "code": null}})));
                    continue;
                }
                Piece::Raw(text) => {
                    frames.push(Bytes::from(text.clone()));
                    continue;
                }
            };
            let mut delta = delta;
            if first {
                // Real servers name the role in the first delta.
                delta["role"] = json!("assistant");
                first = false;
            }
            frames.push(data(&chunk(delta, None)));
        }
        let errored = self.pieces.iter().any(|p| matches!(p, Piece::Error(_)));
        if !errored {
            frames.push(data(&chunk(json!({}), Some(self.default_finish()))));
            if let Some((prompt, completion)) = self.usage {
                frames.push(data(&json!({
                    "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000,
                    "model": "mock", "choices": [],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
                })));
            }
        }
        match self.ending {
            Ending::Done if !errored => frames.push(Bytes::from_static(b"data: [DONE]\n\n")),
            Ending::Stall { after } | Ending::Drop { after } => frames.truncate(after),
            _ => {}
        }
        frames
    }

    /// The whole completion for a non-streamed request (`stream` absent or false).
    pub(crate) fn completion(&self) -> Value {
        if let Some(Piece::Error(message)) =
            self.pieces.iter().find(|p| matches!(p, Piece::Error(_)))
        {
            return json!({"error": {"message": message, "type": "server_error", "code": null}});
        }
        let mut content = String::new();
        let mut reasoning = String::new();
        let mut calls: Vec<Value> = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Content(t) => content.push_str(t),
                Piece::Reasoning(t) => reasoning.push_str(t),
                Piece::ToolCall {
                    index,
                    id,
                    name,
                    arguments,
                } => {
                    let at = *index as usize;
                    while calls.len() <= at {
                        calls.push(json!({"id": "", "type": "function", "function": {"name": "", "arguments": ""}}));
                    }
                    if let Some(id) = id {
                        calls[at]["id"] = json!(id);
                    }
                    if let Some(name) = name {
                        calls[at]["function"]["name"] = json!(name);
                    }
                    if let Some(a) = arguments {
                        let joined = format!(
                            "{}{a}",
                            calls[at]["function"]["arguments"].as_str().unwrap_or("")
                        );
                        calls[at]["function"]["arguments"] = json!(joined);
                    }
                }
                Piece::Error(_) | Piece::Raw(_) => {}
            }
        }
        let mut message = json!({"role": "assistant", "content": content});
        if !reasoning.is_empty() {
            message["reasoning_content"] = json!(reasoning);
        }
        if !calls.is_empty() {
            message["tool_calls"] = Value::Array(calls);
        }
        let mut out = json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": "mock",
            "choices": [{"index": 0, "message": message, "finish_reason": self.default_finish()}],
        });
        if let Some((prompt, completion)) = self.usage {
            out["usage"] = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
        }
        out
    }
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "mock",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
}

fn data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `text` in pieces of at most `size` characters (never splitting a character); one empty
/// piece for empty text so that a call's arguments chunk still exists.
fn split_chars(text: &str, size: usize) -> Vec<String> {
    if text.is_empty() {
        return vec![String::new()];
    }
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn payloads(reply: &Reply) -> Vec<String> {
        reply
            .frames()
            .iter()
            .map(|f| String::from_utf8(f.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn text_split_into_chunks_then_finish_usage_done() {
        let frames = payloads(&Reply::text("Hello world").split_every(5).usage(3, 2));
        assert_eq!(frames.len(), 3 + 3);
        assert!(
            frames[0].contains(r#""content":"Hello""#)
                && frames[0].contains(r#""role":"assistant""#)
        );
        assert!(frames[2].contains(r#""content":"d""#));
        assert!(frames[3].contains(r#""finish_reason":"stop""#));
        assert!(frames[4].contains(r#""prompt_tokens":3"#));
        assert_eq!(frames[5], "data: [DONE]\n\n");
    }

    #[test]
    fn tool_calls_name_first_then_split_arguments() {
        let reply = Reply::tool_calls([
            ("call_1", "calculator", "{\"expression\":\"2+3\"}"),
            ("call_2", "now", ""),
        ]);
        let calls: Vec<(u32, bool, Option<String>)> = reply
            .pieces
            .iter()
            .map(|p| match p {
                Piece::ToolCall {
                    index,
                    name,
                    arguments,
                    ..
                } => (*index, name.is_some(), arguments.clone()),
                _ => panic!("only tool calls"),
            })
            .collect();
        assert_eq!(calls[0], (0, true, None));
        let joined: String = calls
            .iter()
            .filter(|c| c.0 == 0)
            .filter_map(|c| c.2.clone())
            .collect();
        assert_eq!(joined, "{\"expression\":\"2+3\"}");
        assert!(calls.iter().filter(|c| c.0 == 0).count() >= 3);
        assert_eq!(calls.iter().filter(|c| c.0 == 1).count(), 2);
        assert!(
            payloads(&reply)
                .iter()
                .any(|f| f.contains(r#""finish_reason":"tool_calls""#))
        );
        let whole = reply.completion();
        assert_eq!(
            whole["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"expression\":\"2+3\"}"
        );
        assert_eq!(
            whole["choices"][0]["message"]["tool_calls"][1]["id"],
            "call_2"
        );
    }

    #[test]
    fn stall_and_drop_truncate_and_skip_done() {
        assert!(Reply::stall().frames().is_empty());
        let dropped = payloads(&Reply::text("abcdef").split_every(2).drop_after(2));
        assert_eq!(dropped.len(), 2);
        assert!(!dropped.iter().any(|f| f.contains("[DONE]")));
    }

    #[test]
    fn echo_sends_back_the_last_user_message() {
        let request = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "say this back"}]});
        let reply = Reply::echo().resolve_echo(&request);
        assert_eq!(
            reply.completion()["choices"][0]["message"]["content"],
            "say this back"
        );
        assert_eq!(reply.usage, Some((7, 3)));
    }
}
