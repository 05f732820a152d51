//! Single mode's DNS-rebinding guard: requests must name this server in `Host` (a loopback
//! name, `backend_host` or one of `allowed_hosts`); anything else is refused with 403.
//!
//! A tower layer around the whole router rather than `axum::middleware::from_fn` on each
//! route, which boxes and clones the rest of the route for every request; the check itself
//! allocates nothing. Paths it is told to exempt (the health probes) pass unchecked.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::header::HOST;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::AppError;

/// The accepted host names, lower-case, without ports.
#[derive(Clone, Debug)]
pub struct AllowedHosts(Arc<[String]>);

impl AllowedHosts {
    /// Loopback names plus `backend_host` (unless it is a wildcard address) plus `extra`.
    pub fn new(backend_host: &str, extra: &[String]) -> Self {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let own = backend_host.trim_matches(['[', ']']).to_ascii_lowercase();
        if !matches!(own.as_str(), "0.0.0.0" | "::" | "") {
            hosts.push(own);
        }
        hosts.extend(
            extra
                .iter()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase()),
        );
        Self(hosts.into())
    }

    /// True when a `Host` header value names this server.
    pub fn allows(&self, host_header: &str) -> bool {
        let name = strip_port(host_header.trim()).trim_end_matches('.');
        let sub_of_localhost = name
            .len()
            .checked_sub(".localhost".len())
            .and_then(|at| name.get(at..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"));
        sub_of_localhost || self.0.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// The layer: refuses requests whose `Host` names another server. A request without `Host`
/// (HTTP/1.0 tools) is let through: browsers, which DNS rebinding needs, always send one.
#[derive(Clone, Debug)]
pub struct HostCheckLayer {
    allowed: AllowedHosts,
    exempt: Arc<[String]>,
}

impl HostCheckLayer {
    /// A layer accepting `allowed`, not checking requests for the paths in `exempt`.
    pub fn new(allowed: AllowedHosts, exempt: impl IntoIterator<Item = String>) -> Self {
        Self {
            allowed,
            exempt: exempt.into_iter().collect(),
        }
    }
}

impl<S> Layer<S> for HostCheckLayer {
    type Service = HostCheck<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HostCheck {
            inner,
            layer: self.clone(),
        }
    }
}

/// Service of [`HostCheckLayer`].
#[derive(Clone, Debug)]
pub struct HostCheck<S> {
    inner: S,
    layer: HostCheckLayer,
}

impl<S> Service<Request> for HostCheck<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = HostCheckFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let checks = &self.layer;
        let refused = req
            .headers()
            .get(HOST)
            .is_some_and(|host| !host.to_str().is_ok_and(|h| checks.allowed.allows(h)))
            && !checks.exempt.iter().any(|p| p == req.uri().path());
        if refused {
            let response = AppError::Forbidden("Host not allowed".into()).into_response();
            HostCheckFuture::Refused {
                response: Some(response),
            }
        } else {
            HostCheckFuture::Allowed {
                future: self.inner.call(req),
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`HostCheck`].
    #[project = HostCheckProj]
    pub enum HostCheckFuture<F> {
        /// The route's own future.
        Allowed { #[pin] future: F },
        /// The 403, handed out on the first poll.
        Refused { response: Option<Response> },
    }
}

impl<F, E> Future for HostCheckFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            HostCheckProj::Allowed { future } => future.poll(cx),
            HostCheckProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| AppError::internal("polled after completion").into_response()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_configured_and_listed_names_pass() {
        let a = AllowedHosts::new("0.0.0.0", &["chat.lan".into()]);
        for ok in [
            "localhost:3000",
            "127.0.0.1",
            "[::1]:3000",
            "app.localhost",
            "CHAT.lan:80",
            "localhost.",
            "App.LOCALHOST:8080",
            "LOCALHOST",
        ] {
            assert!(a.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "0.0.0.0",
            "localhost.evil",
            "localhost.evil.",
            "xlocalhost",
            "é.localhos",
            "",
        ] {
            assert!(!a.allows(bad), "{bad}");
        }
        assert!(AllowedHosts::new("192.168.1.5", &[]).allows("192.168.1.5:3000"));
    }
}
