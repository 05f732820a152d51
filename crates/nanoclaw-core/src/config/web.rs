//! `fetch` and `web_search` sections: the web tools (`fetch_page`, `crawl_batch`,
//! `web_search`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_helpers::{lenient_opt_secret, lenient_opt_string, lenient_string, redacted_opt};
use super::{ConfigError, key_err};
use crate::secret::Secret;

const MIB: u64 = 1024 * 1024;

/// One `fetch.allow_private` entry: an address or CIDR, optionally limited to one port.
///
/// Written `127.0.0.1`, `10.0.0.0/8`, `127.0.0.1:8080`, `10.0.0.0/8:443`, `::1`, `fd00::/8`,
/// `[::1]:8080` or `[fd00::/8]:443`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetRule {
    /// Addresses admitted.
    pub net: IpNet,
    /// The only port admitted (`None`: any).
    pub port: Option<u16>,
}

impl FromStr for NetRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("`{s}` is not an address or CIDR with an optional :port");
        let (addr, port) = if let Some(rest) = s.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (inside, port)
        } else if s.matches(':').count() == 1 {
            let (a, p) = s.split_once(':').ok_or_else(bad)?;
            (a, Some(p))
        } else {
            (s, None)
        };
        let net = addr
            .parse::<IpNet>()
            .or_else(|_| addr.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| bad())?;
        let port = port
            .map(|p| p.parse::<u16>().map_err(|_| bad()))
            .transpose()?;
        Ok(Self { net, port })
    }
}

impl fmt::Display for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.port, self.net) {
            (None, net) => write!(f, "{net}"),
            (Some(p), IpNet::V4(n)) => write!(f, "{n}:{p}"),
            (Some(p), IpNet::V6(n)) => write!(f, "[{n}]:{p}"),
        }
    }
}

impl<'de> Deserialize<'de> for NetRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = lenient_string(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for NetRule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `fetch` section: limits and address policy of `fetch_page` and `crawl_batch`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// Non-public addresses the web tools may reach anyway (loopback, private, link-local, …
    /// are refused otherwise). A cloud metadata address passes only an entry naming exactly it.
    pub allow_private: Vec<NetRule>,
    /// Most bytes of a page downloaded (the rest is not read).
    pub max_bytes: u64,
    /// Most characters of page text returned to the model.
    pub max_chars: u64,
    /// Seconds one page may take: every redirect hop and the body together.
    pub timeout: u64,
    /// Seconds one connection attempt may take.
    pub connect_timeout: u64,
    /// Most redirects followed (each hop is checked again).
    pub max_redirects: u32,
    /// `User-Agent` sent with page requests.
    #[serde(deserialize_with = "lenient_string")]
    pub user_agent: String,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            allow_private: Vec::new(),
            max_bytes: 2 * MIB,
            max_chars: 20_000,
            timeout: 30,
            connect_timeout: 10,
            max_redirects: 5,
            user_agent: concat!("nanoclaw/", env!("CARGO_PKG_VERSION"), " (fetch_page)").into(),
        }
    }
}

/// Which search service `web_search` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchBackend {
    /// A SearXNG instance (`url` required; its JSON format must be enabled).
    Searxng,
    /// Brave Search API (`api_key` required).
    Brave,
    /// Tavily (`api_key` required).
    Tavily,
}

/// `web_search` section. Without a `backend` the tool is not offered.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSearchConfig {
    /// `searxng`, `brave` or `tavily`; unset: no `web_search` tool.
    pub backend: Option<SearchBackend>,
    /// SearXNG: the instance's base URL. Brave/Tavily: overrides the API endpoint.
    #[serde(deserialize_with = "lenient_opt_string")]
    pub url: Option<String>,
    /// Key of a keyed API (write `${BRAVE_API_KEY}`; never logged).
    #[serde(
        deserialize_with = "lenient_opt_secret",
        serialize_with = "redacted_opt"
    )]
    pub api_key: Option<Secret>,
    /// Region or language passed to the backend (SearXNG `language` such as `en-US`; Brave and
    /// Tavily `country` such as `us`).
    #[serde(deserialize_with = "lenient_opt_string")]
    pub region: Option<String>,
    /// Results when the model asks for none (1–10); the model's own value is clamped to 1–10.
    pub max_results: u32,
    /// Seconds one search may take.
    pub timeout: u64,
}

