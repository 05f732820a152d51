//! `nanoclaw-mock-llm`: the slow OpenAI-compatible model the chat benchmarks stream from.
//!
//! Every request, whatever its body, gets `--chunks` small content chunks `--interval-ms` apart,
//! a usage chunk and `[DONE]`. Prints its URL on the first line of stdout, and its counters when
//! stopped with Ctrl-C. With `--last-byte-log PATH` it appends one line per reply written to
//! its end: `<CLOCK_REALTIME ns> <last user message>` (bench/run's chat-streams latency).

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use clap::Parser;
use nanoclaw_mock_llm::{LastByteHook, MockLlm, Reply, Script};

/// A scripted OpenAI-compatible streaming model server for benchmarks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Content chunks per reply.
    #[arg(long, default_value_t = 200)]
    chunks: usize,
    /// Milliseconds between chunks.
    #[arg(long = "interval-ms", default_value_t = 100)]
    interval_ms: u64,
    /// Append `<ns since the epoch> <last user message>` here when a reply's last byte is
    /// written (created or truncated at start).
    #[arg(long = "last-byte-log")]
    last_byte_log: Option<PathBuf>,
}

/// One `write` per line on an unbuffered file: a reader sees every finished reply at once.
fn last_byte_hook(path: &PathBuf) -> std::io::Result<LastByteHook> {
    let file = Mutex::new(File::create(path)?);
    Ok(LastByteHook::new(move |key, ns| {
        let line = format!("{ns} {}\n", key.replace(['\n', '\r'], " "));
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = file.write_all(line.as_bytes()) {
            eprintln!("last-byte log: {e}");
        }
    }))
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    // Two workers: the mock shares the benchmark machine with the server it feeds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let hook = args
        .last_byte_log
        .as_ref()
        .map(last_byte_hook)
        .transpose()?;
    runtime.block_on(async move {
        let mut script = Script::new()
            .otherwise(Reply::paced(
                args.chunks,
                Duration::from_millis(args.interval_ms),
            ))
            .without_recording();
        if let Some(hook) = hook {
            script = script.on_last_byte(hook);
        }
        let mock = MockLlm::start_on(SocketAddr::from(([127, 0, 0, 1], args.port)), script).await?;
        println!("{}", mock.url());
        tokio::signal::ctrl_c().await?;
        println!(
            "received={} completed={} cancelled={} open={}",
            mock.received(),
            mock.completed(),
            mock.cancelled(),
            mock.open_streams()
        );
        Ok(())
    })
}
