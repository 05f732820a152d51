//! Single mode's DNS-rebinding guard: requests must name this server in `Host` (a loopback
//! name, `backend_host` or one of `allowed_hosts`); anything else is refused with 403.
//!
//! A tower layer around the whole router rather than `axum::middleware::from_fn` on each
//! route, which boxes and clones the rest of the route for every request; the check itself
//! allocates nothing. Paths it is told to exempt (the health probes) pass unchecked.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::HOST;

use crate::error::AppError;
use crate::http::guard::Check;

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
        let Some(name) = host_name(host_header.trim()) else {
            return false;
        };
        let name = name.trim_end_matches('.');
        is_localhost_name(name) || self.0.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// The name in a `host[:port]` authority (an IPv6 address without its brackets), or `None`
/// when it is malformed: anything after `]` but `:port`, a second `:`, an empty or non-digit
/// port, or an unbracketed IPv6 address.
pub fn host_name(authority: &str) -> Option<&str> {
    let (name, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (name, port)
    } else {
        match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (port_ok && !name.is_empty()).then_some(name)
}

/// `localhost`, a name under `.localhost`, or a loopback address (compared case-insensitively,
/// without a trailing dot).
pub fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    is_localhost_name(name) || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_localhost_name(name: &str) -> bool {
    let tail = |suffix: &str| {
        name.len()
            .checked_sub(suffix.len())
            .and_then(|at| name.get(at..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
    };
    name.eq_ignore_ascii_case("localhost")
        || (tail(".localhost") && name.len() > ".localhost".len())
}

/// The host the request was sent to: its one `Host` header, or (HTTP/2, no `Host`) the
/// authority of its URI. `None` when there is neither, or more than one `Host`.
pub fn request_host(req: &Request) -> Option<&str> {
    let mut hosts = req.headers().get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().ok(),
        (None, _) => req.uri().authority().map(|a| a.as_str()),
        (Some(_), Some(_)) => None,
    }
}

/// The layer: refuses requests whose `Host` is missing, repeated, malformed or names another
/// server (as does an absolute request URI naming another server).
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

    fn accepts(&self, req: &Request) -> bool {
        let host_ok = request_host(req).is_some_and(|h| self.allowed.allows(h));
        // HTTP/1 absolute-form (`POST http://other/… HTTP/1.1`): the URI names the target too.
        let uri_ok = req
            .uri()
            .authority()
            .is_none_or(|a| self.allowed.allows(a.as_str()));
        host_ok && uri_ok
    }
}

impl Check for HostCheckLayer {
    fn check(&self, req: &Request) -> Result<(), AppError> {
        if self.accepts(req) || self.exempt.iter().any(|p| p == req.uri().path()) {
            Ok(())
        } else {
            Err(AppError::Forbidden("Host not allowed".into()))
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
            "[::1]",
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
            ".localhost",
            "",
        ] {
            assert!(!a.allows(bad), "{bad}");
        }
        assert!(AllowedHosts::new("192.168.1.5", &[]).allows("192.168.1.5:3000"));
    }

    #[test]
    fn malformed_host_values_are_refused() {
        let a = AllowedHosts::new("127.0.0.1", &["chat.lan".into()]);
        for bad in [
            "[::1]evil.example",
            "[::1].evil.example",
            "[::1]:80evil",
            "[::1]:",
            "[::1",
            "[::1]]",
            "::1",
            "localhost:80:80",
            "localhost:",
            "localhost:http",
            "localhost:+80",
            "localhost: 80",
            "chat.lan:-1",
            ":80",
            "[]:80",
            "user@localhost",
        ] {
            assert!(!a.allows(bad), "{bad}");
        }
    }

    #[test]
    fn host_names_and_loopback() {
        assert_eq!(host_name("[::1]:8080"), Some("::1"));
        assert_eq!(host_name("Example.COM:1"), Some("Example.COM"));
        assert_eq!(host_name("example.com"), Some("example.com"));
        assert_eq!(host_name("example.com:"), None);
        for ok in [
            "localhost",
            "dev.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
        ] {
            assert!(is_loopback_name(ok), "{ok}");
        }
        for bad in [
            "localhost.evil",
            "10.0.0.1",
            "::2",
            "evil-localhost",
            ".localhost",
        ] {
            assert!(!is_loopback_name(bad), "{bad}");
        }
    }
}
