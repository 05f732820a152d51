//! `nanoclaw-mock-llm`: the slow OpenAI-compatible model the chat benchmarks stream from.
//!
//! Every request, whatever its body, gets `--chunks` small content chunks `--interval-ms` apart,
//! a usage chunk and `[DONE]`. Prints its URL on the first line of stdout, and its counters when
//! stopped with Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use nanoclaw_mock_llm::{MockLlm, Reply, Script};

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
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    // Two workers: the mock shares the benchmark machine with the server it feeds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let script = Script::new()
            .otherwise(Reply::paced(
                args.chunks,
                Duration::from_millis(args.interval_ms),
            ))
            .without_recording();
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
