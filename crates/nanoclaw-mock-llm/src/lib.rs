//! A scripted OpenAI-compatible chat-completions server for nanoclaw's tests and benchmarks.
//!
//! [`MockLlm::start`] binds `127.0.0.1:0` and answers every `POST` (any path, so a URL can
//! look like a DeepSeek or GLM one) with the next [`Reply`] of its [`Script`], or with the
//! script's fallback (by default an echo of the last user message) once the queue is empty.
//! It records what it received and counts the streams whose client went away, so tests can
//! assert what was sent and that a cancellation reached the model.
//!
//! Streams are plain tasks driven by hyper: no thread per stream, and the frames of a shared
//! fallback reply are built once, so thousands of concurrent slow streams stay cheap.

mod reply;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use reply::{Ending, Piece, Reply};

/// Told, once per streamed reply written to its end, the last user message of its request and
/// the wall-clock instant (`CLOCK_REALTIME`, nanoseconds since the Unix epoch) its last frame
/// went to the connection. The chat benchmark matches it with the instant its client saw
/// `done` (both on one machine, so the clocks agree) to measure the server's last-byte delay.
#[derive(Clone)]
pub struct LastByteHook(Arc<LastByteFn>);

/// The callback of a [`LastByteHook`]: `(last user message, ns since the epoch)`.
type LastByteFn = dyn Fn(&str, u128) + Send + Sync;

impl LastByteHook {
    /// Wraps the callback; it runs on the stream's task, so it must be quick.
    pub fn new(hook: impl Fn(&str, u128) + Send + Sync + 'static) -> LastByteHook {
        LastByteHook(Arc::new(hook))
    }
}

impl std::fmt::Debug for LastByteHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LastByteHook")
    }
}

/// The replies to give, one per request, and what to answer once they are used up.
#[derive(Debug, Clone)]
pub struct Script {
    replies: VecDeque<Reply>,
    fallback: Reply,
    record: bool,
    last_byte: Option<LastByteHook>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            replies: VecDeque::new(),
            fallback: Reply::echo(),
            record: true,
            last_byte: None,
        }
    }
}

impl Script {
    /// An empty script: every request gets the echo reply.
    pub fn new() -> Script {
        Script::default()
    }

    /// Appends the reply for the next request.
    pub fn reply(mut self, reply: Reply) -> Script {
        self.replies.push_back(reply);
        self
    }

    /// The answer once the queue is empty (e.g. `Reply::status(429)` for "rate limited forever").
    pub fn otherwise(mut self, reply: Reply) -> Script {
        self.fallback = reply;
        self
    }

    /// Do not keep request bodies (long benchmarks); counters still work.
    pub fn without_recording(mut self) -> Script {
        self.record = false;
        self
    }

    /// Calls `hook` when each streamed reply has been written to its end (benchmarks).
    pub fn on_last_byte(mut self, hook: LastByteHook) -> Script {
        self.last_byte = Some(hook);
        self
    }
}

impl From<Vec<Reply>> for Script {
    fn from(replies: Vec<Reply>) -> Script {
        Script {
            replies: replies.into(),
            ..Script::default()
        }
    }
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// Request path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body (`Value::Null` if it was not JSON).
    pub body: Value,
    /// When it arrived (for asserting backoff waits without sleeping).
    pub at: Instant,
}

struct Shared {
    queue: Mutex<VecDeque<Reply>>,
    fallback: Reply,
    /// Frames of the fallback, built once and shared by every stream that uses it.
    fallback_frames: Option<Arc<[Bytes]>>,
    record: bool,
    last_byte: Option<LastByteHook>,
    requests: Mutex<Vec<ReceivedRequest>>,
    received: AtomicUsize,
    open: AtomicUsize,
    completed: AtomicUsize,
    cancelled: AtomicUsize,
    changed: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the mock's state from the others.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn bump(&self, counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }
}

