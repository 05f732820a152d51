//! HS256 tokens with nanoClaw's claims, interoperable with PyJWT.
//!
//! Compact JWS by hand (RFC 7515/7519), because it is one signature algorithm and this is the
//! hot path of every authenticated request: the HMAC key schedule is computed once, the
//! signature is checked before anything is parsed, and header and claims are each decoded and
//! parsed once. (`jsonwebtoken` re-keys the HMAC and parses the claims twice per token; that
//! was a quarter of an authenticated request's CPU time.) The tests check the result against
//! `jsonwebtoken` and the integration suite against PyJWT.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::token_memo::TokenMemo;
use crate::user::User;

/// Token claims. `user_id`, `username`, `role` and `exp` are nanoClaw's; `iat` and `ver` are
/// ours (PyJWT ignores unknown claims; tokens without `ver` count as version 0).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user's id.
    pub user_id: i64,
    /// Username at issue time (informational; the database row is authoritative).
    #[serde(default)]
    pub username: String,
    /// Role at issue time (informational).
    #[serde(default)]
    pub role: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not valid before, Unix seconds (never issued by us; honoured when present, as PyJWT does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The user's token version at issue time; a password change bumps the stored version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i64>,
    /// The server-side session this token belongs to (absent in tokens of the original).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// What authentication reads from a verified token: the claims that decide who the caller is
/// and whether the token still counts. `username` and `role` are skipped unread (the database
/// row is authoritative), so parsing allocates only for a session id.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TokenClaims {
    /// The user's id.
    pub user_id: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Not valid before, Unix seconds.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// The user's token version at issue time.
    #[serde(default)]
    pub ver: Option<i64>,
    /// The server-side session this token belongs to.
    #[serde(default)]
    pub jti: Option<String>,
}

impl TokenClaims {
    /// The token version this token was issued under (0 for tokens minted without one).
    pub fn version(&self) -> i64 {
        self.ver.unwrap_or(0)
    }
}

/// Token could not be issued.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign token: {0}")]
pub struct IssueError(#[from] serde_json::Error);

/// The JOSE header of every token we issue, as PyJWT writes it.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
/// Longest token accepted (ours are about 300 bytes); bounds the work a junk header causes.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// An HMAC-SHA256 tag.
const TAG_LEN: usize = 32;
/// Claims up to this size (decoded) are decoded on the stack; ours are about 200 bytes.
const STACK_CLAIMS: usize = 512;

/// The only header field we look at; unknown fields are ignored, as in PyJWT.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
}

