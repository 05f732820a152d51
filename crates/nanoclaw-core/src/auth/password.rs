//! Password hashing: argon2id for new hashes, Werkzeug hashes verified for imported accounts.
//!
//! Both functions are CPU- and memory-heavy and blocking: call them off the async runtime.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use super::werkzeug;

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
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Checks `password` against `stored` (argon2 PHC string or Werkzeug hash).
pub fn verify(password: &str, stored: &str) -> Verification {
    if stored.starts_with("$argon2") {
        match hasher().verify_password(password.as_bytes(), stored) {
            Ok(()) if is_current_argon2(stored) => Verification::Valid,
            Ok(()) => Verification::ValidNeedsRehash,
            Err(_) => Verification::Invalid,
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

/// True when an argon2 hash is argon2id with at least today's cost.
fn is_current_argon2(stored: &str) -> bool {
    let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(stored) else {
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
    use super::*;

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
        let legacy = "pbkdf2:sha256:1000$txpOCPBH2F71N1RH$3c838a85a60b2bde6a32c964f4b02c73cd754bd058de21da2de2bbf6fb23cd14";
        assert_eq!(
            verify("correct horse", legacy),
            Verification::ValidNeedsRehash
        );
        assert_eq!(verify("wrong", legacy), Verification::Invalid);
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
}
