//! The web interface, served from the files embedded in the binary (crate
//! `nanoclaw-ui-assets`, built from `web/dist`) as the router's fallback: it answers what no API
//! route matched, so it adds no route to the router or the OpenAPI document.
//!
//! - `GET`/`HEAD` of an embedded file serves it: `/` is `index.html`. Files under `/assets/`
//!   carry a content hash in their names and are cached for a year (`immutable`); everything
//!   else (`index.html`, `favicon.svg`) is `no-cache`, i.e. revalidated with its `ETag`.
//! - Bodies come precompressed (brotli, gzip, made by the build), chosen from `Accept-Encoding`;
//!   `Vary: Accept-Encoding`. `If-None-Match` with the current tag answers 304.
//! - Any other `GET` whose `Accept` names `text/html` (a browser opening a client route such as
//!   `/chat/12`) gets `index.html`; a missing `/assets/…` file is a 404, never the page.
//! - `/api` and `/api/…`, other methods, and requests that do not ask for HTML keep the JSON
//!   404 envelope. Paths with `..`/`.` segments, backslashes, NULs or control characters (also
//!   percent-encoded) are a 400.
//! - Every response of the interface carries a strict Content-Security-Policy (no inline script,
//!   no eval, no framing), `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and
//!   `Referrer-Policy: no-referrer`.
//!
//! Headers are built once per file on first use; a request costs a map lookup and clones of
//! shared values, and the body is the embedded bytes themselves.

pub mod negotiate;

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use nanoclaw_ui_assets::Asset;

use self::negotiate::Coding;
use crate::error::AppError;
use crate::http::metrics_layer::RouteLabel;

/// The policy of every interface response. `img-src` allows `data:`/`blob:` for pasted and
/// generated images; nothing may be inlined or evaluated, and no page may frame the UI.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; \
base-uri 'none'; form-action 'self'; object-src 'none'";

/// Cache policy of content-hashed files (`/assets/…`).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache policy of everything else: store, but revalidate before each use.
const NO_CACHE: &str = "no-cache";

/// Metrics route label of files under `/assets/` (found or not).
const ASSETS_ROUTE: &str = "/assets/{*file}";
/// Metrics route label of the page and the other files of the interface.
const PAGE_ROUTE: &str = "/{*ui}";

/// The fallback of the whole router: the interface, or the JSON 404 of an unknown API path.
pub async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    let readable = matches!(*req.method(), Method::GET | Method::HEAD);
    if !readable || path == "/api" || path.starts_with("/api/") {
        return not_found();
    }
    let Ok(key) = negotiate::file_key(path) else {
        return AppError::bad_request("Invalid path").into_response();
    };
    let headers = req.headers();
    let files = files();
    let key = if key.is_empty() { "index.html" } else { &key };
    if let Some(file) = files.get(key) {
        return file.respond(headers, false);
    }
    let assets = key.starts_with("assets/");
    if !assets
        && negotiate::wants_html(text_values(headers, header::ACCEPT))
        && let Some(index) = files.get("index.html")
    {
        return index.respond(headers, true);
    }
    let mut response = not_found();
    if assets {
        response.extensions_mut().insert(RouteLabel(ASSETS_ROUTE));
        secure(response.headers_mut());
    }
    response
}

fn not_found() -> Response {
    AppError::NotFound("Not found".into()).into_response()
}

/// A file with its response headers, prepared once.
struct File {
    asset: &'static Asset,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    route: &'static str,
    /// Entity tags of the identity, brotli and gzip bodies (they are different representations).
    etags: [HeaderValue; 3],
    /// The same tags as text, for `If-None-Match`.
    tags: [String; 3],
}

/// Every embedded file by path, with its headers.
fn files() -> &'static HashMap<&'static str, File> {
    static FILES: OnceLock<HashMap<&'static str, File>> = OnceLock::new();
    FILES.get_or_init(|| {
        nanoclaw_ui_assets::all()
            .values()
            .map(|asset| (asset.path.as_str(), File::new(asset)))
            .collect()
    })
}

impl File {
    fn new(asset: &'static Asset) -> Self {
        let hash: String = asset.sha256[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let tags = ["", "-br", "-gz"].map(|suffix| format!("\"{hash}{suffix}\""));
        // Hex digits and quotes are always a valid header value.
        let etag = |t: &String| {
            HeaderValue::from_str(t).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
        };
        let immutable = asset.path.starts_with("assets/");
        Self {
            asset,
            content_type: content_type(&asset.mime),
            cache_control: HeaderValue::from_static(if immutable { IMMUTABLE } else { NO_CACHE }),
            route: if immutable { ASSETS_ROUTE } else { PAGE_ROUTE },
            etags: [etag(&tags[0]), etag(&tags[1]), etag(&tags[2])],
            tags,
        }
    }

    /// The file (or 304) for a request with `headers`; `fallback` when it stands in for a
    /// client route, whose answer also depends on `Accept`.
    fn respond(&self, headers: &HeaderMap, fallback: bool) -> Response {
        let asset = self.asset;
        let coding = negotiate::choose(
            text_values(headers, header::ACCEPT_ENCODING),
            asset.brotli.is_some(),
            asset.gzip.is_some(),
        );
        let (body, etag, encoding) = match (coding, &asset.brotli, &asset.gzip) {
            (Coding::Brotli, Some(br), _) => (br, &self.etags[1], Some("br")),
            (Coding::Gzip, _, Some(gz)) => (gz, &self.etags[2], Some("gzip")),
            _ => (&asset.body, &self.etags[0], None),
        };
        let tags = [&*self.tags[0], &*self.tags[1], &*self.tags[2]];
        let unchanged = negotiate::none_match(text_values(headers, header::IF_NONE_MATCH), &tags);
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let bytes: &'static [u8] = body;
            let mut response = Body::from(Bytes::from_static(bytes)).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, self.content_type.clone());
            if let Some(encoding) = encoding {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            response
        };
        let h = response.headers_mut();
        h.insert(header::ETAG, etag.clone());
        h.insert(header::CACHE_CONTROL, self.cache_control.clone());
        let vary = match (fallback, asset.brotli.is_some() || asset.gzip.is_some()) {
            (true, true) => Some("Accept-Encoding, Accept"),
            (true, false) => Some("Accept"),
            (false, true) => Some("Accept-Encoding"),
            (false, false) => None,
        };
        if let Some(vary) = vary {
            h.insert(header::VARY, HeaderValue::from_static(vary));
        }
        secure(h);
        response.extensions_mut().insert(RouteLabel(self.route));
        response
    }
}

/// The security headers of every interface response.
fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// `Content-Type` for a guessed MIME type: `text/javascript` (the current standard name) for
/// scripts, and text formats declared UTF-8, as Vite writes them.
fn content_type(mime: &str) -> HeaderValue {
    let mime = match mime {
        "application/javascript" | "application/x-javascript" => "text/javascript",
        other => other,
    };
    let utf8 = mime.starts_with("text/")
        || matches!(
            mime,
            "application/json" | "application/manifest+json" | "image/svg+xml"
        );
    let value = if utf8 && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// The values of header `name` that are valid text.
fn text_values(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_name_utf8_text() {
        assert_eq!(
            content_type("application/javascript"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("text/css"), "text/css; charset=utf-8");
        assert_eq!(
            content_type("image/svg+xml"),
            "image/svg+xml; charset=utf-8"
        );
        assert_eq!(content_type("image/png"), "image/png");
        assert_eq!(
            content_type("text/html; charset=utf-8"),
            "text/html; charset=utf-8"
        );
    }
}
