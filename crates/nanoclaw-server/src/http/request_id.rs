//! `X-Request-Id`: kept from the client when well-formed, generated otherwise, returned on the
//! response and recorded on the request's log span.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};

/// The header name.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id kept.
const MAX_LEN: usize = 128;

/// Keeps a single well-formed client id (1–128 of `A-Z a-z 0-9 . _ -`); otherwise sets a
/// generated one, replacing whatever the client sent.
pub fn ensure(mut req: Request) -> Request {
    let headers = req.headers_mut();
    let mut values = headers.get_all(&X_REQUEST_ID).iter();
    let keep = matches!(
        (values.next(), values.next()),
        (Some(id), None) if is_well_formed(id.as_bytes())
    );
    if !keep {
        headers.insert(X_REQUEST_ID, generate());
    }
    req
}

fn is_well_formed(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// 128 random bits as 32 lowercase hex digits (thread-local generator: no system call).
fn generate() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut n: u128 = rand::random();
    let mut buf = [0u8; 32];
    for b in buf.iter_mut().rev() {
        *b = HEX[(n & 0xf) as usize];
        n >>= 4;
    }
    HeaderValue::from_bytes(&buf).unwrap_or(HeaderValue::from_static("0"))
}

/// The span every log line of a request is recorded in: its id (never the query string or
/// headers, which can carry credentials).
pub fn span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Display, not Debug: the id is validated. Only the id: every field is formatted when the
    // span opens, on every request, and method and path are in the access log already.
    let _ = req;
    tracing::info_span!("request", request_id = %id)
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
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 32);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert!(is_well_formed(a.as_bytes()));
        assert_ne!(a, b);
    }
}
