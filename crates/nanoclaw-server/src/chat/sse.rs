//! The answer's Server-Sent Events, as the original front end parses them (spec chat.md §6):
//! `event: <name>\ndata: <one-line JSON>\n\n`, each event one frame written and flushed whole,
//! so that its two lines always reach the browser in the same read.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use nanoclaw_agent::Step;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::Stream;

use crate::metrics;

/// `process_step`: a thinking, text, tool_call or tool_result step.
pub const PROCESS_STEP: &str = "process_step";
/// `done`: the answer is saved.
pub const DONE: &str = "done";
/// `error`: the answer ended without `done`.
pub const ERROR: &str = "error";

/// One event as the bytes of one frame. JSON never contains a raw newline (serde escapes
/// them in strings), so the data stays on one line; non-ASCII is written as UTF-8.
pub fn event(name: &str, data: &impl Serialize) -> Bytes {
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(b"event: ");
    frame.extend_from_slice(name.as_bytes());
    frame.extend_from_slice(b"\ndata: ");
    if serde_json::to_writer(&mut frame, data).is_err() {
        frame.extend_from_slice(br#"{"content":"Internal error: unserialisable event"}"#);
    }
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// `{"content": message}` for an `error` event.
pub fn error(message: &str) -> Bytes {
    #[derive(Serialize)]
    struct ErrorEvent<'a> {
        content: &'a str,
    }
    event(ERROR, &ErrorEvent { content: message })
}

/// An answer's event stream: each step as the agent sends it, then the last event (`done` or
/// `error`) once the answer is saved. The steps are written straight from the agent's channel,
/// with no task in between: one hop less per model chunk, one channel less per stream.
pub struct AnswerEvents {
    steps: mpsc::Receiver<Step>,
    last: Option<oneshot::Receiver<Bytes>>,
    /// The model and start of the answer, until its first step is out (latency metric).
    first_step: Option<(String, Instant)>,
}

impl AnswerEvents {
    /// The events of `steps` (ended when every sender is gone), then the frame sent on `last`.
    pub fn new(
        steps: mpsc::Receiver<Step>,
        last: oneshot::Receiver<Bytes>,
        model: String,
        started: Instant,
    ) -> Self {
        AnswerEvents {
            steps,
            last: Some(last),
            first_step: Some((model, started)),
        }
    }
}

impl Stream for AnswerEvents {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(step) = ready!(self.steps.poll_recv(cx)) {
            if let Some((model, started)) = self.first_step.take() {
                metrics::first_token(&model, started.elapsed());
            }
            return Poll::Ready(Some(Ok(event(PROCESS_STEP, &step))));
        }
        let Some(last) = self.last.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(Pin::new(last).poll(cx));
        self.last = None;
        Poll::Ready(frame.ok().map(Ok))
    }
}

/// The streaming response whose body is `events`. When the client goes away the body is
/// dropped, and the steps' senders see `closed()`: that is the disconnect signal.
pub fn response(events: AnswerEvents) -> Response {
    let body = Body::from_stream(events);
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_two_lines_and_a_blank_one() {
        let frame = event(
            PROCESS_STEP,
            &serde_json::json!({"content": "a\nb", "t": "新对话"}),
        );
        let text = std::str::from_utf8(&frame).unwrap();
        assert_eq!(
            text,
            "event: process_step\ndata: {\"content\":\"a\\nb\",\"t\":\"新对话\"}\n\n"
        );
        assert_eq!(
            std::str::from_utf8(&error("boom")).unwrap(),
            "event: error\ndata: {\"content\":\"boom\"}\n\n"
        );
    }
}
