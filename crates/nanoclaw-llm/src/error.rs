//! Errors: configuration problems found before sending (a 400) and failures of a round.

use thiserror::Error;

use crate::types::Endpoint;

/// The longest upstream text shown to a user.
const SHORT: usize = 200;

/// A configuration problem found before anything was sent; `Display` is the 400 message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The model has an empty `api_url`.
    #[error("Model '{model}' has no api_url configured")]
    NoApiUrl {
        /// Model id.
        model: String,
    },
    /// The model has an empty `api_key`.
    #[error("Model '{model}' has no api_key configured")]
    NoApiKey {
        /// Model id.
        model: String,
    },
    /// The `api_url` is not an absolute http(s) URL (the URL itself is not repeated).
    #[error("Model '{model}' has an invalid api_url")]
    InvalidUrl {
        /// Model id.
        model: String,
    },
    /// Thinking was requested from a provider without the switch.
    #[error("Thinking not supported for provider '{provider}'")]
    ThinkingUnsupported {
        /// `openai`.
        provider: &'static str,
    },
}

/// A failed round. `Display` is for the log (still without URL or key); users get
/// [`LlmError::user_message`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LlmError {
    /// The server answered 5xx.
    #[error("upstream unavailable: HTTP {0}")]
    Unavailable(u16),
    /// Still 429 after the retries.
    #[error("upstream rate limit persisted after retries")]
    RateLimited,
    /// Any other non-2xx answer; `reason` is short and scrubbed of the key and URL.
    #[error("upstream rejected the request: {reason}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// e.g. `401 Unauthorized: Invalid API key`.
        reason: String,
    },
    /// Could not connect (refused, DNS, TLS), after the retries.
    #[error("cannot connect to upstream")]
    Connect,
    /// No response headers within the idle timeout.
    #[error("upstream did not answer in time")]
    Timeout,
    /// The stream went silent for longer than the idle timeout.
    #[error("upstream stream stalled")]
    Stalled,
    /// An in-band `{"error": …}` chunk; the message is scrubbed of the key and URL.
    #[error("upstream error chunk: {0}")]
    Upstream(String),
    /// The server broke the protocol or the connection mid-answer.
    #[error("upstream protocol error: {0}")]
    Protocol(String),
    /// A fault on our side (building the client or the request).
    #[error("internal error: {0}")]
    Internal(String),
}

impl LlmError {
    /// The friendly text of chat.md §10 for the `error` event; never a URL or key.
    pub fn user_message(&self) -> String {
        match self {
            LlmError::Unavailable(status) => format!("LLM service unavailable ({status})"),
            LlmError::RateLimited => "Rate limit exceeded, please try again later".to_owned(),
            LlmError::Rejected { reason, .. } => format!("LLM request failed: {}", short(reason)),
            LlmError::Connect => "Unable to connect to LLM service".to_owned(),
            LlmError::Timeout | LlmError::Stalled => "LLM request timed out".to_owned(),
            LlmError::Upstream(message) => format!("LLM error: {}", short(message)),
            LlmError::Protocol(reason) => format!("LLM request failed: {}", short(reason)),
            LlmError::Internal(reason) => format!("Internal error: {}", short(reason)),
        }
    }

    /// A stable lowercase label for metrics (`errors by kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Unavailable(_) => "unavailable",
            LlmError::RateLimited => "rate_limited",
            LlmError::Rejected { .. } => "rejected",
            LlmError::Connect => "connect",
            LlmError::Timeout => "timeout",
            LlmError::Stalled => "stalled",
            LlmError::Upstream(_) => "upstream",
            LlmError::Protocol(_) => "protocol",
            LlmError::Internal(_) => "internal",
        }
    }
}

/// At most [`SHORT`] characters, trimmed of surrounding whitespace.
pub(crate) fn short(text: &str) -> &str {
    let text = text.trim();
    match text.char_indices().nth(SHORT) {
        Some((at, _)) => text[..at].trim_end(),
        None => text,
    }
}

/// Removes the endpoint's key and URL from text an upstream wrote (some echo the key back).
pub(crate) fn scrub(text: &str, endpoint: &Endpoint) -> String {
    let mut out = text.to_owned();
    // A very short "key" would blank out ordinary words; such a key is no secret anyway.
    if endpoint.api_key.len() >= 6 && out.contains(&endpoint.api_key) {
        out = out.replace(&endpoint.api_key, "[redacted]");
    }
    if !endpoint.api_url.is_empty() && out.contains(&endpoint.api_url) {
        out = out.replace(&endpoint.api_url, "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn user_messages_match_the_spec_table() {
        assert_eq!(
            LlmError::Unavailable(503).user_message(),
            "LLM service unavailable (503)"
        );
        assert_eq!(
            LlmError::RateLimited.user_message(),
            "Rate limit exceeded, please try again later"
        );
        assert_eq!(
            LlmError::Rejected {
                status: 401,
                reason: "401 Unauthorized: bad key".into()
            }
            .user_message(),
            "LLM request failed: 401 Unauthorized: bad key"
        );
        assert_eq!(
            LlmError::Connect.user_message(),
            "Unable to connect to LLM service"
        );
        assert_eq!(LlmError::Timeout.user_message(), "LLM request timed out");
        assert_eq!(LlmError::Stalled.user_message(), "LLM request timed out");
        assert_eq!(
            LlmError::Upstream("  boom ".into()).user_message(),
            "LLM error: boom"
        );
        assert_eq!(
            LlmError::Internal("x".into()).user_message(),
            "Internal error: x"
        );
    }

    #[test]
    fn upstream_text_is_cut_at_200_chars_on_a_char_boundary() {
        let long = "é".repeat(300);
        let msg = LlmError::Upstream(long).user_message();
        assert_eq!(msg.chars().count(), "LLM error: ".len() + 200);
    }

    #[test]
    fn config_errors_read_as_the_400_message() {
        assert_eq!(
            ConfigError::NoApiUrl { model: "x".into() }.to_string(),
            "Model 'x' has no api_url configured"
        );
        assert_eq!(
            ConfigError::NoApiKey { model: "x".into() }.to_string(),
            "Model 'x' has no api_key configured"
        );
        assert_eq!(
            ConfigError::ThinkingUnsupported { provider: "openai" }.to_string(),
            "Thinking not supported for provider 'openai'"
        );
    }

    #[test]
    fn scrub_removes_key_and_url() {
        let e = Endpoint {
            model: "m".into(),
            api_url: "https://h.example/v1?key=abc".into(),
            api_key: "sk-verysecret".into(),
            include_usage: false,
        };
        let s = scrub(
            "Incorrect API key provided: sk-verysecret at https://h.example/v1?key=abc",
            &e,
        );
        assert_eq!(s, "Incorrect API key provided: [redacted] at [redacted]");
    }
}
