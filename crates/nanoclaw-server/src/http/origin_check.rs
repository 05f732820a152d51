//! Cross-site request refusal, in every mode: a state-changing request (any method but GET,
//! HEAD, OPTIONS and TRACE) that a browser sent from another site is refused with 403.
//!
//! Browsers send `Origin` with every such request; a web page cannot forge or drop it. A
//! request whose `Origin` is listed in `cors_origins` passes. Otherwise it is refused when it
//! says `Sec-Fetch-Site: cross-site`, or when its `Origin` is present and is neither the
//! server's own origin (`http(s)://` + the request's `Host`) nor — in single mode — an origin
//! on a loopback address (a local development front end). `Origin: null` (sandboxed frames,
//! `file:` pages) is cross-site. Requests without `Origin` (curl, scripts, other servers) are not browsers
//! acting for someone else and pass. Like the Host check, a layer around the whole router
//! that allocates nothing on the way through.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::HeaderName;
use axum::http::header::ORIGIN;

use crate::error::AppError;
use crate::http::guard::Check;
use crate::http::host_check::{host_name, is_loopback_name, request_host};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The layer: see the module docs.
#[derive(Clone, Debug)]
pub struct OriginCheckLayer {
    /// `cors_origins`, lower-case, without a trailing `/`.
    listed: Arc<[String]>,
    /// Single mode: loopback origins pass too.
    loopback: bool,
}

impl OriginCheckLayer {
    /// Accepts the server's own origin, the `listed` ones and, when `loopback`, any origin on
    /// a loopback address.
    pub fn new(listed: &[String], loopback: bool) -> Self {
        Self {
            listed: listed
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            loopback,
        }
    }

    fn accepts(&self, req: &Request) -> bool {
        if req.method().is_safe() {
            return true;
        }
        let headers = req.headers();
        let cross_site = headers
            .get(SEC_FETCH_SITE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        let mut origins = headers.get_all(ORIGIN).iter();
        let origin = match (origins.next(), origins.next()) {
            (None, _) => return !cross_site,
            (Some(origin), None) => origin.to_str().ok(),
            (Some(_), Some(_)) => None,
        };
        let Some(origin) = origin else {
            return false;
        };
        // A listed origin is the operator's explicit choice, and may well be on another site
        // (a front end on `localhost:4000` calling a server on the LAN).
        if self.listed.iter().any(|l| l.eq_ignore_ascii_case(origin)) {
            return true;
        }
        !cross_site && self.allows_origin(origin, request_host(req))
    }

    /// True when `origin` is this server's own (`host` is the request's) or, in single mode,
    /// on a loopback address.
    fn allows_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false; // `null`, or not an origin at all
        };
        let https = scheme.eq_ignore_ascii_case("https");
        if !(https || scheme.eq_ignore_ascii_case("http")) || authority.contains('/') {
            return false;
        }
        host.is_some_and(|h| same_authority(authority, h, if https { ":443" } else { ":80" }))
            || (self.loopback && host_name(authority).is_some_and(is_loopback_name))
    }
}

/// `a` and `b` name the same `host[:port]`, a missing port being the scheme's default.
fn same_authority(a: &str, b: &str, default_port: &str) -> bool {
    let eq = |x: &str, y: &str| x.eq_ignore_ascii_case(y);
    eq(a, b)
        || a.strip_suffix(default_port).is_some_and(|a| eq(a, b))
        || b.strip_suffix(default_port).is_some_and(|b| eq(a, b))
}

impl Check for OriginCheckLayer {
    fn check(&self, req: &Request) -> Result<(), AppError> {
        if self.accepts(req) {
            Ok(())
        } else {
            Err(AppError::Forbidden("Cross-site request refused".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(method).uri("/api/auth/logout");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn origins() {
        let multi = OriginCheckLayer::new(&["https://Chat.example.com/".into()], false);
        let single = OriginCheckLayer::new(&[], true);
        let host = "127.0.0.1:3000";
        let post = |layer: &OriginCheckLayer, origin: &str| {
            layer.accepts(&request(
                Method::POST,
                &[("host", host), ("origin", origin)],
            ))
        };
        for layer in [&multi, &single] {
            for own in ["http://127.0.0.1:3000", "HTTPS://127.0.0.1:3000"] {
                assert!(post(layer, own), "{own}");
            }
            for bad in [
                "null",
                "https://evil.example",
                "http://127.0.0.1:3000/",
                "http://127.0.0.1:3000/x",
                "ftp://127.0.0.1:3000",
                "http://chat.example.com",
                "",
            ] {
                assert!(!post(layer, bad), "{bad}");
            }
        }
        assert!(post(&multi, "https://chat.example.com"));
        assert!(!post(&single, "https://chat.example.com"));
        for local in [
            "http://localhost:5173",
            "http://localhost",
            "http://127.0.0.1:8080",
            "http://[::1]:4000",
            "http://app.localhost:3000",
        ] {
            assert!(post(&single, local), "{local}");
            assert!(!post(&multi, local), "{local}");
        }
        for bad in [
            "http://[::1]evil.example",
            "http://localhost.evil.example",
            "http://localhost:80:80",
        ] {
            assert!(!post(&single, bad), "{bad}");
        }
    }

    #[test]
    fn default_ports_and_methods() {
        let layer = OriginCheckLayer::new(&[], false);
        let req = |method: Method, host: &str, origin: &str| {
            layer.accepts(&request(method, &[("host", host), ("origin", origin)]))
        };
        assert!(req(
            Method::POST,
            "chat.example.com",
            "https://chat.example.com"
        ));
        assert!(req(
            Method::POST,
            "chat.example.com:443",
            "https://chat.example.com"
        ));
        assert!(req(
            Method::POST,
            "chat.example.com",
            "http://chat.example.com:80"
        ));
        assert!(!req(
            Method::POST,
            "chat.example.com:80",
            "https://chat.example.com"
        ));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(
                !req(method.clone(), "a.example", "https://evil.example"),
                "{method}"
            );
        }
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(
                req(method.clone(), "a.example", "https://evil.example"),
                "{method}"
            );
        }
        // No Origin: not a browser acting for a page.
        assert!(layer.accepts(&request(Method::POST, &[("host", "a.example")])));
        // Two Host headers: no own origin to compare with.
        assert!(!layer.accepts(&request(
            Method::POST,
            &[
                ("host", "a.example"),
                ("host", "a.example"),
                ("origin", "http://a.example")
            ],
        )));
    }

    #[test]
    fn sec_fetch_site() {
        let layer = OriginCheckLayer::new(&["https://chat.example.com".into()], true);
        let req = |site: &str, origin: &str| {
            layer.accepts(&request(
                Method::POST,
                &[
                    ("host", "localhost:3000"),
                    ("sec-fetch-site", site),
                    ("origin", origin),
                ],
            ))
        };
        // Listed: the operator's choice, even from another site.
        assert!(req("cross-site", "https://chat.example.com"));
        assert!(!req("Cross-Site", "http://localhost:3000"));
        assert!(req("same-origin", "http://localhost:3000"));
        assert!(req("same-site", "http://dev.localhost:5173"));
        assert!(!req("same-site", "https://evil.example"));
        assert!(req("none", "http://localhost:3000"));
        assert!(!layer.accepts(&request(
            Method::DELETE,
            &[("sec-fetch-site", "cross-site")],
        )));
    }
}