/// Signing and verification for one secret. Rules: HS256 only, `exp` required, no leeway: a
/// token is dead from its `exp` second on, as in PyJWT; `nbf`, when present, is honoured.
#[derive(Clone)]
pub struct JwtKeys {
    /// HMAC keyed with the secret, cloned per token (the key schedule is done once).
    mac: Hmac<Sha256>,
    /// `HEADER_JSON`, base64url-encoded.
    header_b64: String,
    expiry_secs: i64,
    /// Tokens verified before (shared by clones: they hold the same key).
    memo: Arc<TokenMemo>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("expiry_secs", &self.expiry_secs)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Keys for `secret`; tokens live `expiry_secs`.
    pub fn new(secret: &[u8], expiry_secs: u64) -> Self {
        // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        Self {
            mac,
            header_b64: URL_SAFE_NO_PAD.encode(HEADER_JSON),
            expiry_secs: i64::try_from(expiry_secs).unwrap_or(i64::MAX / 2),
            memo: Arc::default(),
        }
    }

    /// Token lifetime in seconds.
    pub fn expiry_secs(&self) -> i64 {
        self.expiry_secs
    }

    /// A token for `user` and session `jti`, valid from `now` (Unix seconds) for the
    /// configured lifetime.
    pub fn issue(&self, user: &User, jti: Option<&str>, now: i64) -> Result<String, IssueError> {
        let claims = Claims {
            user_id: user.id,
            username: user.username.clone(),
            role: user.role.clone(),
            exp: now.saturating_add(self.expiry_secs),
            iat: Some(now),
            nbf: None,
            ver: Some(user.token_version),
            jti: jti.map(str::to_owned),
        };
        Ok(self.sign(&serde_json::to_vec(&claims)?))
    }

    /// `header.payload.signature` for a JSON payload.
    fn sign(&self, payload_json: &[u8]) -> String {
        let mut token =
            String::with_capacity(self.header_b64.len() + payload_json.len() * 4 / 3 + 48);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload_json, &mut token);
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        token
    }

    /// The claims of a valid token at `now` (Unix seconds); `None` for anything forged,
    /// expired, not yet valid, malformed or not HS256.
    pub fn verify_at(&self, token: &str, now: i64) -> Option<TokenClaims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let hash = self.memo.hash(token);
        let claims = match self.memo.get(hash, token) {
            Some(claims) => claims,
            None => {
                let claims = self.check_signature_and_read(token)?;
                self.memo.put(hash, token, &claims);
                claims
            }
        };
        let live = claims.exp > now && claims.nbf.is_none_or(|nbf| nbf <= now);
        live.then_some(claims)
    }

    /// The claims of a token signed with our key, live or not; `None` for anything forged,
    /// malformed or not HS256.
    fn check_signature_and_read(&self, token: &str) -> Option<TokenClaims> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        if payload.contains('.') {
            return None;
        }
        // The signature first: nothing an attacker wrote is parsed before it checks out.
        let mut tag = [0u8; TAG_LEN];
        if URL_SAFE_NO_PAD.decode_slice(signature, &mut tag).ok()? != TAG_LEN {
            return None;
        }
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&tag).ok()?;
        // Our header and PyJWT's are the same bytes; any other one is decoded and checked.
        if header != self.header_b64 {
            let header = URL_SAFE_NO_PAD.decode(header).ok()?;
            if serde_json::from_slice::<JoseHeader<'_>>(&header).ok()?.alg != "HS256" {
                return None;
            }
        }
        let mut stack = [0u8; STACK_CLAIMS];
        let claims: TokenClaims = match URL_SAFE_NO_PAD.decode_slice(payload, &mut stack) {
            Ok(len) => serde_json::from_slice(&stack[..len]).ok()?,
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => return None,
        };
        Some(claims)
    }

    /// [`verify_at`](Self::verify_at) the current time.
    pub fn verify(&self, token: &str) -> Option<TokenClaims> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation};

    use super::*;

    fn user() -> User {
        User {
            id: 7,
            username: "bob".into(),
            password_hash: None,
            email: None,
            avatar: None,
            role: "user".into(),
            is_active: true,
            created_at: None,
            last_login_at: None,
            token_version: 3,
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// A token signed by `jsonwebtoken` (HS256, its default header) over `claims`.
    fn hs256(secret: &[u8], claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_header() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", 3600);
        let token = keys.issue(&user(), Some("sid"), now()).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.user_id, claims.version(), claims.jti.as_deref()),
            (7, 3, Some("sid"))
        );
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
    }

    #[test]
    fn wrong_secret_expired_and_garbage_are_refused() {
        let keys = JwtKeys::new(b"secret-one-secret-one-secret-one", 3600);
        let other = JwtKeys::new(b"secret-two-secret-two-secret-two", 3600);
        let token = other.issue(&user(), None, now()).unwrap();
        assert!(keys.verify(&token).is_none());
        let old = keys.issue(&user(), None, now() - 7200).unwrap();
        assert!(keys.verify(&old).is_none());
        for junk in [
            "",
            "a.b.c",
            "Bearer x",
            "eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoxfQ.",
        ] {
            assert!(keys.verify(junk).is_none());
        }
    }

    #[test]
    fn exp_is_required_and_other_algorithms_are_refused() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, 3600);
        let no_exp = hs256(
            secret,
            serde_json::json!({"user_id": 1, "username": "a", "role": "user"}),
        );
        assert!(keys.verify(&no_exp).is_none());
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &serde_json::json!({"user_id": 1, "exp": now() + 100}),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert!(keys.verify(&hs512).is_none());
    }

    #[test]
    fn agrees_with_jsonwebtoken_both_ways() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, 3600);
        let ours = keys.issue(&user(), Some("sid-1"), now()).unwrap();
        let theirs = jsonwebtoken::decode::<Claims>(
            &ours,
            &jsonwebtoken::DecodingKey::from_secret(secret),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap()
        .claims;
        assert_eq!(read(&theirs), keys.verify(&ours).unwrap());
        assert_eq!(theirs.jti.as_deref(), Some("sid-1"));
        assert_eq!(
            (theirs.username.as_str(), theirs.role.as_str()),
            ("bob", "user")
        );
        let header = jsonwebtoken::decode_header(&ours).unwrap();
        assert_eq!(
            (header.alg, header.typ.as_deref()),
            (Algorithm::HS256, Some("JWT"))
        );

        let by_them = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &theirs,
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert_eq!(keys.verify(&by_them).unwrap(), read(&theirs));
    }

    /// What verification should read from `claims`.
    fn read(claims: &Claims) -> TokenClaims {
        TokenClaims {
            user_id: claims.user_id,
            exp: claims.exp,
            nbf: claims.nbf,
            ver: claims.ver,
            jti: claims.jti.clone(),
        }
    }

    #[test]
    fn foreign_headers_and_long_claims_are_read() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, 3600);
        // Another header spelling (kid, no typ) and claims too long for the stack buffer.
        let mut header = Header::new(Algorithm::HS256);
        header.typ = None;
        header.kid = Some("k1".into());
        let long = "x".repeat(2 * STACK_CLAIMS);
        let token = jsonwebtoken::encode(
            &header,
            &serde_json::json!({"user_id": 5, "username": long, "exp": now() + 100, "ver": 2}),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert_ne!(token.split('.').next(), Some(keys.header_b64.as_str()));
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.user_id, claims.version()), (5, 2));
        // A payload that is not base64 at all, correctly signed, is refused.
        let bad = keys.sign(b"{}");
        let (head, rest) = bad.split_once('.').unwrap();
        let mut mac = keys.mac.clone();
        let forged_payload = format!("{head}.!!!!");
        mac.update(forged_payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        assert!(!rest.is_empty());
        assert!(keys.verify(&format!("{forged_payload}.{tag}")).is_none());
    }

    #[test]
    fn expiry_is_exclusive_and_not_before_is_honoured() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, 100);
        let token = keys.issue(&user(), None, 1_000).unwrap();
        assert!(keys.verify_at(&token, 1_099).is_some());
        // PyJWT: expired once exp <= now.
        assert!(keys.verify_at(&token, 1_100).is_none());
        let early = hs256(
            secret,
            serde_json::json!({"user_id": 1, "exp": 2_000, "nbf": 1_500}),
        );
        assert!(keys.verify_at(&early, 1_499).is_none());
        assert!(keys.verify_at(&early, 1_500).is_some());
    }

    #[test]
    fn tampering_is_refused() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", 3600);
        let token = keys.issue(&user(), None, now()).unwrap();
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let (header, _) = signed.split_once('.').unwrap();
        let admin = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"user_id":1,"role":"admin","exp":{}}}"#,
            now() + 100
        ));
        for forged in [
            format!("{header}.{admin}.{signature}"),
            format!("{token}.{signature}"),
            format!("{signed}.{signature}="),
            format!("{signed}.{}", &signature[1..]),
            format!("{signed}."),
            signed.to_owned(),
            format!(
                "{}.{signed}.{signature}",
                URL_SAFE_NO_PAD.encode(HEADER_JSON)
            ),
        ] {
            assert!(keys.verify(&forged).is_none(), "{forged}");
        }
        assert!(keys.verify(&token).is_some());
    }

    /// A token verified before is answered from the memo, and the memo changes nothing:
    /// liveness is still checked at each use, and tampered variants are still refused.
    #[test]
    fn remembered_tokens_follow_the_same_rules() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, 100);
        let token = keys.issue(&user(), Some("sid"), 1_000).unwrap();
        let first = keys.verify_at(&token, 1_050).unwrap();
        assert_eq!(keys.memo.len(), 1);
        assert_eq!(keys.verify_at(&token, 1_050), Some(first));
        assert!(
            keys.verify_at(&token, 1_100).is_none(),
            "expired while remembered"
        );
        let (signed, signature) = token.rsplit_once('.').unwrap();
        assert!(
            keys.verify_at(&format!("{signed}.{}", &signature[1..]), 1_050)
                .is_none()
        );
        assert!(keys.verify_at(&format!("{token}x"), 1_050).is_none());
        assert_eq!(keys.memo.len(), 1, "refused tokens are not remembered");

        let early = hs256(
            secret,
            serde_json::json!({"user_id": 1, "exp": 2_000, "nbf": 1_500}),
        );
        assert!(keys.verify_at(&early, 1_500).is_some());
        assert!(
            keys.verify_at(&early, 1_499).is_none(),
            "not yet valid while remembered"
        );

        // Another key never answers from this key's memo.
        let other = JwtKeys::new(b"another-secret-another-secret-00", 100);
        assert!(other.verify_at(&token, 1_050).is_none());
    }

    #[test]
    fn token_without_our_claims_is_version_zero() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, 3600);
        let pyjwt_like = hs256(
            secret,
            serde_json::json!({"user_id": 1, "username": "a", "role": "user", "exp": now() + 100}),
        );
        assert_eq!(keys.verify(&pyjwt_like).unwrap().version(), 0);
    }
}
