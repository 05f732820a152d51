//! Verification of Werkzeug password hashes found in databases of the original nanoClaw.
//!
//! Format: `method$salt$hexdigest` with `method` one of `pbkdf2:<hash>:<iterations>` (hash
//! `sha256`/`sha512`, digest-sized output) or `scrypt:<n>:<r>:<p>` (64-byte output). The salt is
//! used as its UTF-8 text, not decoded. Parameters Werkzeug omits take its defaults.

use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Werkzeug 3.1's default PBKDF2 iteration count (used when the method omits it).
const DEFAULT_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// Upper bounds that keep a hostile hash in the database from pinning a core.
const MAX_PBKDF2_ITERATIONS: u32 = 50_000_000;
const MAX_SCRYPT_MEMORY: u64 = 512 * 1024 * 1024;
/// Longest digest read from a stored hash (Werkzeug's are 32 or 64 bytes).
const MAX_DIGEST_LEN: usize = 256;

/// True when `stored` looks like a Werkzeug hash this module understands.
pub fn is_werkzeug_hash(stored: &str) -> bool {
    stored.starts_with("pbkdf2") || stored.starts_with("scrypt")
}

/// `method$salt$hexdigest` split into its parts; `None` unless there are three.
pub fn split(stored: &str) -> Option<(&str, &str, &str)> {
    let mut parts = stored.splitn(3, '$');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// A parsed Werkzeug method with its parameters checked against the bounds above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// PBKDF2-HMAC-SHA256 with this many iterations.
    Pbkdf2Sha256(u32),
    /// PBKDF2-HMAC-SHA512 with this many iterations.
    Pbkdf2Sha512(u32),
    /// scrypt with `log2(n)`, `r`, `p`.
    Scrypt(u8, u32, u32),
}

impl Method {
    /// Parses `pbkdf2:<hash>:<iterations>` or `scrypt:<n>:<r>:<p>` (omitted parameters take
    /// Werkzeug's defaults); `None` for anything unknown, malformed or beyond the bounds.
    pub fn parse(method: &str) -> Option<Self> {
        let mut fields = method.split(':');
        match fields.next()? {
            "pbkdf2" => {
                let hash = fields.next().unwrap_or("sha256");
                let iterations = match fields.next().map(str::parse::<u32>) {
                    None => DEFAULT_PBKDF2_ITERATIONS,
                    Some(Ok(n)) if (1..=MAX_PBKDF2_ITERATIONS).contains(&n) => n,
                    Some(_) => return None,
                };
                if fields.next().is_some() {
                    return None;
                }
                match hash {
                    "sha256" => Some(Method::Pbkdf2Sha256(iterations)),
                    "sha512" => Some(Method::Pbkdf2Sha512(iterations)),
                    _ => None,
                }
            }
            "scrypt" => {
                let mut num = |default: u64| match fields.next().map(str::parse::<u64>) {
                    None => Some(default),
                    Some(Ok(v)) => Some(v),
                    Some(Err(_)) => None,
                };
                let (n, r, p) = (num(32768)?, num(8)?, num(1)?);
                if fields.next().is_some() {
                    return None;
                }
                scrypt_params(n, r, p)
            }
            _ => None,
        }
    }

    /// The digest length Werkzeug writes for this method (the hash's size; 64 for scrypt).
    pub fn natural_len(self) -> usize {
        match self {
            Method::Pbkdf2Sha256(_) => 32,
            Method::Pbkdf2Sha512(_) | Method::Scrypt(..) => 64,
        }
    }

    /// Fills `out` with the digest of `password` under `salt` (used as its UTF-8 text).
    fn derive_into(self, password: &str, salt: &str, out: &mut [u8]) -> bool {
        let (password, salt) = (password.as_bytes(), salt.as_bytes());
        match self {
            Method::Pbkdf2Sha256(iterations) => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, out);
                true
            }
            Method::Pbkdf2Sha512(iterations) => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, out);
                true
            }
            Method::Scrypt(log_n, r, p) => scrypt::Params::new(log_n, r, p)
                .is_ok_and(|params| scrypt::scrypt(password, salt, &params, out).is_ok()),
        }
    }
}

/// The Werkzeug digest (`out_len` bytes) of `password` for `method` and `salt`; `None` for an
/// unknown or out-of-bounds method or a length outside 1..=256.
pub fn derive(password: &str, method: &str, salt: &str, out_len: usize) -> Option<Vec<u8>> {
    if !(1..=MAX_DIGEST_LEN).contains(&out_len) {
        return None;
    }
    let method = Method::parse(method)?;
    let mut out = vec![0u8; out_len];
    method.derive_into(password, salt, &mut out).then_some(out)
}

/// Checks `password` against a Werkzeug hash; any malformed hash is simply "no match".
pub fn verify(password: &str, stored: &str) -> bool {
    let Some((method, salt, hex_digest)) = split(stored) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    derive(password, method, salt, expected.len())
        .is_some_and(|computed| bool::from(computed.ct_eq(&expected)))
}

/// scrypt parameters within the bounds; `None` otherwise.
fn scrypt_params(n: u64, r: u64, p: u64) -> Option<Method> {
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || p > 16 {
        return None;
    }
    if 128u64.saturating_mul(r).saturating_mul(n) > MAX_SCRYPT_MEMORY {
        return None;
    }
    Some(Method::Scrypt(
        u8::try_from(n.trailing_zeros()).ok()?,
        u32::try_from(r).ok()?,
        u32::try_from(p).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Fixture {
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        method: String,
        password: String,
        hash: String,
    }

    fn vectors() -> Vec<Vector> {
        let text = include_str!("../../tests/fixtures/werkzeug_hashes.json");
        serde_json::from_str::<Fixture>(text).unwrap().vectors
    }

    #[test]
    fn real_werkzeug_hashes_verify() {
        for v in vectors() {
            assert!(is_werkzeug_hash(&v.hash));
            assert!(verify(&v.password, &v.hash), "{} should verify", v.method);
        }
    }

    #[test]
    fn wrong_passwords_do_not_verify() {
        for v in vectors() {
            let wrong = format!("{}x", v.password);
            assert!(
                !verify(&wrong, &v.hash),
                "{} accepted a wrong password",
                v.method
            );
        }
    }

    #[test]
    fn derive_gives_the_stored_digest() {
        for v in vectors() {
            let (method, salt, digest) = split(&v.hash).unwrap();
            let natural = Method::parse(method).unwrap().natural_len();
            assert_eq!(digest.len(), natural * 2, "{}", v.method);
            let derived = derive(&v.password, method, salt, natural).unwrap();
            assert_eq!(hex::encode(derived), digest, "{}", v.method);
        }
        assert_eq!(derive("pw", "pbkdf2:sha256:1", "s", 0), None);
        assert_eq!(derive("pw", "md5", "s", 16), None);
    }

    #[test]
    fn malformed_hashes_never_verify() {
        for bad in [
            "",
            "pbkdf2",
            "pbkdf2:sha256:1000$salt",
            "pbkdf2:sha256:1000$salt$zz",
            "pbkdf2:md5:1000$salt$00",
            "pbkdf2:sha256:0$salt$00",
            "pbkdf2:sha256:999999999999$salt$00",
            "scrypt:1000:8:1$salt$00",
            "scrypt:1073741824:8:1$salt$00",
            "scrypt:16384:8:1:9$salt$00",
            "pbkdf2:sha256:1000:9$salt$00",
            "plain$$secret",
        ] {
            assert!(!verify("secret", bad), "{bad}");
        }
    }
}
