//! Request bodies: a JSON object read leniently (an empty body is `{}`, as nanoClaw's auth
//! routes do) but never loosely typed — every wrong type is a 400 naming the field.
//!
//! A non-empty body must be declared as JSON (`application/json` or `…+json`): the types a
//! cross-site form or `fetch` may send without a CORS preflight (`text/plain`, form
//! encodings) are refused with 415 rather than parsed.

use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};

use crate::error::AppError;

/// Largest body read by [`JsonObject`]; the auth and admin bodies are small objects. Bigger
/// ones get a 413. (Here rather than as axum's `DefaultBodyLimit` layer, which costs every
/// route a layer.)
pub const BODY_LIMIT: usize = 16 * 1024;
/// Largest body read by [`LargeJsonObject`]: a chat message with its text attachments.
pub const LARGE_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The body as a JSON object (at most [`BODY_LIMIT`] bytes).
#[derive(Debug, Default)]
pub struct JsonObject(pub Map<String, Value>);

/// The body as a JSON object of at most [`LARGE_BODY_LIMIT`] bytes (chat messages).
#[derive(Debug, Default)]
pub struct LargeJsonObject(pub JsonObject);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        JsonObject::read(req, BODY_LIMIT).await
    }
}

impl<S: Send + Sync> FromRequest<S> for LargeJsonObject {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        JsonObject::read(req, LARGE_BODY_LIMIT).await.map(Self)
    }
}

impl JsonObject {
    /// Reads a declared-JSON body of at most `limit` bytes.
    pub async fn read(req: Request, limit: usize) -> Result<Self, AppError> {
        let declared_json = is_json(req.headers());
        let body = Limited::new(req.into_body(), limit);
        let bytes = body.collect().await.map_err(|e| {
            if e.is::<LengthLimitError>() {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("Could not read the request body")
            }
        })?;
        let bytes = bytes.to_bytes();
        if !declared_json && !is_blank(&bytes) {
            return Err(AppError::UnsupportedMediaType);
        }
        Self::parse(&bytes)
    }
}

/// True when `Content-Type` is `application/json` or `type/…+json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let json_suffix = subtype
        .len()
        .checked_sub("+json".len())
        .filter(|&at| at > 0)
        .and_then(|at| subtype.get(at..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case("+json"));
    !kind.is_empty()
        && !kind.contains(char::is_whitespace)
        && (json_suffix
            || (kind.eq_ignore_ascii_case("application") && subtype.eq_ignore_ascii_case("json")))
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

impl JsonObject {
    /// Parses a body; whitespace-only means `{}`.
    pub fn parse(bytes: &[u8]) -> Result<Self, AppError> {
        if is_blank(bytes) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(AppError::bad_request("Request body must be a JSON object")),
            Err(_) => Err(AppError::bad_request("Request body must be valid JSON")),
        }
    }

    /// True when the key is present (whatever its value).
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A string field: absent → `None`; anything but a string (including `null`) → 400.
    pub fn str_field(&self, name: &str) -> Result<Option<&str>, AppError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(type_error(name)),
        }
    }

    /// A string field that may be `null`: absent → `None`, `null` → `Some(None)`.
    pub fn nullable_str_field(&self, name: &str) -> Result<Option<Option<&str>>, AppError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s))),
            Some(_) => Err(AppError::bad_request(format!(
                "Field '{name}' must be a string or null"
            ))),
        }
    }
}

fn type_error(name: &str) -> AppError {
    AppError::bad_request(format!("Field '{name}' must be a string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_but_typed() {
        assert!(JsonObject::parse(b"").unwrap().0.is_empty());
        assert!(JsonObject::parse(b" \n").unwrap().0.is_empty());
        assert!(JsonObject::parse(b"[1]").is_err());
        assert!(JsonObject::parse(b"{").is_err());
        let body = JsonObject::parse(br#"{"a":"x","n":1,"z":null}"#).unwrap();
        assert_eq!(body.str_field("a").unwrap(), Some("x"));
        assert_eq!(body.str_field("missing").unwrap(), None);
        assert!(body.str_field("n").is_err());
        assert!(body.str_field("z").is_err());
        assert_eq!(body.nullable_str_field("z").unwrap(), Some(None));
        assert!(body.nullable_str_field("n").is_err());
    }

    #[test]
    fn only_json_content_types_are_json() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, ct.parse().unwrap());
            is_json(&h)
        };
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            " application/json ",
            "application/merge-patch+json",
            "application/vnd.api+JSON; charset=utf-8",
        ] {
            assert!(with(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/json-seq",
            "application/+json",
            "+json",
            "/json",
            "json",
            "",
            "text/plain; a=application/json",
        ] {
            assert!(!with(bad), "{bad}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
