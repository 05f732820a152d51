//! Reading one round: server-sent events → [`Delta`]s (chat.md §4, made robust).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use eventsource_stream::{EventStream, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::time::{Instant, Sleep};

use crate::error::{LlmError, scrub};
use crate::types::Endpoint;

/// One increment of the model's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// A piece of `reasoning_content` (thinking).
    Reasoning(String),
    /// A piece of the answer text.
    Content(String),
    /// A piece of a tool call, keyed by `index`: the name usually comes first, the arguments
    /// text arrives split over several deltas and is to be appended.
    ToolCall {
        /// Which call of the round this piece belongs to.
        index: u32,
        /// The call id, when this piece carries it.
        id: Option<String>,
        /// The function name, when this piece carries it.
        name: Option<String>,
        /// A fragment of the arguments text.
        arguments: Option<String>,
    },
    /// Token counts of the round; when several arrive the last one wins.
    Usage {
        /// Prompt tokens billed.
        prompt_tokens: u64,
        /// Completion tokens billed.
        completion_tokens: u64,
    },
    /// The provider's `finish_reason` (`stop`, `tool_calls`, `length`, …).
    Finish(String),
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Why the body stopped delivering bytes.
#[derive(Debug)]
pub(crate) enum BodyError {
    Stalled,
    Transport(reqwest::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Stalled => f.write_str("stalled"),
            BodyError::Transport(e) => write!(f, "{}", WithoutUrl(e)),
        }
    }
}

/// Displays a reqwest error without the URL it may carry.
pub(crate) struct WithoutUrl<'a>(pub(crate) &'a reqwest::Error);

impl fmt::Display for WithoutUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `without_url` consumes, so describe by kind and source chain instead of cloning.
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(self.0);
        let kind = if self.0.is_timeout() {
            "timeout"
        } else if self.0.is_connect() {
            "connect"
        } else if self.0.is_body() || self.0.is_decode() {
            "body"
        } else if self.0.is_request() {
            "request"
        } else {
            "http"
        };
        f.write_str(kind)?;
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// The response body with an idle deadline that every received byte pushes back, so a
/// silent upstream is detected without bounding how long a healthy answer may take.
///
/// A chunk only notes when it arrived; the timer is moved when it fires early. Resetting it
/// per chunk instead took the timer wheel's lock for every chunk of every answer.
struct IdleBody {
    inner: Option<ByteStream>,
    deadline: Pin<Box<Sleep>>,
    idle: Duration,
    last_byte: Instant,
}

impl IdleBody {
    fn new(inner: ByteStream, idle: Duration) -> IdleBody {
        let now = Instant::now();
        IdleBody {
            inner: Some(inner),
            deadline: Box::pin(tokio::time::sleep_until(now + idle)),
            idle,
            last_byte: now,
        }
    }
}

impl Stream for IdleBody {
    type Item = Result<bytes::Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                this.last_byte = Instant::now();
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.inner = None;
                Poll::Ready(Some(Err(BodyError::Transport(e))))
            }
            Poll::Ready(None) => {
                this.inner = None;
                Poll::Ready(None)
            }
            Poll::Pending => loop {
                if this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let due = this.last_byte + this.idle;
                if this.deadline.deadline() >= due {
                    // Dropping the body here closes the connection at once.
                    this.inner = None;
                    return Poll::Ready(Some(Err(BodyError::Stalled)));
                }
                // Bytes came since the timer was set: wait out the rest from the last one.
                this.deadline.as_mut().reset(due);
            },
        }
    }
}

/// One open round. Dropping it drops the response body, which closes the upstream
/// connection (an unfinished HTTP/1 body is never returned to the pool).
pub struct RoundStream {
    events: Option<EventStream<IdleBody>>,
    pending: VecDeque<Delta>,
    /// For scrubbing in-band error texts and for logs (host only).
    endpoint: Endpoint,
}

