//! `X-Request-Id`: kept from the client when well-formed, generated otherwise, returned on the
//! response and attached to every log line written while the request is handled.
//!
//! The id of the request being handled lives in a task-local ([`scope`], read by the log
//! formatter through [`with_current`]) rather than in a tracing span: a span per request cost
//! about a tenth of the throughput of a small route, a task-local costs nothing measurable.

use std::future::Future;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use tokio::task::futures::TaskLocalFuture;

/// The header name.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id kept.
const MAX_LEN: usize = 128;

/// A request id: 1–128 of `A-Z a-z 0-9 . _ -`, stored inline (no allocation, `Copy`).
#[derive(Clone, Copy)]
pub struct RequestId {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl RequestId {
    /// The id, if `raw` is well-formed.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        if !is_well_formed(raw) {
            return None;
        }
        let mut bytes = [0u8; MAX_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Self {
            len: u8::try_from(raw.len()).ok()?,
            bytes,
        })
    }

    /// 128 random bits as 32 lowercase hex digits (thread-local generator: no system call).
    pub fn generate() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut n: u128 = rand::random();
        let mut bytes = [0u8; MAX_LEN];
        for b in bytes[..32].iter_mut().rev() {
            *b = HEX[(n & 0xf) as usize];
            n >>= 4;
        }
        Self { len: 32, bytes }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (see `parse` and `generate`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The id as a header value.
    pub fn to_header(&self) -> HeaderValue {
        HeaderValue::from_str(self.as_str()).unwrap_or(HeaderValue::from_static("0"))
    }

    /// The request's id: its single well-formed `X-Request-Id`, else a generated one.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(&X_REQUEST_ID).iter();
        match (values.next(), values.next()) {
            (Some(id), None) => Self::parse(id.as_bytes()).unwrap_or_else(Self::generate),
            _ => Self::generate(),
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

fn is_well_formed(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// Runs `future` as the handling of request `id`.
pub fn scope<F: Future>(id: RequestId, future: F) -> TaskLocalFuture<RequestId, F> {
    CURRENT.scope(id, future)
}

/// Runs `f` as the handling of request `id` (for synchronous work, such as a body's poll).
pub fn sync_scope<R>(id: RequestId, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(id, f)
}

/// Calls `f` with the id of the request being handled on this task, if any.
pub fn with_current<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    match CURRENT.try_with(|id| *id) {
        Ok(id) => f(Some(id.as_str())),
        Err(_) => f(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids() {
        assert!(is_well_formed(b"abc-DEF_1.2"));
        assert!(is_well_formed(&[b'a'; 128]));
        assert!(!is_well_formed(b""));
        assert!(!is_well_formed(&[b'a'; 129]));
        assert!(!is_well_formed(b"a b"));
        assert!(!is_well_formed(b"a/b"));
        assert!(!is_well_formed("é".as_bytes()));
        assert_eq!(RequestId::parse(&[b'z'; 128]).unwrap().as_str().len(), 128);
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(is_well_formed(a.as_str().as_bytes()));
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.to_header().to_str().unwrap(), a.as_str());
    }

    #[test]
    fn client_ids_are_kept_only_when_single_and_well_formed() {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("client-1"));
        assert_eq!(RequestId::of(&headers).as_str(), "client-1");
        headers.append(X_REQUEST_ID, HeaderValue::from_static("client-2"));
        assert_eq!(RequestId::of(&headers).as_str().len(), 32);
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("bad id"));
        assert_eq!(RequestId::of(&headers).as_str().len(), 32);
    }

    #[tokio::test]
    async fn the_current_id_is_seen_inside_its_scope_only() {
        let id = RequestId::parse(b"scoped").unwrap();
        let seen = scope(id, async { with_current(|id| id.map(str::to_owned)) }).await;
        assert_eq!(seen.as_deref(), Some("scoped"));
        assert_eq!(with_current(|id| id.map(str::to_owned)), None);
    }
}
