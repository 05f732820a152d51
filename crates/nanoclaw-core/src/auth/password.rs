//! Password hashing: argon2id for new hashes, Werkzeug hashes verified for imported accounts.
//!
//! Stored forms [`verify`] reads:
//! - an argon2 PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), our own;
//! - a Werkzeug hash (`pbkdf2:sha256:N$salt$hex`, `scrypt:N:r:p$salt$hex`), as the original
//!   nanoClaw stored it;
//! - a wrapped Werkzeug hash, `$nanoclaw-wrapped$<method>$<salt>$<argon2id PHC>`, written by
//!   [`wrap_legacy`] at import: the inner PHC is argon2id over the lowercase hex of the Werkzeug
//!   digest. Checking it runs the Werkzeug derivation and then argon2id, so every account's
//!   login costs an argon2id whatever its origin, and the database no longer holds a digest
//!   crackable at PBKDF2 speed. The prefix cannot be taken for either other form: argon2 PHC
//!   strings start with `$argon2`, Werkzeug's with `pbkdf2`/`scrypt`, and the Werkzeug method
//!   and salt contain no `$`.
//!
//! Cost parameters read from a stored hash are bounded (argon2 here, Werkzeug in `werkzeug`):
//! a hostile row must not pin a core or eat memory; beyond the bounds a hash is "Invalid"
//! without running anything.
//!
//! All functions are CPU- and memory-heavy and blocking: call them off the async runtime.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use super::werkzeug;

/// Prefix of a wrapped legacy hash (see the module doc).
const WRAPPED_PREFIX: &str = "$nanoclaw-wrapped$";
/// Largest argon2 memory cost accepted from a stored hash, in KiB (256 MiB).
const MAX_ARGON2_M_COST: u32 = 256 * 1024;
/// Largest argon2 time cost accepted from a stored hash.
const MAX_ARGON2_T_COST: u32 = 16;
/// Largest argon2 parallelism accepted from a stored hash.
const MAX_ARGON2_P_COST: u32 = 16;

/// Hashing failed (only on an internal error of the RNG or the algorithm).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right and the hash is current.
    Valid,
    /// The password is right but the hash is legacy or weaker than today's: store a new one.
    ValidNeedsRehash,
    /// Wrong password, or a hash we cannot read.
    Invalid,
}

impl Verification {
    /// True when the password was right.
    pub fn is_valid(self) -> bool {
        !matches!(self, Verification::Invalid)
    }
}

/// argon2id with the crate defaults, which are OWASP's recommendation (19 MiB, t=2, p=1).
fn hasher() -> Argon2<'static> {
    Argon2::default()
}

/// A new argon2id PHC string for `password`.
pub fn hash(password: &str) -> Result<String, HashError> {
    hash_bytes(password.as_bytes())
}