impl fmt::Debug for RoundStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoundStream")
            .field("host", &self.endpoint.host())
            .field("open", &self.events.is_some())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl RoundStream {
    /// A streamed (SSE) response.
    pub(crate) fn sse(
        response: reqwest::Response,
        idle: Duration,
        endpoint: &Endpoint,
    ) -> RoundStream {
        let body: ByteStream = Box::pin(response.bytes_stream());
        RoundStream {
            events: Some(IdleBody::new(body, idle).eventsource()),
            pending: VecDeque::new(),
            endpoint: endpoint.clone(),
        }
    }

    /// A complete (non-streamed) completion, replayed as deltas.
    pub(crate) fn whole(body: &[u8], endpoint: &Endpoint) -> Result<RoundStream, LlmError> {
        let mut round = RoundStream {
            events: None,
            pending: VecDeque::new(),
            endpoint: endpoint.clone(),
        };
        round.parse_chunk(body)?;
        Ok(round)
    }

    /// The next delta; `None` after `[DONE]` or the end of the body. After an error the
    /// round is over and the connection closed.
    pub async fn next(&mut self) -> Option<Result<Delta, LlmError>> {
        loop {
            if let Some(delta) = self.pending.pop_front() {
                return Some(Ok(delta));
            }
            let events = self.events.as_mut()?;
            let event = match events.next().await {
                None => {
                    self.events = None;
                    return None;
                }
                Some(Ok(event)) => event,
                Some(Err(e)) => {
                    self.events = None;
                    return Some(Err(self.stream_error(e)));
                }
            };
            let data = event.data.trim();
            if data == "[DONE]" {
                self.events = None;
                return None;
            }
            if let Err(e) = self.parse_chunk(data.as_bytes()) {
                self.events = None;
                return Some(Err(e));
            }
        }
    }

    fn stream_error(&self, e: EventStreamError<BodyError>) -> LlmError {
        let host = self.endpoint.host();
        match e {
            EventStreamError::Transport(BodyError::Stalled) => {
                tracing::warn!(llm.host = %host, "upstream stream stalled");
                LlmError::Stalled
            }
            EventStreamError::Transport(BodyError::Transport(e)) => {
                tracing::warn!(llm.host = %host, error = %WithoutUrl(&e), "upstream connection failed mid-answer");
                if e.is_timeout() {
                    LlmError::Stalled
                } else {
                    LlmError::Protocol(
                        "connection closed before the answer was complete".to_owned(),
                    )
                }
            }
            EventStreamError::Utf8(_) => {
                LlmError::Protocol("invalid UTF-8 in the event stream".to_owned())
            }
            EventStreamError::Parser(_) => LlmError::Protocol("malformed event stream".to_owned()),
        }
    }

    /// Queues the deltas of one `data:` payload (or of a whole non-streamed completion).
    /// Anything that is not a chunk object is ignored, as are explicit `null`s.
    fn parse_chunk(&mut self, data: &[u8]) -> Result<(), LlmError> {
        let chunk: WireChunk = match serde_json::from_slice(data) {
            Ok(chunk) => chunk,
            Err(_) => {
                // Not our shape; it may still be an error object with odd siblings.
                if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(data)
                    && let Some(error) = map.get("error").filter(|e| !e.is_null())
                {
                    return Err(self.upstream_error(error));
                }
                tracing::debug!(llm.host = %self.endpoint.host(), "ignoring an unrecognised stream payload");
                return Ok(());
            }
        };
        if let Some(error) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            return Err(self.upstream_error(error));
        }
        if let Some(choice) = chunk.choices.and_then(|c| c.into_iter().next()) {
            // A non-streamed completion carries `message` where a chunk carries `delta`.
            let whole = choice.delta.is_none() && choice.message.is_some();
            if let Some(delta) = choice.delta.or(choice.message) {
                if let Some(text) = delta.reasoning_content.filter(|t| !t.is_empty()) {
                    self.pending.push_back(Delta::Reasoning(text));
                }
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    self.pending.push_back(Delta::Content(text));
                }
                for (position, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate()
                {
                    // Streamed deltas default to index 0 (§4); whole messages list calls in order.
                    let fallback = if whole { position as u32 } else { 0 };
                    let (name, arguments) = match call.function {
                        Some(f) => (f.name, f.arguments),
                        None => (None, None),
                    };
                    self.pending.push_back(Delta::ToolCall {
                        index: call.index.unwrap_or(fallback),
                        id: call.id.filter(|s| !s.is_empty()),
                        name: name.filter(|s| !s.is_empty()),
                        arguments: arguments.filter(|s| !s.is_empty()),
                    });
                }
            }
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                self.pending.push_back(Delta::Finish(reason));
            }
        }
        if let Some(usage) = chunk.usage
            && (usage.prompt_tokens.is_some() || usage.completion_tokens.is_some())
        {
            self.pending.push_back(Delta::Usage {
                prompt_tokens: usage.prompt_tokens.unwrap_or(0),
                completion_tokens: usage.completion_tokens.unwrap_or(0),
            });
        }
        Ok(())
    }

    fn upstream_error(&self, error: &serde_json::Value) -> LlmError {
        let text = match error {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(map) => match map.get("message") {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => error.to_string(),
            },
            other => other.to_string(),
        };
        let text = scrub(&text, &self.endpoint);
        tracing::warn!(llm.host = %self.endpoint.host(), error = %text, "upstream sent an error chunk");
        LlmError::Upstream(text)
    }
}