/// A running mock model server; stops when dropped.
pub struct MockLlm {
    /// The bound address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MockLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockLlm")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockLlm {
    /// Starts on `127.0.0.1:0`. Panics only if the loopback cannot be bound (tests only).
    pub async fn start(script: Script) -> MockLlm {
        match MockLlm::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), script).await {
            Ok(mock) => mock,
            Err(e) => panic!("the mock LLM cannot bind the loopback: {e}"),
        }
    }

    /// Starts on `addr`, with a listen backlog large enough for thousands of connections
    /// arriving at once (the benchmark opens them in a burst).
    pub async fn start_on(addr: SocketAddr, script: Script) -> io::Result<MockLlm> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener: TcpListener = socket.listen(8192)?;
        let addr = listener.local_addr()?;
        let fallback_frames = (!script.fallback.echo && script.fallback.status.is_none())
            .then(|| Arc::from(script.fallback.frames()));
        let shared = Arc::new(Shared {
            queue: Mutex::new(script.replies),
            fallback: script.fallback,
            fallback_frames,
            record: script.record,
            last_byte: script.last_byte,
            requests: Mutex::new(Vec::new()),
            received: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            changed: Notify::new(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("mock LLM server stopped: {e}");
            }
        });
        Ok(MockLlm { addr, shared, task })
    }

    /// `http://addr/v1/chat/completions`.
    pub fn url(&self) -> String {
        self.url_with_path("/v1/chat/completions")
    }

    /// `http://addr<path>`, e.g. `/deepseek/v1/chat/completions` to look like DeepSeek.
    pub fn url_with_path(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Queues one more reply after those already scripted.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.queue).push_back(reply);
    }

    /// Everything received so far, in arrival order (empty when recording is off).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The JSON bodies received so far.
    pub fn bodies(&self) -> Vec<Value> {
        lock(&self.shared.requests)
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// Requests received (counted even when recording is off).
    pub fn received(&self) -> usize {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// Streams currently being written.
    pub fn open_streams(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Streams that were written to their scripted end.
    pub fn completed(&self) -> usize {
        self.shared.completed.load(Ordering::SeqCst)
    }

    /// Streams whose client went away before their scripted end.
    pub fn cancelled(&self) -> usize {
        self.shared.cancelled.load(Ordering::SeqCst)
    }

    /// Waits until `condition` holds or `timeout` passes; returns whether it holds.
    /// Re-checked whenever a request arrives or a stream ends, so it needs no polling sleep.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&MockLlm) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            // Registered before the check, so a change in between is not missed.
            notified.as_mut().enable();
            if condition(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return condition(self);
            }
        }
    }

    /// Waits until at least `n` streams were cancelled by their client.
    pub async fn wait_cancelled(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |m| m.cancelled() >= n).await
    }
}