fn hash_bytes(secret: &[u8]) -> Result<String, HashError> {
    hasher()
        .hash_password(secret)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Checks `password` against `stored` (argon2 PHC string, wrapped legacy hash or Werkzeug
/// hash).
pub fn verify(password: &str, stored: &str) -> Verification {
    if stored.starts_with("$argon2") {
        match verify_argon2(password.as_bytes(), stored) {
            Some(true) if is_current_argon2(stored) => Verification::Valid,
            Some(true) => Verification::ValidNeedsRehash,
            _ => Verification::Invalid,
        }
    } else if let Some(wrapped) = stored.strip_prefix(WRAPPED_PREFIX) {
        // Right password: still store a plain argon2id hash, one step less at each login.
        if verify_wrapped(password, wrapped) {
            Verification::ValidNeedsRehash
        } else {
            Verification::Invalid
        }
    } else if werkzeug::is_werkzeug_hash(stored) {
        if werkzeug::verify(password, stored) {
            Verification::ValidNeedsRehash
        } else {
            Verification::Invalid
        }
    } else {
        Verification::Invalid
    }
}

/// A Werkzeug hash (`method$salt$hexdigest`) wrapped in argon2id for storage (see the module
/// doc); `None` for anything that is not a readable Werkzeug hash with its method's digest
/// length (the caller keeps such a value as it is), or if hashing fails.
pub fn wrap_legacy(stored: &str) -> Option<String> {
    if !werkzeug::is_werkzeug_hash(stored) {
        return None;
    }
    let (method, salt, hex_digest) = werkzeug::split(stored)?;
    let parsed = werkzeug::Method::parse(method)?;
    let digest = hex::decode(hex_digest).ok()?;
    // The wrapped form records no length: only the length Werkzeug always writes is wrapped.
    if digest.len() != parsed.natural_len() || salt.contains('$') {
        return None;
    }
    let inner = hash_bytes(hex::encode(digest).as_bytes()).ok()?;
    Some(format!("{WRAPPED_PREFIX}{method}${salt}${inner}"))
}

/// Checks `password` against the part of a wrapped hash after the prefix.
fn verify_wrapped(password: &str, wrapped: &str) -> bool {
    let Some((method, salt, inner)) = werkzeug::split(wrapped) else {
        return false;
    };
    if !inner.starts_with("$argon2id$") {
        return false;
    }
    // The argon2 bounds first: a hostile inner hash costs nothing, not even the PBKDF2.
    if argon2_params_within_bounds(inner).is_none() {
        return false;
    }
    let Some(parsed) = werkzeug::Method::parse(method) else {
        return false;
    };
    let Some(digest) = werkzeug::derive(password, method, salt, parsed.natural_len()) else {
        return false;
    };
    verify_argon2(hex::encode(digest).as_bytes(), inner) == Some(true)
}

/// The parsed hash when its cost parameters are within the bounds; `None` otherwise.
fn argon2_params_within_bounds(stored: &str) -> Option<PasswordHash> {
    let parsed = PasswordHash::new(stored).ok()?;
    let params = argon2::Params::try_from(&parsed).ok()?;
    (params.m_cost() <= MAX_ARGON2_M_COST
        && params.t_cost() <= MAX_ARGON2_T_COST
        && params.p_cost() <= MAX_ARGON2_P_COST)
        .then_some(parsed)
}

/// `Some(matches)` for a readable argon2 hash within the bounds, `None` otherwise.
fn verify_argon2(secret: &[u8], stored: &str) -> Option<bool> {
    let parsed = argon2_params_within_bounds(stored)?;
    Some(hasher().verify_password(secret, &parsed).is_ok())
}

/// True when an argon2 hash is argon2id with at least today's cost.
fn is_current_argon2(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let defaults = argon2::Params::default();
    parsed.algorithm.as_str() == "argon2id"
        && params.m_cost() >= defaults.m_cost()
        && params.t_cost() >= defaults.t_cost()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const LEGACY: &str = "pbkdf2:sha256:1000$txpOCPBH2F71N1RH$3c838a85a60b2bde6a32c964f4b02c73cd754bd058de21da2de2bbf6fb23cd14";

    #[test]
    fn argon2id_round_trip() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(verify("correct horse battery", &h), Verification::Valid);
        assert_eq!(verify("correct horse batter", &h), Verification::Invalid);
    }

    #[test]
    fn weak_argon2_and_legacy_hashes_ask_for_rehash() {
        let weak = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        assert_eq!(verify("pw", &weak), Verification::ValidNeedsRehash);
        assert_eq!(
            verify("correct horse", LEGACY),
            Verification::ValidNeedsRehash
        );
        assert_eq!(verify("wrong", LEGACY), Verification::Invalid);
    }

    #[test]
    fn unknown_formats_are_invalid() {
        assert_eq!(verify("pw", ""), Verification::Invalid);
        assert_eq!(verify("pw", "pw"), Verification::Invalid);
        assert_eq!(
            verify("pw", "$2b$12$abcdefghijklmnopqrstuv"),
            Verification::Invalid
        );
    }

    /// Far below what a hostile cost would take, far above a parse, even on a loaded machine.
    const FAST: Duration = Duration::from_millis(500);

    /// A syntactically valid argon2id PHC string with the given cost (salt and hash made up).
    fn phc(m: u32, t: u32, p: u32) -> String {
        format!(
            "$argon2id$v=19$m={m},t={t},p={p}$c29tZXNhbHRzb21lc2FsdA$ZnJvbS1hLWhvc3RpbGUtcm93LWluLXRoZS1kYXRhYmFzZQ"
        )
    }

    #[test]
    fn argon2_cost_beyond_the_bounds_is_invalid_without_running() {
        for hostile in [
            phc(4 * 1024 * 1024, 2, 1),
            phc(MAX_ARGON2_M_COST + 1, 1, 1),
            phc(19456, 10_000, 1),
            phc(19456, MAX_ARGON2_T_COST + 1, 1),
            phc(19456, 2, 255),
            phc(19456, 2, MAX_ARGON2_P_COST + 1),
        ] {
            let started = Instant::now();
            assert_eq!(verify("pw", &hostile), Verification::Invalid, "{hostile}");
            assert!(
                started.elapsed() < FAST,
                "{hostile} took {:?}",
                started.elapsed()
            );
        }
        // Within the bounds the same shape is read and simply does not match.
        assert!(argon2_params_within_bounds(&phc(19456, 2, 1)).is_some());
        assert_eq!(verify("pw", &phc(1024, 1, 1)), Verification::Invalid);
    }

    #[test]
    fn wrapped_legacy_hashes_verify_through_werkzeug_and_argon2id() {
        let wrapped = wrap_legacy(LEGACY).unwrap();
        assert!(
            wrapped.starts_with("$nanoclaw-wrapped$pbkdf2:sha256:1000$txpOCPBH2F71N1RH$$argon2id$"),
            "{wrapped}"
        );
        // The digest itself is not stored.
        assert!(!wrapped.contains("3c838a85a60b2bde"));
        assert_eq!(
            verify("correct horse", &wrapped),
            Verification::ValidNeedsRehash
        );
        assert_eq!(verify("correct horsf", &wrapped), Verification::Invalid);
        // Every fixture method wraps and verifies.
        let text = include_str!("../../tests/fixtures/werkzeug_hashes.json");
        let fixture: serde_json::Value = serde_json::from_str(text).unwrap();
        let methods = [
            "pbkdf2:sha256:1000",
            "pbkdf2:sha512:1000",
            "scrypt:1024:8:1",
        ];
        for v in fixture["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| methods.contains(&v["method"].as_str().unwrap()))
        {
            let (password, stored) = (v["password"].as_str().unwrap(), v["hash"].as_str().unwrap());
            let wrapped = wrap_legacy(stored).unwrap();
            assert_eq!(
                verify(password, &wrapped),
                Verification::ValidNeedsRehash,
                "{stored}"
            );
        }
    }

    #[test]
    fn only_werkzeug_hashes_are_wrapped() {
        let argon = hash("pw").unwrap();
        for other in [
            "",
            "pw",
            argon.as_str(),
            "$2b$12$abcdefghijklmnopqrstuv",
            "pbkdf2:sha256:1000$salt",
            "pbkdf2:sha256:1000$salt$zz",
            "pbkdf2:md5:1000$salt$00",
            "pbkdf2:sha256:1000$salt$00",
            "pbkdf2:sha256:999999999999$salt$00",
        ] {
            assert_eq!(wrap_legacy(other), None, "{other}");
        }
        let wrapped = wrap_legacy(LEGACY).unwrap();
        assert_eq!(wrap_legacy(&wrapped), None, "wrapping twice");
    }

    #[test]
    fn bounds_apply_inside_wrapped_hashes() {
        for (method, inner) in [
            ("pbkdf2:sha256:1000", phc(MAX_ARGON2_M_COST + 1, 2, 1)),
            ("pbkdf2:sha256:1000", phc(19456, MAX_ARGON2_T_COST + 1, 1)),
            // Werkzeug's own bound: never runs 10^9 PBKDF2 rounds.
            ("pbkdf2:sha256:1000000000", phc(19456, 2, 1)),
            ("scrypt:1073741824:8:1", phc(19456, 2, 1)),
        ] {
            let stored = format!("{WRAPPED_PREFIX}{method}$salt${inner}");
            let started = Instant::now();
            assert_eq!(verify("pw", &stored), Verification::Invalid, "{stored}");
            assert!(started.elapsed() < FAST, "{stored}");
        }
        // A wrapped form whose inner hash is not argon2id is refused.
        let inner = wrap_legacy(LEGACY)
            .unwrap()
            .replace("$argon2id$", "$argon2i$");
        assert_eq!(verify("correct horse", &inner), Verification::Invalid);
    }
}
