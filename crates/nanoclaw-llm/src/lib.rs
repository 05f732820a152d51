//! nanoclaw's client for OpenAI-compatible chat-completion servers.
//!
//! It shapes the request for the provider (DeepSeek, GLM or a generic OpenAI-style server, chat.md
//! §3), opens one streamed round with bounded retries before anything was produced, and turns the
//! server-sent events into [`Delta`]s (chat.md §4). Assembling tool calls, running tools and
//! deciding what to tell the user is the agent's job; this crate knows no HTTP server and no
//! database.
//!
//! Secrets stay inside: neither the API key nor the full URL (which may carry a key in its query)
//! appears in a log line, an error or a `Debug` output — only the host.

mod body;
mod client;
mod error;
mod stream;
mod types;

pub use client::{Client, ClientSettings, parse_retry_after};
pub use error::{ConfigError, LlmError};
pub use stream::{Delta, RoundStream};
pub use types::{ChatRequest, Endpoint, Message, Provider, ToolCall, ToolSpec};

/// Installs rustls' ring provider as the process default; harmless when one is already installed.
///
/// reqwest is built without a provider of its own (so aws-lc-rs is never compiled) and panics
/// when a client is built before a default exists. [`Client::new`] calls this itself; `main`
/// calls it first thing so that every other TLS user (the database driver) agrees.
pub fn install_crypto_provider() {
    // Err only means some provider is already the default, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