// The wire shapes, every field optional so that `null` and absence read alike.

#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    choices: Option<Vec<WireChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    delta: Option<WireDelta>,
    #[serde(default)]
    message: Option<WireDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn round() -> RoundStream {
        RoundStream {
            events: None,
            pending: VecDeque::new(),
            endpoint: Endpoint {
                model: "m".into(),
                api_url: "http://h/v1".into(),
                api_key: "sk-secretkey".into(),
                include_usage: false,
            },
        }
    }

    fn parse(payloads: &[&str]) -> Result<Vec<Delta>, LlmError> {
        let mut r = round();
        for p in payloads {
            r.parse_chunk(p.as_bytes())?;
        }
        Ok(r.pending.into_iter().collect())
    }

    #[test]
    fn nulls_and_junk_are_ignored() {
        let out = parse(&[
            "null",
            "42",
            "not json",
            r#"{"choices":null,"usage":null}"#,
            r#"{"choices":[{"delta":null}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":null,"content":null,"reasoning_content":null}}]}"#,
            r#"{"choices":[]}"#,
            r#"{"error":null,"choices":[{"delta":{"content":"ok"},"finish_reason":null}]}"#,
        ])
        .unwrap();
        assert_eq!(out, vec![Delta::Content("ok".into())]);
    }

    #[test]
    fn a_chunk_yields_reasoning_content_tools_finish_usage_in_order() {
        let out = parse(&[r#"{"choices":[{"delta":{"reasoning_content":"hm","content":"Hi",
            "tool_calls":[{"index":1,"id":"call_9","type":"function","function":{"name":"calc","arguments":""}}]},
            "finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#])
        .unwrap();
        assert_eq!(
            out,
            vec![
                Delta::Reasoning("hm".into()),
                Delta::Content("Hi".into()),
                Delta::ToolCall {
                    index: 1,
                    id: Some("call_9".into()),
                    name: Some("calc".into()),
                    arguments: None
                },
                Delta::Finish("length".into()),
                Delta::Usage {
                    prompt_tokens: 3,
                    completion_tokens: 4
                },
            ]
        );
    }

    #[test]
    fn tool_call_index_defaults_to_zero_and_empty_usage_is_skipped() {
        let out = parse(&[r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\"a\""}}]}}],"usage":{}}"#]).unwrap();
        assert_eq!(
            out,
            vec![Delta::ToolCall {
                index: 0,
                id: None,
                name: None,
                arguments: Some("{\"a\"".into())
            }]
        );
    }

    #[test]
    fn error_chunks_become_upstream_errors_without_the_key() {
        assert_eq!(
            parse(&[r#"{"error":{"message":"boom for sk-secretkey","type":"server_error"}}"#]),
            Err(LlmError::Upstream("boom for [redacted]".into()))
        );
        assert_eq!(
            parse(&[r#"{"error":"plain"}"#]),
            Err(LlmError::Upstream("plain".into()))
        );
        // An error object beside fields of an unexpected type is still an error.
        assert_eq!(
            parse(&[r#"{"choices":"weird","error":{"message":"bad"}}"#]),
            Err(LlmError::Upstream("bad".into()))
        );
    }

    #[test]
    fn whole_completions_list_calls_by_position() {
        let r = RoundStream::whole(
            br#"{"choices":[{"message":{"role":"assistant","content":"x","tool_calls":[
                {"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},
                {"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
                "usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
            &round().endpoint,
        )
        .unwrap();
        let indexes: Vec<u32> = r
            .pending
            .iter()
            .filter_map(|d| match d {
                Delta::ToolCall { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        assert_eq!(indexes, vec![0, 1]);
        assert_eq!(r.pending.front(), Some(&Delta::Content("x".into())));
    }
}
