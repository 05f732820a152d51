//! HS256 tokens with nanoClaw's claims, interoperable with PyJWT.
//!
//! Verification goes through the maintained `jsonwebtoken` crate (HS256 only, `exp` required,
//! no leeway), behind a memo of verified tokens ([`super::token_memo`]): a client's next
//! requests with the same token skip the HMAC, the base64 and the JSON entirely, which is where
//! the speed of the hot path comes from. Liveness (`exp`, `nbf`, `iat`) is checked by us against
//! the caller's clock at every use, memo hit or not, because the memo keeps claims and because
//! [`JwtKeys::verify_at`] takes the time as an argument (jsonwebtoken reads the system clock).
//!
//! Our own rules on top of jsonwebtoken's:
//! - a header with a `crit` member is refused (RFC 7515 §4.1.6: we understand no extension;
//!   jsonwebtoken 11 parses `crit` but does not act on it);
//! - an `iat` in the future is refused (as PyJWT does);
//! - `aud`: a token naming another audience is refused; a token without `aud` is returned (tokens
//!   of the original and of earlier nanoclaw versions have none; the caller decides, see
//!   [`TokenClaims::has_audience`]); an `aud` array is refused outright (we never issue one).
//!
//! Issuing stays hand-written: one HMAC over PyJWT's exact header bytes
//! (`{"alg":"HS256","typ":"JWT"}`), with the key schedule computed once.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::token_memo::TokenMemo;
use crate::config::AuthMode;
use crate::user::User;

/// Which mode issued a token; written as its `aud` claim so that a token issued in single mode
/// is never taken for a multi-mode one, however the operator switched modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Issued by a server in single mode.
    Single,
    /// Issued by a server in multi mode.
    Multi,
}

impl Audience {
    /// The audience of tokens issued in `mode`.
    pub fn for_mode(mode: AuthMode) -> Self {
        match mode {
            AuthMode::Single => Audience::Single,
            AuthMode::Multi => Audience::Multi,
        }
    }

    /// The `aud` claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Single => "nanoclaw-single",
            Audience::Multi => "nanoclaw-multi",
        }
    }
}

/// Token claims. `user_id`, `username`, `role` and `exp` are nanoClaw's; `iat`, `ver`, `jti`
/// and `aud` are ours (PyJWT ignores unknown claims; tokens without `ver` count as version 0).
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
    /// The issuing mode's audience (absent in tokens of the original).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// What authentication reads from a verified token: the claims that decide who the caller is
/// and whether the token still counts. `username` and `role` are skipped unread (the database
/// row is authoritative).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TokenClaims {
    /// The user's id.
    pub user_id: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Not valid before, Unix seconds.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Issue time, Unix seconds.
    #[serde(default)]
    pub iat: Option<i64>,
    /// The user's token version at issue time.
    #[serde(default)]
    pub ver: Option<i64>,
    /// The server-side session this token belongs to.
    #[serde(default)]
    pub jti: Option<String>,
    /// The audience the token names; when present it is ours (others are refused).
    #[serde(default)]
    pub aud: Option<String>,
}

impl TokenClaims {
    /// The token version this token was issued under (0 for tokens minted without one).
    pub fn version(&self) -> i64 {
        self.ver.unwrap_or(0)
    }

    /// True when the token names an audience (ours: others never get this far); false for
    /// legacy tokens, which the caller accepts or not by its own rules.
    pub fn has_audience(&self) -> bool {
        self.aud.is_some()
    }

