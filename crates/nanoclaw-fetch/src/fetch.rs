//! One guarded GET: scheme and address checks on every hop, redirects followed by hand, the
//! body read up to a byte cap, one deadline over all of it.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use tokio_util::sync::CancellationToken;

use crate::guard::{Policy, Refusal};

/// Limits and policy of a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Which addresses may be reached.
    pub policy: Policy,
    /// Most body bytes read; the rest is never downloaded.
    pub max_bytes: usize,
    /// Most characters of text returned to the model.
    pub max_chars: usize,
    /// Deadline of one page: every hop, the headers and the body together.
    pub timeout: Duration,
    /// Deadline of one TCP (and TLS) connect.
    pub connect_timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: u32,
    /// `User-Agent` sent.
    pub user_agent: String,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            max_bytes: 2 * 1024 * 1024,
            max_chars: 20_000,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_redirects: 5,
            user_agent: concat!("nanoclaw/", env!("CARGO_PKG_VERSION"), " (fetch_page)").into(),
        }
    }
}

/// Why a fetch failed; its `Display` is what the tool result says.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not a URL at all.
    #[error("Invalid URL: {0}")]
    InvalidUrl(String),
    /// A scheme other than http/https.
    #[error("Only http and https URLs can be fetched (got {0}:)")]
    Scheme(String),
    /// Credentials in the URL.
    #[error("URLs with a user name or password are not fetched")]
    Userinfo,
    /// The URL has no host.
    #[error("URL has no host")]
    NoHost,
    /// A target address is not public.
    #[error("Refused: {0}")]
    Refused(Refusal),
    /// A name that does not resolve.
    #[error("Could not resolve host {0}")]
    Resolve(String),
    /// More redirects than allowed.
    #[error("Too many redirects (more than {0})")]
    TooManyRedirects(u32),
    /// A redirect without a usable `Location`.
    #[error("Redirect with an invalid Location header")]
    BadRedirect,
    /// A non-success status.
    #[error("HTTP {0}")]
    Status(StatusCode),
    /// A body the tools cannot read.
    #[error("Unsupported content type: {0} (only HTML and text pages can be read)")]
    UnsupportedType(String),
    /// The page's deadline passed.
    #[error("Timed out after {0} s")]
    Timeout(u64),
    /// The answer was cancelled.
    #[error("Cancelled")]
    Cancelled,
    /// Anything else on the wire.
    #[error("Request failed: {0}")]
    Transport(String),
}

/// A fetched page body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where the body came from after redirects.
    pub final_url: Url,
    /// The `Content-Type` media type, lower case, without parameters (`None`: not sent).
    pub media_type: Option<String>,
    /// The body decoded to text.
    pub body: String,
    /// Whether the body was cut at [`FetchSettings::max_bytes`].
    pub cut: bool,
}

/// Kinds of bodies the tools read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Parsed as HTML.
    Html,
    /// Returned as plain text.
    Text,
}

impl Fetched {
    /// How the body is read: HTML for HTML types and for a missing type, text for textual
    /// types.
    pub fn kind(&self) -> BodyKind {
        match self.media_type.as_deref() {
            None | Some("text/html" | "application/xhtml+xml") => BodyKind::Html,
            Some(_) => BodyKind::Text,
        }
    }
}

fn readable_type(media: &str) -> bool {
    media.starts_with("text/")
        || media.ends_with("+xml")
        || media.ends_with("+json")
        || matches!(
            media,
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/x-ndjson"
        )
}

/// Fetches pages under a [`FetchSettings`].
#[derive(Debug, Clone)]
pub struct Fetcher {
    settings: Arc<FetchSettings>,
}

