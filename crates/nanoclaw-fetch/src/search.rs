//! Web search backends for `web_search` (tools.md §4.2): SearXNG, Brave and Tavily.
//!
//! The backend URL is the operator's, so it is not under the fetch policy; it must still be
//! http/https, and redirects are not followed (a moved instance is a configuration error to
//! see, not something to chase).

use std::time::Duration;

use reqwest::Url;
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Longest title kept.
const TITLE_MAX: usize = 300;
/// Longest snippet kept.
const SNIPPET_MAX: usize = 1000;

/// Which search service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SearXNG instance's JSON API (`/search?format=json`; JSON output must be enabled in
    /// its settings).
    Searxng,
    /// Brave Search API (`X-Subscription-Token`).
    Brave,
    /// Tavily search API (bearer key).
    Tavily,
}

impl Backend {
    /// The endpoint used when the operator gives no URL (SearXNG has none).
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            Self::Searxng => None,
            Self::Brave => Some("https://api.search.brave.com/res/v1/web/search"),
            Self::Tavily => Some("https://api.tavily.com/search"),
        }
    }

    /// Whether the backend needs an API key.
    pub fn needs_key(self) -> bool {
        !matches!(self, Self::Searxng)
    }
}

/// How to reach the backend.
#[derive(Clone)]
pub struct SearchSettings {
    /// The service.
    pub backend: Backend,
    /// Its endpoint: for SearXNG the instance's base URL (`/search` is appended unless the
    /// path already ends with it), for the APIs the full search URL.
    pub url: Url,
    /// The key of a keyed API.
    pub api_key: Option<String>,
    /// Region/language (SearXNG `language`, Brave `country`, Tavily `country`).
    pub region: Option<String>,
    /// Deadline of one search.
    pub timeout: Duration,
    /// `User-Agent` sent.
    pub user_agent: String,
}

impl std::fmt::Debug for SearchSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchSettings")
            .field("backend", &self.backend)
            .field("url", &self.url.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("region", &self.region)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// Page title.
    pub title: String,
    /// Page URL.
    pub url: String,
    /// Short excerpt.
    pub snippet: String,
}

/// A configured search backend.
#[derive(Debug, Clone)]
pub struct Searcher {
    client: reqwest::Client,
    settings: SearchSettings,
}

impl Searcher {
    /// A searcher; fails when the URL is not http/https or the client cannot be built.
    pub fn new(settings: SearchSettings) -> Result<Self, String> {
        if !matches!(settings.url.scheme(), "http" | "https") {
            return Err("web_search.url must be an http or https URL".into());
        }
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(settings.user_agent.clone())
            .build()
            .map_err(|e| format!("building the search client: {e}"))?;
        Ok(Self { client, settings })
    }

    /// Searches; `max_results` is already bounded by the caller.
    pub async fn search(
        &self,
        query: &str,
        max_results: usize,
        cancel: &CancellationToken,
    ) -> Result<Vec<Hit>, String> {
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err("Cancelled".into()),
            r = tokio::time::timeout(self.settings.timeout, self.search_inner(query, max_results)) => {
                r.unwrap_or_else(|_| Err(format!(
                    "Search timed out after {} s",
                    self.settings.timeout.as_secs().max(1)
                )))
            }
        }
    }

    async fn search_inner(&self, query: &str, max_results: usize) -> Result<Vec<Hit>, String> {
        let s = &self.settings;
        let key = s.api_key.as_deref().unwrap_or_default();
        let request = match s.backend {
            Backend::Searxng => {
                let mut url = s.url.clone();
                if !url.path().trim_end_matches('/').ends_with("/search") {
                    let path = format!("{}/search", url.path().trim_end_matches('/'));
                    url.set_path(&path);
                }
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("q", query).append_pair("format", "json");
                    if let Some(region) = &s.region {
                        q.append_pair("language", region);
                    }
                }
                self.client.get(url)
            }
            Backend::Brave => {
                let mut url = s.url.clone();
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("q", query)
                        .append_pair("count", &max_results.to_string());
                    if let Some(region) = &s.region {
                        q.append_pair("country", region);
                    }
                }
                self.client.get(url).header("X-Subscription-Token", key)
            }
            Backend::Tavily => {
                let mut body = serde_json::json!({"query": query, "max_results": max_results});
                if let (Some(region), Value::Object(map)) = (&s.region, &mut body) {
                    map.insert("country".into(), Value::String(region.clone()));
                }
                self.client.post(s.url.clone()).bearer_auth(key).json(&body)
            }
        };
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("Search backend unreachable: {}", without_url(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("Search backend answered HTTP {}", status.as_u16()));
        }
        // Bounded read: a search answer is small.
        let body = read_capped(response, 4 * 1024 * 1024).await?;
        let json: Value = serde_json::from_slice(&body)
            .map_err(|_| "Search backend answered something that is not JSON".to_owned())?;
        let (list, snippet_key) = match s.backend {
            Backend::Searxng => (json.get("results"), "content"),
            Backend::Brave => (json.pointer("/web/results"), "description"),
            Backend::Tavily => (json.get("results"), "content"),
        };
        let hits = list
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| {
                        let url = item.get("url")?.as_str()?.to_owned();
                        let text = |k: &str, max: usize| {
                            let raw = item.get(k).and_then(Value::as_str).unwrap_or_default();
                            let plain = if s.backend == Backend::Brave {
                                strip_tags(raw)
                            } else {
                                raw.trim().to_owned()
                            };
                            plain.chars().take(max).collect::<String>()
                        };
                        Some(Hit {
                            title: text("title", TITLE_MAX),
                            url,
                            snippet: text(snippet_key, SNIPPET_MAX),
                        })
                    })
                    .take(max_results)
                    .collect()
            })
            .unwrap_or_default();
        Ok(hits)
    }
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("Search backend failed: {}", without_url(&e)))?
    {
        if out.len() + chunk.len() > cap {
            return Err("Search backend answer too large".into());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A reqwest error without its URL (which carries the query; harmless, but noisy).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Brave marks query words with `<strong>`; the model wants plain text.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}