    /// Whether the token counts at `now`: before `exp` (exclusive, as PyJWT), not before
    /// `nbf`, and not issued in the future. No leeway.
    fn is_live_at(&self, now: i64) -> bool {
        self.exp > now
            && self.nbf.is_none_or(|nbf| nbf <= now)
            && self.iat.is_none_or(|iat| iat <= now)
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

/// What is built once per key and shared by clones.
struct Verifier {
    key: DecodingKey,
    validation: Validation,
    /// Tokens verified before (shared by clones: they hold the same key).
    memo: TokenMemo,
    /// Calls of jsonwebtoken, so tests can see that a memo hit makes none.
    #[cfg(test)]
    decodes: std::sync::atomic::AtomicUsize,
}

/// Signing and verification for one secret and one audience. Rules: HS256 only, `exp`
/// required, no leeway: a token is dead from its `exp` second on, as in PyJWT; `nbf` and `iat`
/// are honoured; `crit` and foreign audiences are refused.
#[derive(Clone)]
pub struct JwtKeys {
    /// HMAC keyed with the secret, cloned per issued token (the key schedule is done once).
    mac: Hmac<Sha256>,
    /// `HEADER_JSON`, base64url-encoded.
    header_b64: String,
    expiry_secs: i64,
    audience: Audience,
    verifier: Arc<Verifier>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("expiry_secs", &self.expiry_secs)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Keys for `secret`; tokens live `expiry_secs` and name `audience`.
    pub fn new(secret: &[u8], expiry_secs: u64, audience: Audience) -> Self {
        // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        // Liveness is checked by `verify_at` at the caller's `now` on every use (memo hits
        // included), not once against the system clock here.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        // A present `aud` must be ours; an absent one passes (legacy tokens, see the module doc).
        validation.validate_aud = true;
        validation.set_audience(&[audience.as_str()]);
        Self {
            mac,
            header_b64: URL_SAFE_NO_PAD.encode(HEADER_JSON),
            expiry_secs: i64::try_from(expiry_secs).unwrap_or(i64::MAX / 2),
            audience,
            verifier: Arc::new(Verifier {
                key: DecodingKey::from_secret(secret),
                validation,
                memo: TokenMemo::default(),
                #[cfg(test)]
                decodes: std::sync::atomic::AtomicUsize::new(0),
            }),
        }
    }

    /// Token lifetime in seconds.
    pub fn expiry_secs(&self) -> i64 {
        self.expiry_secs
    }

    /// The audience tokens of these keys name.
    pub fn audience(&self) -> Audience {
        self.audience
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
            aud: Some(self.audience.as_str().to_owned()),
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
    /// expired, not yet valid, issued in the future, malformed, not HS256, with `crit`, or
    /// naming another audience.
    pub fn verify_at(&self, token: &str, now: i64) -> Option<TokenClaims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let memo = &self.verifier.memo;
        let hash = memo.hash(token);
        // A hit costs a hash, a comparison and a clone: no HMAC, no base64, no JSON.
        let claims = match memo.get(hash, token) {
            Some(claims) => claims,
            None => {
                let claims = self.decode(token)?;
                memo.put(hash, token, &claims);
                claims
            }
        };
        claims.is_live_at(now).then_some(claims)
    }

    /// The claims of a token signed with our key, live or not; `None` for anything forged,
    /// malformed, not HS256, with `crit`, or naming another audience.
    fn decode(&self, token: &str) -> Option<TokenClaims> {
        let v = &*self.verifier;
        #[cfg(test)]
        v.decodes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data = jsonwebtoken::decode::<TokenClaims>(token, &v.key, &v.validation).ok()?;
        // jsonwebtoken reads `crit` (a non-null one lands here) but does not refuse it.
        if data.header.crit.is_some() {
            return None;
        }
        // Ours and PyJWT's header are the same bytes and have no `crit`; any other header is
        // looked at again for a `crit` member of any value (`"crit": null` included).
        let header = token.split('.').next()?;
        if header != self.header_b64 && has_crit_member(header)? {
            return None;
        }
        Some(data.claims)
    }

    /// [`verify_at`](Self::verify_at) the current time.
    pub fn verify(&self, token: &str) -> Option<TokenClaims> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }
}

/// Whether a base64url JOSE header has a `crit` member; `None` when it is not a JSON object.
fn has_crit_member(header_b64: &str) -> Option<bool> {
    let json = URL_SAFE_NO_PAD.decode(header_b64).ok()?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&json).ok()?;
    Some(header.contains_key("crit"))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

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
            auth_source: crate::user::AuthSource::Local,
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn keys(expiry: u64) -> JwtKeys {
        JwtKeys::new(SECRET, expiry, Audience::Multi)
    }