impl Default for WebSearchConfig {
    fn default() -> Self {
        Self {
            backend: None,
            url: None,
            api_key: None,
            region: None,
            max_results: 5,
            timeout: 15,
        }
    }
}

/// Checks both sections' values (called by `Config::validate`).
pub(super) fn validate(fetch: &FetchConfig, search: &WebSearchConfig) -> Result<(), ConfigError> {
    for (key, value, min, max) in [
        ("fetch.max_bytes", fetch.max_bytes, 1024, 64 * MIB),
        ("fetch.max_chars", fetch.max_chars, 100, 1_000_000),
        ("fetch.timeout", fetch.timeout, 1, 600),
        ("fetch.connect_timeout", fetch.connect_timeout, 1, 600),
        ("fetch.max_redirects", u64::from(fetch.max_redirects), 0, 20),
        (
            "web_search.max_results",
            u64::from(search.max_results),
            1,
            10,
        ),
        ("web_search.timeout", search.timeout, 1, 600),
    ] {
        if !(min..=max).contains(&value) {
            return Err(key_err(key, format!("must be between {min} and {max}")));
        }
    }
    if fetch.user_agent.trim().is_empty() {
        return Err(key_err("fetch.user_agent", "must not be empty"));
    }
    let Some(backend) = search.backend else {
        return Ok(());
    };
    let url = search
        .url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    match (backend, url) {
        (SearchBackend::Searxng, None) => {
            return Err(key_err(
                "web_search.url",
                "is required for the searxng backend",
            ));
        }
        (_, Some(u)) if !(u.starts_with("http://") || u.starts_with("https://")) => {
            return Err(key_err("web_search.url", "must be an http or https URL"));
        }
        _ => {}
    }
    let has_key = search
        .api_key
        .as_ref()
        .is_some_and(|k| !k.expose().trim().is_empty());
    if backend != SearchBackend::Searxng && !has_key {
        return Err(key_err(
            "web_search.api_key",
            "is required for the brave and tavily backends",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_rules_parse() {
        for (text, shown) in [
            ("127.0.0.1", "127.0.0.1/32"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("127.0.0.1:8080", "127.0.0.1/32:8080"),
            ("10.0.0.0/8:443", "10.0.0.0/8:443"),
            ("::1", "::1/128"),
            ("fd00::/8", "fd00::/8"),
            ("[::1]:8080", "[::1/128]:8080"),
            ("[fd00::/8]:443", "[fd00::/8]:443"),
        ] {
            let rule: NetRule = text.parse().unwrap();
            assert_eq!(rule.to_string(), shown, "{text}");
            assert_eq!(rule.to_string().parse::<NetRule>().unwrap(), rule);
        }
        for bad in [
            "",
            "localhost",
            "127.0.0.1:99999",
            "[::1",
            "[::1]x",
            "1.2.3.4/33",
        ] {
            assert!(bad.parse::<NetRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sections_are_validated() {
        let fetch = FetchConfig::default();
        let ok = WebSearchConfig::default();
        assert!(validate(&fetch, &ok).is_ok());
        let key_of = |f: &FetchConfig, w: &WebSearchConfig| match validate(f, w) {
            Err(ConfigError::Key { key, .. }) => key,
            other => panic!("expected a key error, got {other:?}"),
        };
        let searxng = WebSearchConfig {
            backend: Some(SearchBackend::Searxng),
            ..WebSearchConfig::default()
        };
        assert_eq!(key_of(&fetch, &searxng), "web_search.url");
        let brave = WebSearchConfig {
            backend: Some(SearchBackend::Brave),
            ..WebSearchConfig::default()
        };
        assert_eq!(key_of(&fetch, &brave), "web_search.api_key");
        let keyed = WebSearchConfig {
            api_key: Some(Secret::new("k")),
            ..brave.clone()
        };
        assert!(validate(&fetch, &keyed).is_ok());
        let ftp = WebSearchConfig {
            url: Some("ftp://x".into()),
            ..keyed.clone()
        };
        assert_eq!(key_of(&fetch, &ftp), "web_search.url");
        let many = WebSearchConfig {
            max_results: 11,
            ..WebSearchConfig::default()
        };
        assert_eq!(key_of(&fetch, &many), "web_search.max_results");
        let huge = FetchConfig {
            max_bytes: 65 * MIB,
            ..FetchConfig::default()
        };
        assert_eq!(key_of(&huge, &ok), "fetch.max_bytes");
    }
}