/// Counts a stream as open; on drop, as completed or (if its client went away) cancelled.
struct StreamGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl StreamGuard {
    fn new(shared: Arc<Shared>) -> StreamGuard {
        shared.open.fetch_add(1, Ordering::SeqCst);
        StreamGuard {
            shared,
            finished: false,
        }
    }

    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::SeqCst);
        let counter = if self.finished {
            &self.shared.completed
        } else {
            &self.shared.cancelled
        };
        self.shared.bump(counter);
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "POST only").into_response();
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let streamed = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let last_byte = match &shared.last_byte {
        Some(hook) if streamed => Some((hook.clone(), last_user_text(&body).to_owned())),
        _ => None,
    };
    let scripted = lock(&shared.queue).pop_front();
    let from_script = scripted.is_some();
    let owned;
    let reply: &Reply = match scripted {
        Some(reply) => {
            owned = reply;
            &owned
        }
        None => &shared.fallback,
    };
    let resolved;
    let reply: &Reply = if reply.echo {
        resolved = reply.resolve_echo(&body);
        &resolved
    } else {
        reply
    };
    if shared.record {
        lock(&shared.requests).push(ReceivedRequest {
            path: uri.path().to_owned(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body,
            at: Instant::now(),
        });
    }
    shared.bump(&shared.received);

    if let Some(status) = &reply.status {
        let code = StatusCode::from_u16(status.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (code, axum::Json(status.body.clone())).into_response();
        if let Some(value) = status
            .retry_after
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    if !streamed {
        return match reply.ending {
            Ending::Stall { .. } | Ending::Drop { .. } => {
                // Headers, then the scripted silence or cut, as for a stream.
                let frames: Arc<[Bytes]> = Arc::from(Vec::new());
                sse_response(
                    shared.clone(),
                    frames,
                    reply.delay,
                    reply.ending,
                    "application/json",
                    None,
                )
            }
            _ => axum::Json(reply.completion()).into_response(),
        };
    }
    let frames = match (&shared.fallback_frames, from_script || reply.echo) {
        (Some(frames), false) => frames.clone(),
        _ => Arc::from(reply.frames()),
    };
    sse_response(
        shared.clone(),
        frames,
        reply.delay,
        reply.ending,
        "text/event-stream",
        last_byte,
    )
}

/// The text of the last `user` message of a chat-completions request ("" if none).
fn last_user_text(body: &Value) -> &str {
    body.get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn sse_response(
    shared: Arc<Shared>,
    frames: Arc<[Bytes]>,
    delay: Duration,
    ending: Ending,
    content_type: &'static str,
    last_byte: Option<(LastByteHook, String)>,
) -> Response {
    struct Cursor {
        frames: Arc<[Bytes]>,
        next: usize,
        delay: Duration,
        ending: Ending,
        guard: StreamGuard,
        over: bool,
        last_byte: Option<(LastByteHook, String)>,
    }
    let cursor = Cursor {
        frames,
        next: 0,
        delay,
        ending,
        guard: StreamGuard::new(shared),
        over: false,
        last_byte,
    };
    let body = futures_util::stream::unfold(cursor, |mut c| async move {
        if c.over {
            return None;
        }
        if c.next >= c.frames.len() {
            match c.ending {
                Ending::Stall { .. } => {
                    // Silent until the client gives up; its leaving drops this future.
                    std::future::pending::<()>().await;
                    None
                }
                Ending::Drop { .. } => {
                    // hyper flushes what it buffered only when the body is pending; without
                    // this pause the cut could swallow the chunks (even the headers) before it.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    c.guard.finish();
                    c.over = true;
                    // An error from the body makes hyper abort the connection mid-body.
                    Some((Err(io::Error::other("scripted connection drop")), c))
                }
                Ending::Done | Ending::NoDone => {
                    // hyper polls the body again right after buffering the last frame and
                    // writes it once this returns: this instant is that write, to a few µs.
                    if let Some((hook, key)) = c.last_byte.take() {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_nanos());
                        (hook.0)(&key, now);
                    }
                    c.guard.finish();
                    None
                }
            }
        } else {
            if c.next > 0 && !c.delay.is_zero() {
                tokio::time::sleep(c.delay).await;
            }
            let frame = c.frames[c.next].clone();
            c.next += 1;
            Some((Ok::<Bytes, io::Error>(frame), c))
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::{Read, Write};

    use super::*;

    #[tokio::test]
    async fn last_byte_hook_gets_the_last_user_message_once_the_reply_is_written() {
        let seen: Arc<Mutex<Vec<(String, u128)>>> = Arc::default();
        let sink = seen.clone();
        let script = Script::new()
            .otherwise(Reply::paced(3, Duration::from_millis(1)))
            .without_recording()
            .on_last_byte(LastByteHook::new(move |key, ns| {
                lock(&sink).push((key.to_owned(), ns));
            }));
        let mock = MockLlm::start(script).await;
        let addr = mock.addr;
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let body = r#"{"stream":true,"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},{"role":"user","content":"key 42"}]}"#;
        // A plain socket: the reply ends when the mock closes it, after the last frame.
        let reply = tokio::task::spawn_blocking(move || {
            let mut socket = std::net::TcpStream::connect(addr).unwrap();
            write!(
                socket,
                "POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut reply = String::new();
            socket.read_to_string(&mut reply).unwrap();
            reply
        })
        .await
        .unwrap();
        assert!(reply.contains("data: [DONE]"), "{reply}");
        let seen = lock(&seen).clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0, "key 42");
        assert!(seen[0].1 >= before);
    }
}
