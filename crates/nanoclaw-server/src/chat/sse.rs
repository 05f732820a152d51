//! The answer's Server-Sent Events, as the original front end parses them (spec chat.md §6):
//! `event: <name>\ndata: <one-line JSON>\n\n`, each event one frame written and flushed whole,
//! so that its two lines always reach the browser in the same read.

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

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

/// The streaming response whose body is whatever is sent into `frames`. When the client goes
/// away the body is dropped, and `frames.closed()` resolves: that is the disconnect signal.
pub fn response(frames: mpsc::Receiver<Bytes>) -> Response {
    let frames = ReceiverStream::new(frames).map(Ok::<_, std::convert::Infallible>);
    let body = Body::from_stream(frames);
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
