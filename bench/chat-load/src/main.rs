//! `chat-load`: the load client of bench/run's `chat-streams` rows (issue 12).
//!
//! Creates `--streams` conversations over a few keep-alive connections, then opens every
//! answer stream at once (`POST /api/conversations/:id/messages`, one task and one connection
//! per stream, no thread per stream), reads the Server-Sent Events and notes per stream the
//! wall-clock instant (`CLOCK_REALTIME`) its `done` event arrived. Each message text is unique
//! (`<tag> stream <i>`), so the mock model's `--last-byte-log` line for that request (the
//! instant it wrote the reply's last byte) can be matched with it: the difference is the
//! server's delay from the model's last byte to `done`.
//!
//! With `--server-pid` it also reads the server's CPU time (`utime + stime` of
//! `/proc/PID/stat`) just before the streams open and after the last one ends, and samples the
//! server's `VmRSS` every 50 ms in between (the maximum is kept).
//!
//! Prints one line of `key=value` pairs on stdout (see [`Summary`]); problems go to stderr.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Command line of the chat load client.
#[derive(Debug, Parser)]
#[command(
    name = "chat-load",
    about = "Concurrent streamed chats against nanoclaw"
)]
struct Args {
    /// The nanoclaw server, a loopback address (e.g. 127.0.0.1:3000).
    #[arg(long)]
    addr: SocketAddr,
    /// Concurrent answer streams (one conversation each).
    #[arg(long)]
    streams: usize,
    /// Bearer token (multi mode); none in single mode.
    #[arg(long)]
    token: Option<String>,
    /// Prefix of the message texts; makes them unique across runs.
    #[arg(long, default_value = "chat-load")]
    tag: String,
    /// The mock model's `--last-byte-log` file, read once every stream has ended.
    #[arg(long = "last-byte-log")]
    last_byte_log: Option<PathBuf>,
    /// The server's pid, for its CPU time and RSS.
    #[arg(long = "server-pid")]
    server_pid: Option<u32>,
    /// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`).
    #[arg(long = "clk-tck", default_value_t = 100)]
    clk_tck: u64,
    /// Give up on streams still open after this many seconds (they count as not done).
    #[arg(long = "timeout-secs", default_value_t = 600)]
    timeout_secs: u64,
    /// Write one line per stream here: text, last byte (ns), done (ns), error; tab-separated,
    /// empty where unknown (for a closer look at the latency distribution).
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Keep-alive connections used to create the conversations.
    #[arg(long = "create-connections", default_value_t = 16)]
    create_connections: usize,
}

/// What one stream saw.
#[derive(Debug, Default)]
struct Outcome {
    /// When `done` arrived (ns since the epoch).
    done_ns: Option<u128>,
    /// The `error` event's data, a non-200 status or a transport error.
    error: Option<String>,
    /// `process_step` events received.
    steps: u64,
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Request bits shared by every task.
struct Target {
    addr: SocketAddr,
    host: String,
    token: Option<String>,
}

impl Target {
    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connect {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            // Ends with the connection; its errors surface on the request.
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn post(&self, path: &str, body: &Value) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            // hyper's bare client sets no Host; nanoclaw checks it is a loopback name.
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "text/event-stream, application/json");
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        Ok(request.body(Full::new(Bytes::from(body.to_string())))?)
    }
}

/// Creates `n` conversations over `connections` keep-alive connections; their ids in order.
async fn create_conversations(
    target: Arc<Target>,
    n: usize,
    connections: usize,
) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..connections.clamp(1, n.max(1)) {
        let target = target.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut sender = target.connect().await?;
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(made);
                }
                sender.ready().await?;
                let request = target.post(
                    "/api/conversations",
                    &json!({"title": format!("chat-load {i}")}),
                )?;
                let response = sender.send_request(request).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                if status != StatusCode::OK && status != StatusCode::CREATED {
                    bail!(
                        "create conversation: {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                let reply: Value = serde_json::from_slice(&body)?;
                let id = reply
                    .pointer("/data/id")
                    .and_then(Value::as_str)
                    .with_context(|| format!("no data.id in {reply}"))?;
                made.push((i, id.to_owned()));
            }
        });
    }
    let mut ids = vec![String::new(); n];
    while let Some(done) = tasks.join_next().await {
        for (i, id) in done?? {
            ids[i] = id;
        }
    }
    Ok(ids)
}

/// One answer stream: send `text`, read the events to the end.
async fn stream(target: Arc<Target>, conversation: String, text: String) -> Outcome {
    match stream_inner(&target, &conversation, &text).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome {
            error: Some(format!("{e:#}")),
            ..Outcome::default()
        },
    }
}

async fn stream_inner(target: &Target, conversation: &str, text: &str) -> anyhow::Result<Outcome> {
    let mut sender = target.connect().await?;
    let request = target.post(
        &format!("/api/conversations/{conversation}/messages"),
        &json!({"text": text}),
    )?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let mut body = response.into_body();
    let mut outcome = Outcome::default();
    if status != StatusCode::OK {
        let bytes = body.collect().await?.to_bytes();
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        outcome.error = Some(format!("status {status}: {head}"));
        return Ok(outcome);
    }
    let mut pending: Vec<u8> = Vec::with_capacity(1024);
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        // Taken as the bytes arrive, before any parsing.
        let arrived = now_ns();
        pending.extend_from_slice(data);
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = pending.drain(..end + 2).collect();
            let event = String::from_utf8_lossy(&event);
            let mut name = "message";
            let mut data = "";
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim();
                }
            }
            match name {
                "done" => outcome.done_ns = Some(arrived),
                "error" => outcome.error = Some(format!("error event: {data}")),
                _ => outcome.steps += 1,
            }
        }
    }
    Ok(outcome)
}

