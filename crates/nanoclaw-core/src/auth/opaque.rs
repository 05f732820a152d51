//! Opaque secrets (API keys, password-reset tokens): random, shown once, stored as SHA-256.

use sha2::{Digest, Sha256};

/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "nck_";
/// Prefix of password-reset tokens.
pub const RESET_TOKEN_PREFIX: &str = "ncr_";
/// Characters of an API key shown in listings (`nck_` plus 8).
pub const VISIBLE_CHARS: usize = 12;

/// A new secret: `prefix` followed by 256 random bits in hex.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// SHA-256 of the secret, hex. A plain hash suffices: the secret has 256 random bits, so
/// there is nothing to brute-force, and lookups stay one indexed read.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The part of a key that listings show.
pub fn visible_part(secret: &str) -> String {
    secret.chars().take(VISIBLE_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_hash_stably() {
        let a = new_secret(API_KEY_PREFIX);
        let b = new_secret(API_KEY_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("nck_") && a.len() == 4 + 64);
        assert_eq!(digest(&a), digest(&a));
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(visible_part(&a).len(), 12);
    }
}
