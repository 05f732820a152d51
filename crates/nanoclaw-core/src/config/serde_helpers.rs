//! Deserializers that accept YAML scalars of any kind where a string is meant.
//!
//! `db_password: 12345` or `NANOCLAW__JWT_SECRET=123456` parse as numbers in YAML; a user means
//! the text, so numbers and booleans are turned into strings instead of failing.

use serde::{Deserialize, Deserializer, de::Error};
use yaml_serde::Value;

use crate::secret::Secret;

fn scalar_to_string<E: Error>(value: Value) -> Result<Option<String>, E> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(E::custom("expected a string")),
    }
}

pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    scalar_to_string(Value::deserialize(d)?)?.ok_or_else(|| D::Error::custom("expected a string"))
}

pub fn lenient_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar_to_string(Value::deserialize(d)?)
}

pub fn lenient_opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(lenient_opt_string(d)?.map(Secret::new))
}

/// A list of CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`).
pub fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let items = Vec::<Value>::deserialize(d)?;
    items
        .into_iter()
        .map(|v| {
            let text = scalar_to_string::<D::Error>(v)?.unwrap_or_default();
            let text = text.trim();
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| D::Error::custom(format!("{text:?} is not an IP address or CIDR")))
        })
        .collect()
}

/// An optional socket address such as `127.0.0.1:9100` (an empty string means unset).
pub fn opt_socket_addr<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::net::SocketAddr>, D::Error> {
    match lenient_opt_string(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s.trim().parse().map(Some).map_err(|_| {
            D::Error::custom(format!(
                "{s:?} is not a socket address such as 127.0.0.1:9100 or \"[::1]:9100\""
            ))
        }),
    }
}

/// What a secret is written as by `Serialize`.
pub const REDACTED: &str = "[redacted]";

/// Writes a set secret as `[redacted]`, an unset one as null.
pub fn redacted_opt<S: serde::Serializer>(value: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str(REDACTED),
        None => s.serialize_none(),
    }
}

/// Writes a database URL with its password (and any `password=` query value) redacted.
pub fn redacted_url_opt<S: serde::Serializer>(
    value: &Option<Secret>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(url) => s.serialize_str(&redact_url(url.expose())),
        None => s.serialize_none(),
    }
}

/// `scheme://user:password@host/db?password=x` → `scheme://user:[redacted]@host/db?password=[redacted]`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // `sqlite:file.db` and the like carry no credentials.
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.to_ascii_lowercase().contains("pass") => {
                        format!("{k}={REDACTED}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
            format!("{path}?{}{fragment}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Writes CIDRs as their text form.
pub fn cidr_list_text<S: serde::Serializer>(
    nets: &[ipnet::IpNet],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(nets.iter().map(ToString::to_string))
}
