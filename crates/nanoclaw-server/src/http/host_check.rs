//! Single mode's DNS-rebinding guard: requests must name this server in `Host` (a loopback
//! name, `backend_host` or one of `allowed_hosts`); anything else is refused with 403.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
        let name = strip_port(host_header.trim()).to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        name.ends_with(".localhost") || self.0.iter().any(|h| h == name)
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

/// The middleware. A request without `Host` (HTTP/1.0 tools) is let through: browsers, which
/// DNS rebinding needs, always send one.
pub async fn check_host(State(allowed): State<AllowedHosts>, req: Request, next: Next) -> Response {
    if let Some(host) = req.headers().get(HOST) {
        let ok = host.to_str().is_ok_and(|h| allowed.allows(h));
        if !ok {
            return AppError::Forbidden("Host not allowed".into()).into_response();
        }
    }
    next.run(req).await
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
        ] {
            assert!(a.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:3000",
            "127.0.0.1.evil.example",
            "0.0.0.0",
            "localhost.evil",
        ] {
            assert!(!a.allows(bad), "{bad}");
        }
        assert!(AllowedHosts::new("192.168.1.5", &[]).allows("192.168.1.5:3000"));
    }
}
