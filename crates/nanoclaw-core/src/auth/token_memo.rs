//! Tokens whose signature was already checked, with their claims, so that a client's next
//! requests skip jsonwebtoken altogether: no HMAC, no base64, no JSON parse.
//!
//! Only what never changes for a token is remembered: that its signature is good under this
//! process's key, and what its claims say. Liveness (`exp`, `nbf`, `iat`) is checked against the
//! clock on every use, and revocation (sessions, token versions, disabled users) is decided by
//! the caller from the database rows, exactly as for a token seen for the first time.
//!
//! An entry is found by a seeded hash of the token and then the whole token is compared
//! without an early exit, so the memo answers only for the exact bytes that were verified and
//! the time of a miss says nothing about how much of a remembered token a guess got right.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::RwLock;

use subtle::ConstantTimeEq;

use super::jwt::TokenClaims;

/// Tokens remembered before the memo is emptied: bounds its memory (under 1 MB with our
/// 300-byte tokens) whatever clients send; only tokens signed with our key get in.
const MAX_TOKENS: usize = 2048;

/// Map from a token's hash to the token and its claims.
#[derive(Default)]
pub(super) struct TokenMemo {
    hasher: foldhash::fast::RandomState,
    map: RwLock<HashMap<u64, Entry, foldhash::fast::RandomState>>,
}

struct Entry {
    token: Box<str>,
    claims: TokenClaims,
}

impl TokenMemo {
    /// The hash `get` and `put` take (computed once per token).
    pub(super) fn hash(&self, token: &str) -> u64 {
        self.hasher.hash_one(token)
    }

    /// The claims of `token` if it was verified before.
    pub(super) fn get(&self, hash: u64, token: &str) -> Option<TokenClaims> {
        let map = self.map.read().ok()?;
        let entry = map.get(&hash)?;
        same_bytes(entry.token.as_bytes(), token.as_bytes()).then(|| entry.claims.clone())
    }

    /// Remembers a token whose signature checked out.
    pub(super) fn put(&self, hash: u64, token: &str, claims: &TokenClaims) {
        let Ok(mut map) = self.map.write() else {
            return;
        };
        if map.len() >= MAX_TOKENS {
            map.clear();
        }
        map.insert(
            hash,
            Entry {
                token: token.into(),
                claims: claims.clone(),
            },
        );
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }
}

/// Equality whose time depends on the length only: the differences of all words are OR-ed
/// together and looked at once. (`subtle`'s slice `ct_eq` passes every byte through an
/// optimisation barrier, which made it the costliest step of a remembered token's check.)
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_tail) = a.as_chunks::<8>();
    let (b_words, b_tail) = b.as_chunks::<8>();
    let mut diff = a_words.iter().zip(b_words).fold(0u64, |acc, (x, y)| {
        acc | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    });
    for (x, y) in a_tail.iter().zip(b_tail) {
        diff |= u64::from(x ^ y);
    }
    bool::from(diff.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(user_id: i64) -> TokenClaims {
        TokenClaims {
            user_id,
            exp: 10,
            nbf: None,
            iat: None,
            ver: None,
            jti: Some("sid".into()),
            aud: None,
        }
    }

    #[test]
    fn answers_only_for_the_exact_token() {
        let memo = TokenMemo::default();
        let token = "aaa.bbb.ccc";
        memo.put(memo.hash(token), token, &claims(1));
        assert_eq!(memo.get(memo.hash(token), token), Some(claims(1)));
        // Same hash slot, other bytes (as after a 64-bit collision): no answer.
        assert_eq!(memo.get(memo.hash(token), "aaa.bbb.ccd"), None);
        assert_eq!(memo.get(memo.hash("aaa.bbb.cc"), "aaa.bbb.cc"), None);
    }

    #[test]
    fn byte_comparison() {
        for (a, b, same) in [
            ("", "", true),
            ("abc", "abc", true),
            ("abc", "abd", false),
            ("abc", "ab", false),
            ("0123456789abcdef0", "0123456789abcdef0", true),
            ("0123456789abcdef0", "0123456789abcdef1", false),
            ("x123456789abcdef0", "0123456789abcdef0", false),
        ] {
            assert_eq!(same_bytes(a.as_bytes(), b.as_bytes()), same, "{a} {b}");
        }
    }

    #[test]
    fn is_bounded() {
        let memo = TokenMemo::default();
        for i in 0..MAX_TOKENS * 2 + 1 {
            let token = format!("t{i}");
            memo.put(memo.hash(&token), &token, &claims(1));
            assert!(memo.len() <= MAX_TOKENS);
        }
    }
}
