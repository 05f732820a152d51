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

/// True when `stored` looks like a Werkzeug hash this module understands.
pub fn is_werkzeug_hash(stored: &str) -> bool {
    stored.starts_with("pbkdf2") || stored.starts_with("scrypt")
}

/// Checks `password` against a Werkzeug hash; any malformed hash is simply "no match".
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.splitn(3, '$');
    let (Some(method), Some(salt), Some(hex_digest)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    if expected.is_empty() || expected.len() > 256 {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let mut fields = method.split(':');
    let computed = match fields.next() {
        Some("pbkdf2") => {
            let hash = fields.next().unwrap_or("sha256");
            let iterations = match fields.next().map(str::parse::<u32>) {
                None => DEFAULT_PBKDF2_ITERATIONS,
                Some(Ok(n)) if (1..=MAX_PBKDF2_ITERATIONS).contains(&n) => n,
                Some(_) => return false,
            };
            match hash {
                "sha256" => pbkdf2::pbkdf2_hmac::<Sha256>(
                    password.as_bytes(),
                    salt.as_bytes(),
                    iterations,
                    &mut out,
                ),
                "sha512" => pbkdf2::pbkdf2_hmac::<Sha512>(
                    password.as_bytes(),
                    salt.as_bytes(),
                    iterations,
                    &mut out,
                ),
                _ => return false,
            }
            true
        }
        Some("scrypt") => {
            let mut num = |default: u64| match fields.next().map(str::parse::<u64>) {
                None => Some(default),
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => None,
            };
            let (Some(n), Some(r), Some(p)) = (num(32768), num(8), num(1)) else {
                return false;
            };
            scrypt_into(password, salt, n, r, p, &mut out)
        }
        _ => false,
    };
    computed && bool::from(out.ct_eq(&expected))
}

fn scrypt_into(password: &str, salt: &str, n: u64, r: u64, p: u64, out: &mut [u8]) -> bool {
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || p > 16 {
        return false;
    }
    if 128u64.saturating_mul(r).saturating_mul(n) > MAX_SCRYPT_MEMORY {
        return false;
    }
    let (Ok(log_n), Ok(r), Ok(p)) = (
        u8::try_from(n.trailing_zeros()),
        u32::try_from(r),
        u32::try_from(p),
    ) else {
        return false;
    };
    let Ok(params) = scrypt::Params::new(log_n, r, p) else {
        return false;
    };
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, out).is_ok()
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
            "plain$$secret",
        ] {
            assert!(!verify("secret", bad), "{bad}");
        }
    }
}
