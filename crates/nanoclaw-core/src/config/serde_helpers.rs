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
                .map_err(|_| D::Error::custom("an entry is not an IP address or CIDR"))
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
            D::Error::custom("is not a socket address such as 127.0.0.1:9100 or [::1]:9100")
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

/// Writes a database URL with its credentials and parameters redacted (see [`redact_url`]).
pub fn redacted_url_opt<S: serde::Serializer>(
    value: &Option<Secret>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(url) => s.serialize_str(&redact_url(url.expose())),
        None => s.serialize_none(),
    }
}

/// Writes a URL (a model's `api_url`) with its credentials and parameters redacted.
pub fn redacted_url<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(value))
}

/// A URL fit for printing: the userinfo password, every query parameter value and the fragment
/// are `[redacted]`, because any of them may carry a credential (`?key=…`, `?password=…`,
/// `?sslpassword=…`). `scheme://user:pw@host/db?a=1&b` →
/// `scheme://user:[redacted]@host/db?a=[redacted]&[redacted]`. When an `@` comes after a `/`
/// or `?` (a password written with a raw `/` or `?`, or an `@` in the path or query), everything
/// before it is hidden: better too much than a piece of a password.
pub fn redact_url(url: &str) -> String {
    let (url, fragment) = match url.split_once('#') {
        Some((url, _)) => (url, Some(REDACTED)),
        None => (url, None),
    };
    let (prefix, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        // `sqlite:file.db` and the like carry no authority.
        None => (String::new(), url),
    };
    let (userinfo, rest) = match rest.rsplit_once('@') {
        Some((userinfo, after)) if prefix.is_empty() || userinfo.contains(['/', '?']) => {
            (Some(REDACTED.to_owned()), after)
        }
        Some((userinfo, after)) => match userinfo.split_once(':') {
            Some((user, _password)) => (Some(format!("{user}:{REDACTED}")), after),
            None => (Some(userinfo.to_owned()), after),
        },
        None => (None, rest),
    };
    let mut out = prefix;
    if let Some(userinfo) = userinfo {
        out.push_str(&userinfo);
        out.push('@');
    }
    match rest.split_once('?') {
        Some((base, query)) => {
            out.push_str(base);
            // A part without `=` is hidden too: a bare flag is rare, a secret is not.
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) => format!("{k}={REDACTED}"),
                    None if pair.is_empty() => String::new(),
                    None => REDACTED.to_owned(),
                })
                .collect();
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        None => out.push_str(rest),
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// A serde error message with the offending value left out (it may be a secret): serde's
/// `invalid type: string "hunter2", expected u16` becomes `invalid type: string, expected u16`,
/// `unknown variant `x`, expected …` becomes `unknown variant, expected …`. Messages naming keys
/// (`missing field`, `unknown field`) and our own (which carry no values) are kept.
pub fn without_value(message: &str) -> String {
    /// What serde's `Unexpected` says before the value.
    const KINDS: [&str; 16] = [
        "boolean",
        "integer",
        "floating point",
        "character",
        "string",
        "byte array",
        "unit value",
        "Option value",
        "newtype struct",
        "sequence",
        "map",
        "enum",
        "unit variant",
        "newtype variant",
        "tuple variant",
        "struct variant",
    ];
    // The expectation comes from our types; the last ", expected " is serde's own (the value
    // before it may contain that text too).
    let expected = |rest: &str| {
        rest.rfind(", expected ")
            .map_or(String::new(), |at| rest[at..].to_owned())
    };
    for head in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(head) {
            let kind = KINDS
                .iter()
                .find(|k| rest.starts_with(*k))
                .copied()
                .unwrap_or("a value");
            return format!("{head}{kind}{}", expected(rest));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        return format!("unknown variant{}", expected(rest));
    }
    message.to_owned()
}

/// Writes CIDRs as their text form.
pub fn cidr_list_text<S: serde::Serializer>(
    nets: &[ipnet::IpNet],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(nets.iter().map(ToString::to_string))
}
