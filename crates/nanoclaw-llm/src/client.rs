//! Opening a round: the HTTP request, retries before anything was produced, status mapping.

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};

use crate::body::wire_request;
use crate::error::{ConfigError, LlmError, scrub, short};
use crate::stream::{RoundStream, WithoutUrl};
use crate::types::{ChatRequest, Endpoint, Provider};

/// The most of an error body or a non-streamed completion we are willing to hold.
const MAX_ERROR_BODY: usize = 16 * 1024;
const MAX_WHOLE_BODY: usize = 16 * 1024 * 1024;

/// Timeouts and retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// Bound on establishing the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// No byte (headers included) for this long means the upstream stalled.
    pub idle_timeout: Duration,
    /// Retries after the first attempt, for 429 and connection failures only.
    pub max_retries: u32,
    /// First backoff ceiling; doubles per retry (full jitter below it).
    pub backoff_base: Duration,
    /// Ceiling of any wait, including a server's `Retry-After`.
    pub backoff_max: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
        }
    }
}

/// The LLM client: one connection pool for every model; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    settings: ClientSettings,
}

impl Client {
    /// Builds the client (installing the ring crypto provider if nothing else did).
    pub fn new(settings: ClientSettings) -> Result<Client, LlmError> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            // A POST redirected would turn into a GET of some other page: report it instead.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nanoclaw/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                LlmError::Internal(format!("building the HTTP client: {}", WithoutUrl(&e)))
            })?;
        Ok(Client { http, settings })
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Configuration problems found before anything is sent (→ the server answers 400).
    pub fn check(endpoint: &Endpoint, request: &ChatRequest) -> Result<(), ConfigError> {
        if endpoint.api_url.trim().is_empty() {
            return Err(ConfigError::NoApiUrl {
                model: endpoint.model.clone(),
            });
        }
        if endpoint.api_key.trim().is_empty() {
            return Err(ConfigError::NoApiKey {
                model: endpoint.model.clone(),
            });
        }
        let valid = reqwest::Url::parse(&endpoint.api_url)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .unwrap_or(false);
        if !valid {
            return Err(ConfigError::InvalidUrl {
                model: endpoint.model.clone(),
            });
        }
        let provider = Provider::detect(&endpoint.api_url);
        if request.thinking && !provider.supports_thinking() {
            return Err(ConfigError::ThinkingUnsupported {
                provider: provider.name(),
            });
        }
        Ok(())
    }

    /// Opens one round. 429 (honouring `Retry-After`, capped at `backoff_max`) and connection
    /// failures are retried with exponential backoff and full jitter, at most `max_retries`
    /// times, and only here, before any delta was produced. Other failures are not retried: the
    /// provider may already have started (and billed) the work.
    pub async fn stream(
        &self,
        endpoint: &Endpoint,
        request: &ChatRequest,
    ) -> Result<RoundStream, LlmError> {
        Self::check(endpoint, request).map_err(|e| LlmError::Internal(e.to_string()))?;
        let body = serde_json::to_vec(&wire_request(endpoint, request))
            .map_err(|e| LlmError::Internal(format!("encoding the request: {e}")))?;
        let host = endpoint.host();
        let accept = if request.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let mut retries = 0;
        loop {
            let send = self
                .http
                .post(&endpoint.api_url)
                .bearer_auth(&endpoint.api_key)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, accept)
                .body(body.clone())
                .send();
            let response = match tokio::time::timeout(self.settings.idle_timeout, send).await {
                Err(_) => {
                    tracing::warn!(llm.host = %host, "no response from upstream within the idle timeout");
                    return Err(LlmError::Timeout);
                }
                Ok(Err(e)) => {
                    if e.is_connect() && retries < self.settings.max_retries {
                        let wait = self.backoff(retries);
                        tracing::warn!(llm.host = %host, error = %WithoutUrl(&e), retry = retries + 1, wait_ms = wait.as_millis() as u64, "cannot connect to upstream, retrying");
                        tokio::time::sleep(wait).await;
                        retries += 1;
                        continue;
                    }
                    tracing::warn!(llm.host = %host, error = %WithoutUrl(&e), "upstream request failed");
                    return Err(if e.is_timeout() && !e.is_connect() {
                        LlmError::Timeout
                    } else {
                        LlmError::Connect
                    });
                }
                Ok(Ok(response)) => response,
            };
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                if retries < self.settings.max_retries {
                    let told = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let wait = match told {
                        Some(wait) => wait.min(self.settings.backoff_max),
                        None => self.backoff(retries),
                    };
                    // Free the connection before sleeping on it.
                    drop(response);
                    tracing::warn!(llm.host = %host, retry = retries + 1, wait_ms = wait.as_millis() as u64, "upstream rate limited, retrying");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                    continue;
                }
                tracing::warn!(llm.host = %host, retries, "upstream still rate limited after the retries");
                return Err(LlmError::RateLimited);
            }
            if !status.is_success() {
                let detail = self.error_detail(response, endpoint).await;
                tracing::warn!(llm.host = %host, status = status.as_u16(), detail = %detail, "upstream refused the request");
                if status.is_server_error() {
                    return Err(LlmError::Unavailable(status.as_u16()));
                }
                let mut reason = format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("error")
                );
                if !detail.is_empty() {
                    reason.push_str(": ");
                    reason.push_str(&detail);
                }
                return Err(LlmError::Rejected {
                    status: status.as_u16(),
                    reason: short(&reason).to_owned(),
                });
            }
            tracing::debug!(llm.host = %host, status = status.as_u16(), retries, "upstream round opened");
            let is_json = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            // Some servers answer a streamed request with one JSON object (often an error).
            if !request.stream || is_json {
                let bytes = self.read_limited(response, MAX_WHOLE_BODY).await?;
                return RoundStream::whole(&bytes, endpoint);
            }
            return Ok(RoundStream::sse(
                response,
                self.settings.idle_timeout,
                endpoint,
            ));
        }
    }

    /// Backoff before retry number `retry` (0-based): uniform in [0, min(max, base·2^retry)].
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .settings
            .backoff_base
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.settings.backoff_max);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ceiling_ms))
    }

    /// Reads a body up to `limit` bytes, each read bounded by the idle timeout.
    async fn read_limited(
        &self,
        mut response: reqwest::Response,
        limit: usize,
    ) -> Result<Vec<u8>, LlmError> {
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout(self.settings.idle_timeout, response.chunk()).await {
                Err(_) => return Err(LlmError::Stalled),
                Ok(Err(e)) => {
                    tracing::warn!(error = %WithoutUrl(&e), "reading the upstream body failed");
                    return Err(LlmError::Protocol(
                        "connection closed before the answer was complete".to_owned(),
                    ));
                }
                Ok(Ok(None)) => return Ok(out),
                Ok(Ok(Some(chunk))) => {
                    if out.len() + chunk.len() > limit {
                        return Err(LlmError::Protocol("upstream answer too large".to_owned()));
                    }
                    out.extend_from_slice(&chunk);
                }
            }
        }
    }

    /// The upstream's own explanation of a refusal (`error.message`, `message` or `detail`),
    /// scrubbed of the key and URL; empty when there is none or it is not JSON (an HTML page).
    async fn error_detail(&self, response: reqwest::Response, endpoint: &Endpoint) -> String {
        let Ok(bytes) = self.read_limited(response, MAX_ERROR_BODY).await else {
            return String::new();
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return String::new();
        };
        let text = value
            .pointer("/error/message")
            .or_else(|| value.get("error").filter(|e| e.is_string()))
            .or_else(|| value.get("message"))
            .or_else(|| value.get("detail"))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        short(&scrub(text, endpoint)).to_owned()
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (relative to `now`; a date in the
/// past means no wait).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::types::Message;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:42 GMT", now),
            Some(Duration::from_secs(5))
        );
        // The obsolete formats a recipient must still accept (RFC 9110 §5.6.7).
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:38 1994", now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_stays_under_the_doubling_ceiling_and_the_max() {
        let client = Client::new(ClientSettings {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(300),
            ..ClientSettings::default()
        })
        .unwrap();
        for _ in 0..200 {
            assert!(client.backoff(0) <= Duration::from_millis(100));
            assert!(client.backoff(1) <= Duration::from_millis(200));
            assert!(client.backoff(5) <= Duration::from_millis(300));
            assert!(client.backoff(u32::MAX) <= Duration::from_millis(300));
        }
    }

    fn endpoint(url: &str, key: &str) -> Endpoint {
        Endpoint {
            model: "x".into(),
            api_url: url.into(),
            api_key: key.into(),
            include_usage: false,
        }
    }

    fn request(thinking: bool) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::user("hi")],
            temperature: 1.0,
            max_tokens: 10,
            thinking,
            tools: std::sync::Arc::from([]),
            stream: true,
        }
    }

    #[test]
    fn check_reports_configuration_problems() {
        let ok = endpoint("https://api.openai.com/v1/chat/completions", "k");
        assert_eq!(Client::check(&ok, &request(false)), Ok(()));
        assert_eq!(
            Client::check(&ok, &request(true)).unwrap_err().to_string(),
            "Thinking not supported for provider 'openai'"
        );
        assert_eq!(
            Client::check(&endpoint("https://api.deepseek.com/x", "k"), &request(true)),
            Ok(())
        );
        assert_eq!(
            Client::check(&endpoint("", "k"), &request(false))
                .unwrap_err()
                .to_string(),
            "Model 'x' has no api_url configured"
        );
        assert_eq!(
            Client::check(&endpoint("https://h/x", " "), &request(false))
                .unwrap_err()
                .to_string(),
            "Model 'x' has no api_key configured"
        );
        let invalid = Client::check(&endpoint("ftp://secret-host/x", "k"), &request(false))
            .unwrap_err()
            .to_string();
        assert_eq!(invalid, "Model 'x' has an invalid api_url");
    }
}
