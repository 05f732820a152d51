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