    /// A token signed by `jsonwebtoken` with `alg` (its default header) over `claims`.
    fn signed_by_them(secret: &[u8], alg: Algorithm, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn hs256(secret: &[u8], claims: Value) -> String {
        signed_by_them(secret, Algorithm::HS256, &claims)
    }

    /// `header.payload.signature` over raw JSON bytes, HMAC-SHA256 with `secret`, whatever the
    /// header says (test-only signer, so that any header or payload can be signed).
    fn resign(secret: &[u8], header: &[u8], payload: &[u8]) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(signed.as_bytes());
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn round_trip_and_header() {
        let keys = keys(3600);
        let token = keys.issue(&user(), Some("sid"), now()).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.user_id, claims.version(), claims.jti.as_deref()),
            (7, 3, Some("sid"))
        );
        assert_eq!(claims.aud.as_deref(), Some("nanoclaw-multi"));
        assert!(claims.has_audience());
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        // PyJWT's exact header bytes.
        assert_eq!(token.split('.').next(), Some(keys.header_b64.as_str()));
    }

    #[test]
    fn wrong_secret_expired_and_garbage_are_refused() {
        let keys = JwtKeys::new(b"secret-one-secret-one-secret-one", 3600, Audience::Multi);
        let other = JwtKeys::new(b"secret-two-secret-two-secret-two", 3600, Audience::Multi);
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
        let keys = keys(3600);
        let no_exp = hs256(
            SECRET,
            json!({"user_id": 1, "username": "a", "role": "user"}),
        );
        assert!(keys.verify(&no_exp).is_none());
        let claims = json!({"user_id": 1, "exp": now() + 100});
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            assert!(keys.verify(&signed_by_them(SECRET, alg, &claims)).is_none());
        }
        assert!(keys.verify(&hs256(SECRET, claims)).is_some());
    }

    #[test]
    fn agrees_with_jsonwebtoken_both_ways() {
        let keys = keys(3600);
        let ours = keys.issue(&user(), Some("sid-1"), now()).unwrap();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&["nanoclaw-multi"]);
        let theirs = jsonwebtoken::decode::<Claims>(
            &ours,
            &jsonwebtoken::DecodingKey::from_secret(SECRET),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(read(&theirs), keys.verify(&ours).unwrap());
        assert_eq!(theirs.jti.as_deref(), Some("sid-1"));
        assert_eq!(
            (theirs.username.as_str(), theirs.role.as_str()),
            ("bob", "user")
        );
        let by_them = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &theirs,
            &EncodingKey::from_secret(SECRET),
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
            iat: claims.iat,
            ver: claims.ver,
            jti: claims.jti.clone(),
            aud: claims.aud.clone(),
        }
    }

    #[test]
    fn foreign_headers_and_long_claims_are_read() {
        let keys = keys(3600);
        // Another header spelling (kid, no typ) and long claims.
        let mut header = Header::new(Algorithm::HS256);
        header.typ = None;
        header.kid = Some("k1".into());
        let long = "x".repeat(4096);
        let token = jsonwebtoken::encode(
            &header,
            &json!({"user_id": 5, "username": long, "exp": now() + 100, "ver": 2}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_ne!(token.split('.').next(), Some(keys.header_b64.as_str()));
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.user_id, claims.version()), (5, 2));
        // A payload that is not base64 at all, correctly signed, is refused.
        let head = URL_SAFE_NO_PAD.encode(HEADER_JSON);
        let forged_payload = format!("{head}.!!!!");
        let mut mac = keys.mac.clone();
        mac.update(forged_payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        assert!(keys.verify(&format!("{forged_payload}.{tag}")).is_none());
    }

    #[test]
    fn expiry_is_exclusive_and_not_before_is_honoured() {
        let keys = keys(100);
        let token = keys.issue(&user(), None, 1_000).unwrap();
        assert!(keys.verify_at(&token, 1_099).is_some());
        // PyJWT: expired once exp <= now.
        assert!(keys.verify_at(&token, 1_100).is_none());
        let early = hs256(SECRET, json!({"user_id": 1, "exp": 2_000, "nbf": 1_500}));
        assert!(keys.verify_at(&early, 1_499).is_none());
        assert!(keys.verify_at(&early, 1_500).is_some());
    }

    #[test]
    fn issued_in_the_future_is_refused_at_every_use() {
        let keys = keys(100);
        let token = keys.issue(&user(), None, 1_000).unwrap();
        assert!(keys.verify_at(&token, 999).is_none(), "iat in the future");
        assert!(keys.verify_at(&token, 1_000).is_some());
        // Now remembered: the memo still applies the rule.
        assert!(keys.verify_at(&token, 999).is_none());
    }

    #[test]
    fn crit_is_refused_whatever_its_value() {
        let keys = keys(3600);
        let payload = serde_json::to_vec(&json!({"user_id": 1, "exp": now() + 100})).unwrap();
        for header in [
            r#"{"alg":"HS256","typ":"JWT","crit":["exp"]}"#,
            r#"{"alg":"HS256","crit":[]}"#,
            r#"{"alg":"HS256","crit":null}"#,
        ] {
            let token = resign(SECRET, header.as_bytes(), &payload);
            assert!(keys.verify(&token).is_none(), "{header}");
        }
        let plain = resign(SECRET, br#"{"alg":"HS256"}"#, &payload);
        assert!(keys.verify(&plain).is_some());
    }

    #[test]
    fn audience_is_the_issuing_mode_and_legacy_tokens_have_none() {
        let single = JwtKeys::new(SECRET, 3600, Audience::Single);
        let multi = keys(3600);
        assert_eq!(Audience::for_mode(AuthMode::Single), Audience::Single);
        assert_eq!(Audience::for_mode(AuthMode::Multi), Audience::Multi);
        let from_single = single.issue(&user(), Some("s"), now()).unwrap();
        assert!(multi.verify(&from_single).is_none());
        assert!(single.verify(&from_single).is_some());
        let from_multi = multi.issue(&user(), Some("s"), now()).unwrap();
        assert!(single.verify(&from_multi).is_none());
        let exp = now() + 100;
        for aud in [
            json!("nanoclaw-other"),
            json!(""),
            json!(["nanoclaw-multi"]),
            json!(5),
        ] {
            let t = hs256(SECRET, json!({"user_id": 1, "exp": exp, "aud": aud}));
            assert!(multi.verify(&t).is_none(), "{aud}");
        }
        let legacy = hs256(SECRET, json!({"user_id": 1, "exp": exp}));
        let claims = multi.verify(&legacy).unwrap();
        assert!(!claims.has_audience());
        assert!(single.verify(&legacy).is_some());
    }

    #[test]
    fn tampering_is_refused() {
        let keys = keys(3600);
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
        let keys = keys(100);
        let memo = &keys.verifier.memo;
        let token = keys.issue(&user(), Some("sid"), 1_000).unwrap();
        let decodes = || {
            keys.verifier
                .decodes
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        let first = keys.verify_at(&token, 1_050).unwrap();
        assert_eq!((memo.len(), decodes()), (1, 1));
        assert_eq!(keys.verify_at(&token, 1_050), Some(first));
        assert_eq!(decodes(), 1, "a memo hit runs no HMAC and no JSON parse");
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
        assert_eq!(memo.len(), 1, "refused tokens are not remembered");

        let early = hs256(SECRET, json!({"user_id": 1, "exp": 2_000, "nbf": 1_500}));
        assert!(keys.verify_at(&early, 1_500).is_some());
        assert!(
            keys.verify_at(&early, 1_499).is_none(),
            "not yet valid while remembered"
        );

        // Another key never answers from this key's memo.
        let other = JwtKeys::new(b"another-secret-another-secret-00", 100, Audience::Multi);
        assert!(other.verify_at(&token, 1_050).is_none());
        // Clones share the memo (they hold the same key).
        assert!(keys.clone().verify_at(&token, 1_050).is_some());
        assert_eq!(memo.len(), 2);
    }

    #[test]
    fn token_without_our_claims_is_version_zero() {
        let keys = keys(3600);
        let pyjwt_like = hs256(
            SECRET,
            json!({"user_id": 1, "username": "a", "role": "user", "exp": now() + 100}),
        );
        assert_eq!(keys.verify(&pyjwt_like).unwrap().version(), 0);
    }

    /// An independent HS256 checker written from the rules, not from our code: what a token
    /// must be for us to accept it at `now` for `audience`.
    ///
    /// Compact form of exactly three base64url (no padding) parts; HMAC-SHA256 over the first
    /// two with `secret`; the header a JSON object with `alg` = `"HS256"`, no `crit` member, and
    /// `typ`/`cty`/`kid` strings when present; the claims a JSON object with integer `user_id`,
    /// a non-negative integer `exp` with `exp > now`, optional (null = absent) integer `nbf <=
    /// now`, `iat <= now` and `ver`, string `jti`, and `aud` absent, null or exactly ours.
    fn reference(secret: &[u8], audience: &str, token: &str, now: i64) -> Option<TokenClaims> {
        if token.len() > 8 * 1024 {
            return None;
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return None;
        };
        let tag = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()?;
        mac.update(format!("{header}.{payload}").as_bytes());
        mac.verify_slice(&tag).ok()?;

        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        let header = header.as_object()?;
        if header.get("alg") != Some(&json!("HS256")) || header.contains_key("crit") {
            return None;
        }
        for name in ["typ", "cty", "kid"] {
            if header
                .get(name)
                .is_some_and(|v| !v.is_null() && !v.is_string())
            {
                return None;
            }
        }

        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let claims = claims.as_object()?;
        // Absent or null: Ok(None); an integer: Ok(Some); anything else: Err.
        let int = |name: &str| match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or(()),
        };
        let string = |name: &str| match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(()),
        };
        let user_id = int("user_id").ok()??;
        let exp = int("exp").ok()?.filter(|exp| *exp >= 0)?;
        let (nbf, iat, ver) = (int("nbf").ok()?, int("iat").ok()?, int("ver").ok()?);
        let jti = string("jti").ok()?;
        let aud = string("aud").ok()?;
        if aud.as_deref().is_some_and(|a| a != audience) {
            return None;
        }
        let live = exp > now && nbf.is_none_or(|n| n <= now) && iat.is_none_or(|i| i <= now);
        live.then_some(TokenClaims {
            user_id,
            exp,
            nbf,
            iat,
            ver,
            jti,
            aud,
        })
    }

    /// Tokens, ours and jsonwebtoken's, mutated systematically; our verification must agree with
    /// [`reference`] on every one, at several instants, memo hits included.
    #[test]
    fn mutated_tokens_agree_with_an_independent_checker() {
        const N: i64 = 1_700_000_000;
        let nows = [N - 11, N - 10, N, N + 3589, N + 3590, N + 5000];
        let multi = JwtKeys::new(SECRET, 3600, Audience::Multi);
        let single = JwtKeys::new(SECRET, 3600, Audience::Single);

        let ours = multi.issue(&user(), Some("sid"), N - 10).unwrap();
        let mut kid = Header::new(Algorithm::HS256);
        kid.typ = None;
        kid.kid = Some("k1".into());
        let theirs = jsonwebtoken::encode(
            &kid,
            &json!({"user_id": 9, "exp": N + 3590, "nbf": N - 10, "aud": "nanoclaw-multi", "jti": "j"}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        let legacy = hs256(
            SECRET,
            json!({"user_id": 1, "username": "a", "role": "user", "exp": N + 3590}),
        );
        let bases = [ours, theirs, legacy];

        // (token, evaluate at every instant?)
        let mut cases: Vec<(String, bool)> = Vec::new();
        for base in &bases {
            // Every bit (ASCII stays ASCII) of every byte of header, payload and signature.
            for pos in 0..base.len() {
                for bit in 0..7 {
                    let mut bytes = base.clone().into_bytes();
                    bytes[pos] ^= 1 << bit;
                    cases.push((String::from_utf8(bytes).unwrap(), false));
                }
            }
            for len in 0..base.len() {
                cases.push((base[..len].to_owned(), false));
            }
            for tail in ["x", ".", "=", " ", ".x", "..", "AA"] {
                cases.push((format!("{base}{tail}"), false));
            }
            // The same with a valid signature: each bit of the JSON of header and payload.
            let parts: Vec<Vec<u8>> = base
                .split('.')
                .take(2)
                .map(|p| URL_SAFE_NO_PAD.decode(p).unwrap())
                .collect();
            let (header, payload) = (&parts[0], &parts[1]);
            for pos in 0..header.len() {
                for bit in 0..7 {
                    let mut h = header.clone();
                    h[pos] ^= 1 << bit;
                    cases.push((resign(SECRET, &h, payload), true));
                }
            }
            for pos in 0..payload.len() {
                for bit in 0..7 {
                    let mut p = payload.clone();
                    p[pos] ^= 1 << bit;
                    cases.push((resign(SECRET, header, &p), true));
                }
            }
        }

        // Semantic variants, correctly signed: headers and claims moved one thing at a time.
        let headers = [
            json!({"alg": "HS256", "typ": "JWT"}),
            json!({"alg": "HS256"}),
            json!({"alg": "HS256", "kid": "k"}),
            json!({"alg": "none", "typ": "JWT"}),
            json!({"alg": "HS512", "typ": "JWT"}),
            json!({"alg": "HS384"}),
            json!({"alg": "hs256"}),
            json!({"typ": "JWT"}),
            json!({"alg": "HS256", "crit": ["exp"]}),
            json!({"alg": "HS256", "crit": []}),
            json!({"alg": "HS256", "crit": null}),
            json!({"alg": "HS256", "typ": 5}),
            json!({"alg": "HS256", "typ": null}),
            json!(["HS256"]),
            json!("HS256"),
        ];
        let base_claims =
            json!({"user_id": 7, "exp": N + 3590, "iat": N - 10, "aud": "nanoclaw-multi"});
        let mut claims_variants = vec![base_claims.clone()];
        let moves: [(&str, Value); 29] = [
            ("iat", json!(N + 1)),
            ("iat", json!(N)),
            ("iat", json!(N - 1)),
            ("iat", json!("now")),
            ("iat", Value::Null),
            ("nbf", json!(N + 1)),
            ("nbf", json!(N)),
            ("nbf", json!(1.5)),
            ("nbf", Value::Null),
            ("exp", json!(N)),
            ("exp", json!(N + 1)),
            ("exp", json!(N - 1)),
            ("exp", json!(-5)),
            ("exp", json!(1e10)),
            ("exp", json!((N + 100).to_string())),
            ("exp", Value::Null),
            ("exp", json!(u64::MAX)),
            ("aud", json!("nanoclaw-single")),
            ("aud", json!("")),
            ("aud", json!(["nanoclaw-multi"])),
            ("aud", json!(["nanoclaw-single"])),
            ("aud", json!(5)),
            ("aud", Value::Null),
            ("user_id", json!("7")),
            ("user_id", Value::Null),
            ("user_id", json!(-1)),
            ("ver", json!("3")),
            ("jti", json!(5)),
            ("jti", json!("session")),
        ];
        for (name, value) in moves {
            let mut c = base_claims.clone();
            c[name] = value;
            claims_variants.push(c);
        }
        for name in ["exp", "aud", "iat", "user_id"] {
            let mut c = base_claims.clone();
            c.as_object_mut().unwrap().remove(name);
            claims_variants.push(c);
        }
        for header in &headers {
            for claims in &claims_variants {
                let (h, c) = (header.to_string(), claims.to_string());
                cases.push((resign(SECRET, h.as_bytes(), c.as_bytes()), true));
                // Unsigned and signed with another secret.
                let wrong = resign(
                    b"not-the-secret-not-the-secret-00",
                    h.as_bytes(),
                    c.as_bytes(),
                );
                cases.push((wrong.clone(), false));
                let (unsigned, _) = wrong.rsplit_once('.').unwrap();
                cases.push((format!("{unsigned}."), false));
            }
        }
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            cases.push((signed_by_them(SECRET, alg, &base_claims), true));
        }

        let (mut checked, mut accepted) = (0usize, 0usize);
        let mut disagreements = Vec::new();
        for (token, every_instant) in &cases {
            let instants: &[i64] = if *every_instant { &nows } else { &[N] };
            for &at in instants {
                for (keys, audience) in [(&multi, "nanoclaw-multi"), (&single, "nanoclaw-single")] {
                    let want = reference(SECRET, audience, token, at);
                    let got = keys.verify_at(token, at);
                    checked += 1;
                    accepted += usize::from(want.is_some());
                    if got != want && disagreements.len() < 10 {
                        disagreements.push(format!(
                            "{token} at {at} for {audience}: ours {got:?}, reference {want:?}"
                        ));
                    }
                }
            }
        }
        assert!(disagreements.is_empty(), "{disagreements:#?}");
        assert!(checked > 40_000, "only {checked} checks");
        assert!(accepted > 1_000, "only {accepted} accepted of {checked}");
        assert!(checked - accepted > 30_000, "too few refused");
    }
}