impl Fetcher {
    /// A fetcher with these settings.
    pub fn new(settings: FetchSettings) -> Self {
        crate::install_crypto_provider();
        Self {
            settings: Arc::new(settings),
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// GETs `url` (following at most `max_redirects` redirects, each re-checked) and reads its
    /// body up to `max_bytes`, all within `timeout`, or until `cancel` fires.
    pub async fn fetch(
        &self,
        url: &str,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        let deadline = self.settings.timeout;
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(FetchError::Cancelled),
            r = tokio::time::timeout(deadline, self.fetch_inner(url)) => match r {
                Ok(r) => r,
                Err(_) => Err(FetchError::Timeout(deadline.as_secs().max(1))),
            },
        }
    }

    async fn fetch_inner(&self, url: &str) -> Result<Fetched, FetchError> {
        let mut current =
            Url::parse(url.trim()).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        let mut redirects = 0u32;
        loop {
            let response = self.get_once(&current).await?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|loc| current.join(loc.trim()).ok())
                    .ok_or(FetchError::BadRedirect)?;
                if redirects >= self.settings.max_redirects {
                    return Err(FetchError::TooManyRedirects(self.settings.max_redirects));
                }
                redirects += 1;
                current = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status));
            }
            return self.read_body(current, response).await;
        }
    }

    /// One request to `url`, its target checked first: literal addresses here, names in the
    /// resolver (so the address checked is the address connected to).
    async fn get_once(&self, url: &Url) -> Result<reqwest::Response, FetchError> {
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(FetchError::Scheme(other.to_owned())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::Userinfo);
        }
        let port = url.port_or_known_default().ok_or(FetchError::NoHost)?;
        let host = url.host().ok_or(FetchError::NoHost)?;
        match host {
            url::Host::Ipv4(ip) => self
                .settings
                .policy
                .check(IpAddr::V4(ip), port)
                .map_err(FetchError::Refused)?,
            url::Host::Ipv6(ip) => self
                .settings
                .policy
                .check(IpAddr::V6(ip), port)
                .map_err(FetchError::Refused)?,
            url::Host::Domain(_) => {}
        }
        // One client per hop: its resolver knows the hop's port, so a port-restricted
        // allow-list entry is honoured, and no pooled connection outlives its check.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.settings.connect_timeout)
            .timeout(self.settings.timeout)
            .user_agent(self.settings.user_agent.clone())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: self.settings.policy.clone(),
                port,
            }))
            .build()
            .map_err(|e| FetchError::Transport(chain(&e)))?;
        client
            .get(url.clone())
            .header(
                reqwest::header::ACCEPT,
                "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
            )
            .send()
            .await
            .map_err(map_send_error)
    }

    async fn read_body(
        &self,
        final_url: Url,
        mut response: reqwest::Response,
    ) -> Result<Fetched, FetchError> {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (media_type, charset) = match content_type.as_deref() {
            Some(ct) => {
                let (media, charset) = parse_content_type(ct);
                (Some(media), charset)
            }
            None => (None, None),
        };
        if let Some(media) = &media_type
            && media != "text/html"
            && media != "application/xhtml+xml"
            && !readable_type(media)
        {
            return Err(FetchError::UnsupportedType(media.clone()));
        }
        let cap = self.settings.max_bytes;
        let mut bytes: Vec<u8> = Vec::new();
        let mut cut = false;
        while let Some(chunk) = response.chunk().await.map_err(map_send_error)? {
            let room = cap - bytes.len();
            if chunk.len() >= room {
                bytes.extend_from_slice(&chunk[..room]);
                // Whether more would have come is unknown when the chunk fills exactly; the
                // note errs on the side of saying so.
                cut = chunk.len() > room || bytes.len() == cap;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        drop(response);
        let body = decode(&bytes, charset.as_deref());
        Ok(Fetched {
            final_url,
            media_type,
            body,
            cut,
        })
    }
}

/// `text/html; charset=UTF-8` → (`text/html`, `Some("utf-8")`).
fn parse_content_type(ct: &str) -> (String, Option<String>) {
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let charset = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    });
    (media, charset)
}

/// Bytes to text: the header's charset, else UTF-8 when valid, else a `<meta charset>` near the
/// start, else windows-1252 (what browsers fall back to).
fn decode(bytes: &[u8], charset: Option<&str>) -> String {
    if let Some(enc) = charset.and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes())) {
        return enc.decode(bytes).0.into_owned();
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    let meta = head.find("charset=").and_then(|i| {
        let rest = head[i + 8..].trim_start_matches(['"', '\'']);
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        encoding_rs::Encoding::for_label(&rest.as_bytes()[..end])
    });
    meta.unwrap_or(encoding_rs::WINDOWS_1252)
        .decode(bytes)
        .0
        .into_owned()
}

fn map_send_error(e: reqwest::Error) -> FetchError {
    // A refusal from the resolver travels inside the connect error.
    let mut source: Option<&(dyn StdError + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(r) = err.downcast_ref::<ResolverError>() {
            return match r {
                ResolverError::Refused(refusal) => FetchError::Refused(refusal.clone()),
                ResolverError::NotFound(host) => FetchError::Resolve(host.clone()),
            };
        }
        source = err.source();
    }
    if e.is_timeout() {
        return FetchError::Transport("timed out".into());
    }
    FetchError::Transport(chain(&e))
}

/// An error and its causes on one line.
fn chain(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[derive(Debug)]
enum ResolverError {
    Refused(Refusal),
    NotFound(String),
}

impl fmt::Display for ResolverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(r) => write!(f, "refused: {r}"),
            Self::NotFound(h) => write!(f, "could not resolve {h}"),
        }
    }
}

impl StdError for ResolverError {}

/// Resolves through the system resolver and refuses the name when any of its addresses is
/// refused by the policy (a name that mixes public and private answers is a rebinding trick).
struct GuardedResolver {
    policy: Policy,
    port: u16,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let port = self.port;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| ResolverError::NotFound(host.clone()))?
                .collect();
            if addrs.is_empty() {
                return Err(ResolverError::NotFound(host).into());
            }
            for addr in &addrs {
                policy
                    .check(addr.ip(), port)
                    .map_err(ResolverError::Refused)?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_parse() {
        assert_eq!(
            parse_content_type("Text/HTML; Charset=\"ISO-8859-1\""),
            ("text/html".into(), Some("iso-8859-1".into()))
        );
        assert!(readable_type("application/ld+json"));
        assert!(!readable_type("image/png"));
        assert!(!readable_type("application/octet-stream"));
    }

    #[test]
    fn decoding_follows_charset() {
        assert_eq!(decode(b"caf\xe9", Some("iso-8859-1")), "café");
        assert_eq!(decode("café".as_bytes(), None), "café");
        assert_eq!(
            decode(b"<meta charset=\"windows-1251\"><p>\xcf\xf0\xe8", None),
            "<meta charset=\"windows-1251\"><p>При"
        );
    }
}