/// `utime + stime` of PID in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// `VmRSS` of PID in kB (0 once it is gone).
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The mock's log: message text → the instant its reply's last byte was written.
fn read_last_bytes(path: &Path) -> anyhow::Result<HashMap<String, u128>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the last-byte log {}", path.display()))?;
    let mut map = HashMap::new();
    for line in text.lines() {
        if let Some((ns, key)) = line.split_once(' ')
            && let Ok(ns) = ns.parse()
        {
            map.insert(key.to_owned(), ns);
        }
    }
    Ok(map)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Everything printed on stdout, as `key=value` pairs.
#[derive(Debug, Default)]
struct Summary {
    streams: usize,
    done: usize,
    errors: usize,
    unfinished: usize,
    create_ms: u128,
    wall_ms: u128,
    cpu_ms: Option<u64>,
    rss_start_kb: u64,
    rss_peak_kb: u64,
    matched: usize,
    latency_us: Option<(u128, u128, u128)>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "streams={} done={} errors={} unfinished={} create_ms={} wall_ms={} rss_start_kb={} rss_peak_kb={}",
            self.streams,
            self.done,
            self.errors,
            self.unfinished,
            self.create_ms,
            self.wall_ms,
            self.rss_start_kb,
            self.rss_peak_kb
        )?;
        if let Some(cpu) = self.cpu_ms {
            write!(f, " cpu_ms={cpu}")?;
        }
        write!(f, " matched={}", self.matched)?;
        if let Some((p50, p99, max)) = self.latency_us {
            write!(
                f,
                " latency_p50_us={p50} latency_p99_us={p99} latency_max_us={max}"
            )?;
        }
        Ok(())
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        bail!("refusing {}: chat-load only talks to loopback", args.addr);
    }
    let target = Arc::new(Target {
        addr: args.addr,
        host: args.addr.to_string(),
        token: args.token.clone(),
    });
    let n = args.streams;
    let mut summary = Summary {
        streams: n,
        ..Summary::default()
    };

    let started = Instant::now();
    let ids = create_conversations(target.clone(), n, args.create_connections).await?;
    summary.create_ms = started.elapsed().as_millis();
    eprintln!("chat-load: {n} conversations in {} ms", summary.create_ms);

    // The server's RSS, sampled from just before the streams open to after the last one ends.
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = args.server_pid.map(|pid| {
        summary.rss_start_kb = rss_kb(pid);
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
            }
        })
    });
    let cpu_before = args.server_pid.map(cpu_ticks).transpose()?;

    let opened = Instant::now();
    let mut tasks = JoinSet::new();
    for (i, id) in ids.into_iter().enumerate() {
        let text = format!("{} stream {i}", args.tag);
        let target = target.clone();
        tasks.spawn(async move {
            let outcome = stream(target, id, text.clone()).await;
            (text, outcome)
        });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut outcomes: Vec<(String, Outcome)> = Vec::with_capacity(n);
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(joined)) => outcomes.push(joined?),
            Ok(None) => break,
            Err(_) => {
                summary.unfinished = tasks.len();
                eprintln!(
                    "chat-load: {} streams still open after {} s; giving up on them",
                    summary.unfinished, args.timeout_secs
                );
                tasks.abort_all();
                break;
            }
        }
    }
    summary.wall_ms = opened.elapsed().as_millis();

    if let Some((pid, before)) = args.server_pid.zip(cpu_before) {
        let after = cpu_ticks(pid)?;
        summary.cpu_ms = Some((after - before) * 1000 / args.clk_tck.max(1));
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(sampler) = sampler {
        let _ = sampler.await;
        summary.rss_peak_kb = peak.load(Ordering::Relaxed);
    }

    let mut shown = 0;
    for (text, outcome) in &outcomes {
        if outcome.done_ns.is_some() {
            summary.done += 1;
        }
        if let Some(error) = &outcome.error {
            summary.errors += 1;
            if shown < 5 {
                eprintln!("chat-load: {text}: {error}");
                shown += 1;
            }
        } else if outcome.done_ns.is_none() && shown < 5 {
            eprintln!(
                "chat-load: {text}: ended without done after {} steps",
                outcome.steps
            );
            shown += 1;
        }
    }

    let sent = match &args.last_byte_log {
        Some(path) => Some(read_last_bytes(path)?),
        None => None,
    };
    if let Some(path) = &args.dump {
        let mut text = String::new();
        for (key, o) in &outcomes {
            let last = sent.as_ref().and_then(|s| s.get(key));
            text.push_str(&format!(
                "{key}\t{}\t{}\t{}\n",
                last.map(u128::to_string).unwrap_or_default(),
                o.done_ns.map(|d| d.to_string()).unwrap_or_default(),
                o.error.as_deref().unwrap_or("").replace(['\t', '\n'], " ")
            ));
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(sent) = sent {
        let mut latencies: Vec<u128> = outcomes
            .iter()
            .filter_map(|(text, o)| {
                let done = o.done_ns?;
                let sent = *sent.get(text)?;
                // Clamped: both clocks are CLOCK_REALTIME on one machine, but never negative.
                Some(done.saturating_sub(sent) / 1000)
            })
            .collect();
        summary.matched = latencies.len();
        latencies.sort_unstable();
        if !latencies.is_empty() {
            summary.latency_us = Some((
                percentile(&latencies, 0.50),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or(0),
            ));
        }
    }
    println!("{summary}");
    Ok(())
}
