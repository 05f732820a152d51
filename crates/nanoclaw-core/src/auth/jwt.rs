//! HS256 tokens with nanoClaw's claims, interoperable with PyJWT.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
    /// The user's token version at issue time; a password change bumps the stored version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i64>,
    /// The server-side session this token belongs to (absent in tokens of the original).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Claims {
    /// The token version this token was issued under (0 for tokens minted without one).
    pub fn version(&self) -> i64 {
        self.ver.unwrap_or(0)
    }
}

/// Token could not be issued.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign token: {0}")]
pub struct IssueError(#[from] jsonwebtoken::errors::Error);

/// Signing and verification keys plus the validation rules (HS256 only, `exp` required,
/// no leeway: a token is dead from its `exp` second on, as in PyJWT).
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    header: Header,
    expiry_secs: i64,
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
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // PyJWT rejects `exp <= now`; jsonwebtoken rejects `exp - this < now`, so 1 matches.
        validation.reject_tokens_expiring_in_less_than = 1;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.required_spec_claims = ["exp".to_owned()].into_iter().collect();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            header: Header::new(Algorithm::HS256),
            expiry_secs: i64::try_from(expiry_secs).unwrap_or(i64::MAX / 2),
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
            ver: Some(user.token_version),
            jti: jti.map(str::to_owned),
        };
        Ok(jsonwebtoken::encode(&self.header, &claims, &self.encoding)?)
    }

    /// The claims of a valid token; `None` for anything forged, expired, malformed or not HS256.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn round_trip_and_header() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", 3600);
        let token = keys.issue(&user(), Some("sid"), now()).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.user_id, claims.version(), claims.role.as_str()),
            (7, 3, "user")
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
        let no_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"user_id": 1, "username": "a", "role": "user"}),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
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
    fn token_without_our_claims_is_version_zero() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret, 3600);
        let pyjwt_like = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"user_id": 1, "username": "a", "role": "user", "exp": now() + 100}),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert_eq!(keys.verify(&pyjwt_like).unwrap().version(), 0);
    }
}
