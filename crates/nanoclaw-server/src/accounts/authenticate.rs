//! Who is calling: single-mode default user, trusted proxy header, API key or bearer token.
//!
//! Every database call on this path is boxed (`Box::pin(…).await`). The cache answers most
//! requests, and an async fn's future is as large as the largest future it awaits: unboxed,
//! the ORM's futures made every request's future kilobytes large, moved several times on
//! its way to the executor. Boxed, a cache hit allocates nothing and moves little.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::NaiveDateTime;
use nanoclaw_core::account::{AuditEntry, Outcome};
use nanoclaw_core::auth::opaque;
use nanoclaw_core::time::now_utc;
use nanoclaw_core::user::{AuthSource, DEFAULT_USERNAME, ROLE_USER, limits};
use nanoclaw_core::{AuthMode, User};
use nanoclaw_store::{NewUser, StoreError, UniqueField};
use subtle::ConstantTimeEq;

use super::{ACTIVITY_DEBOUNCE, Accounts, ClientInfo, LAST_SEEN_DEBOUNCE};
use crate::error::{ApiResult, AppError};

const UNAUTHORIZED: &str = "Unauthorized - please login";
/// An untrusted trusted-header attempt is logged at most this often (seconds).
const UNTRUSTED_LOG_EVERY: i64 = 60;

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Single mode: everyone is `default`.
    Single,
    /// A token of a server-side session (its id).
    Session(String),
    /// A token without a session (issued by the original or by PyJWT).
    LegacyToken,
    /// An API key (its id).
    ApiKey(String),
    /// A trusted reverse proxy's user header.
    TrustedHeader,
}

/// The authenticated caller of a non-public route.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user row (shared with the authentication cache).
    pub user: Arc<User>,
    /// How they authenticated.
    pub via: Via,
}

impl Caller {
    /// 403 unless the caller is an admin who signed in: administration needs a session (or
    /// single mode, or the sign-on proxy), never an API key, whose secret lives in scripts.
    pub fn require_admin(&self) -> ApiResult<()> {
        if !self.user.is_admin() {
            return Err(AppError::Forbidden("Admin access required".into()));
        }
        if matches!(self.via, Via::ApiKey(_)) {
            return Err(AppError::Forbidden(
                "API keys cannot be used for administration; sign in".into(),
            ));
        }
        Ok(())
    }

    /// The session id, when the caller used a session token.
    pub fn session_id(&self) -> Option<&str> {
        match &self.via {
            Via::Session(id) => Some(id),
            _ => None,
        }
    }
}

/// What of a request matters for authentication.
pub struct AuthRequest<'a> {
    /// `Authorization` header value.
    pub authorization: Option<&'a [u8]>,
    /// The TCP peer (a proxy, when there is one).
    pub peer: IpAddr,
    /// The request headers (for the trusted user and e-mail headers).
    pub headers: &'a axum::http::HeaderMap,
    /// The client address (after trusted proxies), for provisioning records.
    pub client_ip: IpAddr,
}

fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn not_for_the_proxy() -> AppError {
    AppError::Forbidden("This account cannot sign in through the proxy".into())
}

fn unauthorized() -> AppError {
    AppError::Unauthorized(UNAUTHORIZED.into())
}

impl Accounts {
    /// The caller of a non-public route. One indexed read for a token or key, plus one for its
    /// session; writes only when activity timestamps are due.
    pub async fn authenticate(&self, req: AuthRequest<'_>) -> ApiResult<Caller> {
        if self.settings.mode == AuthMode::Single {
            self.check_single_token(req.authorization)?;
            let user = self.default_user().await?;
            if !user.is_active {
                return Err(AppError::Forbidden("Account is disabled".into()));
            }
            return Ok(Caller {
                user,
                via: Via::Single,
            });
        }
        if self.settings.trusted_header.is_some()
            && let Some(caller) = Box::pin(self.caller_from_trusted_header(&req)).await?
        {
            return Ok(caller);
        }
        let token = req
            .authorization
            .and_then(|h| h.strip_prefix(b"Bearer "))
            .and_then(|t| std::str::from_utf8(t).ok())
            .ok_or_else(unauthorized)?;
        if token.starts_with(opaque::API_KEY_PREFIX) {
            return Box::pin(self.caller_from_api_key(token)).await;
        }
        self.caller_from_token(token).await
    }

    /// In single mode with `single_token` set: 401 unless the request carries it.
    pub(super) fn check_single_token(&self, authorization: Option<&[u8]>) -> ApiResult<()> {
        let Some(expected) = &self.settings.single_token else {
            return Ok(());
        };
        let given = authorization
            .and_then(|h| h.strip_prefix(b"Bearer "))
            .unwrap_or_default();
        if bool::from(given.ct_eq(expected.expose().as_bytes())) {
            Ok(())
        } else {
            Err(unauthorized())
        }
    }

    /// The single-mode `default` user.
    pub(super) async fn default_user(&self) -> ApiResult<Arc<User>> {
        let id = self
            .default_user_id
            .ok_or_else(|| AppError::internal("single mode without a default user"))?;
        self.user_by_id(id)
            .await?
            .ok_or_else(|| AppError::internal("Default user not initialized"))
    }

    /// A user, from the cache or the database.
    async fn user_by_id(&self, id: i64) -> ApiResult<Option<Arc<User>>> {
        if let Some(user) = self.cache.user(id) {
            return Ok(Some(user));
        }
        let epoch = self.cache.epoch();
        let user = Box::pin(self.store.user_by_id(id)).await?.map(Arc::new);
        if let Some(u) = &user {
            self.cache.put_user(epoch, u);
        }
        Ok(user)
    }

    async fn caller_from_token(&self, token: &str) -> ApiResult<Caller> {
        let now = now_utc();
        let claims = self
            .jwt
            .verify_at(token, now.and_utc().timestamp())
            .ok_or_else(unauthorized)?;
        let version = claims.version();
        let legacy = claims.jti.is_none();
        if legacy && claims.has_audience() {
            // Ours without a session: issued in single mode, where every request is `default`.
            return Err(unauthorized());
        }
        let via = match claims.jti {
            Some(jti) => {
                let session = match self.cache.session(&jti) {
                    Some(s) => s,
                    None => {
                        let epoch = self.cache.epoch();
                        let s = Arc::new(
                            Box::pin(self.store.session_by_id(&jti))
                                .await?
                                .ok_or_else(unauthorized)?,
                        );
                        self.cache.put_session(epoch, &s);
                        s
                    }
                };
                if session.user_id != claims.user_id || !session.is_live(now) {
                    return Err(unauthorized());
                }
                if session.last_seen_at < now - ACTIVITY_DEBOUNCE {
                    Box::pin(self.store.touch_session(&jti, now, now - ACTIVITY_DEBOUNCE)).await?;
                    self.cache.touched(None, Some((&jti, now)));
                }
                Via::Session(jti)
            }
            None => Via::LegacyToken,
        };
        let user = self
            .user_by_id(claims.user_id)
            .await?
            .ok_or_else(unauthorized)?;
        // Every token carries the token version it was issued under: a password change or
        // "log out everywhere" ends them all, session or not.
        if !user.is_active || user.token_version != version {
            return Err(unauthorized());
        }
        if legacy && !self.settings.legacy_tokens.accepts(&user, now) {
            return Err(unauthorized());
        }
        let user = self.touch_last_seen(user, now).await?;
        Ok(Caller { user, via })
    }

    async fn caller_from_api_key(&self, secret: &str) -> ApiResult<Caller> {
        if !self.settings.api_keys_enabled {
            return Err(unauthorized());
        }
        let hash = opaque::digest(secret);
        let key = match self.cache.key(&hash) {
            Some(k) => k,
            None => {
                let epoch = self.cache.epoch();
                let k = Arc::new(
                    self.store
                        .api_key_by_hash(&hash)
                        .await?
                        .ok_or_else(unauthorized)?,
                );
                self.cache.put_key(epoch, &hash, &k);
                k
            }
        };
        let now = now_utc();
        if !key.is_live(now) {
            return Err(unauthorized());
        }
        let user = self
            .user_by_id(key.user_id)
            .await?
            .ok_or_else(unauthorized)?;
        if !user.is_active {
            return Err(unauthorized());
        }
        if key.last_used_at.is_none_or(|t| t < now - ACTIVITY_DEBOUNCE) {
            self.store
                .touch_api_key(&key.id, now, now - ACTIVITY_DEBOUNCE)
                .await?;
            // The listing shows last use; drop the cached key so the next read is fresh.
            self.cache.forget_user(key.user_id);
        }
        let user = self.touch_last_seen(user, now).await?;
        Ok(Caller {
            user,
            via: Via::ApiKey(key.id.clone()),
        })
    }

    /// nanoClaw's hourly "last seen" in `last_login_at`, as of `now`. Returns the user as
    /// the request should see it: the request that sets the new value answers with it, as
    /// the original does.
    async fn touch_last_seen(&self, user: Arc<User>, now: NaiveDateTime) -> ApiResult<Arc<User>> {
        let stale_before = now - LAST_SEEN_DEBOUNCE;
        if user.last_login_at.is_some_and(|t| t >= stale_before) {
            return Ok(user);
        }
        Box::pin(self.store.touch_last_seen(user.id, now, stale_before)).await?;
        self.cache.touched(Some((user.id, now)), None);
        let mut user = user;
        Arc::make_mut(&mut user).last_login_at = Some(now);
        Ok(user)
    }

    /// The user named by a trusted proxy's header, created on first sight. `None` when the
    /// feature is off or the header is absent; ignored (and logged) from any other address.
    async fn caller_from_trusted_header(&self, req: &AuthRequest<'_>) -> ApiResult<Option<Caller>> {
        let Some(cfg) = &self.settings.trusted_header else {
            return Ok(None);
        };
        let Some(raw) = header(req.headers, &cfg.header) else {
            return Ok(None);
        };
        if !self
            .settings
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&req.peer))
        {
            let now = chrono::Utc::now().timestamp();
            let last = self.untrusted_header_logged.load(Ordering::Relaxed);
            if now - last >= UNTRUSTED_LOG_EVERY
                && self
                    .untrusted_header_logged
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                tracing::warn!(peer = %req.peer, header = %cfg.header, "ignored a trusted user header from an address not in trusted_proxies");
            }
            return Ok(None);
        }
        let username = raw.trim();
        let len = username.chars().count();
        if !(limits::USERNAME_MIN..=limits::USERNAME_MAX).contains(&len)
            || username.chars().any(char::is_control)
        {
            return Err(AppError::bad_request(format!(
                "Invalid user name in the {} header",
                cfg.header
            )));
        }
        // `default` is single mode's admin: never a name the proxy can claim.
        if username == DEFAULT_USERNAME {
            return Err(not_for_the_proxy());
        }
        let user = match self.store.user_by_username(username).await? {
            Some(user) => user,
            None => {
                self.provision(username, cfg.email_header.as_deref(), req)
                    .await?
            }
        };
        // The header names proxy accounts only: never a password account or `default`,
        // which would let whoever controls the header take them over.
        if !user.is_proxy_account() {
            tracing::warn!(
                user_id = user.id,
                "the trusted header named an account the proxy did not create; refused"
            );
            return Err(not_for_the_proxy());
        }
        if !user.is_active {
            return Err(unauthorized());
        }
        let user = self.touch_last_seen(Arc::new(user), now_utc()).await?;
        Ok(Some(Caller {
            user,
            via: Via::TrustedHeader,
        }))
    }

    /// Creates the account a trusted proxy vouches for: role `user`, no password.
    async fn provision(
        &self,
        username: &str,
        email_header: Option<&str>,
        req: &AuthRequest<'_>,
    ) -> ApiResult<User> {
        let email = email_header
            .and_then(|h| header(req.headers, h))
            .map(str::trim)
            .filter(|e| {
                e.contains('@')
                    && e.chars().count() <= limits::EMAIL_MAX
                    && !e.contains(char::is_whitespace)
            })
            .map(str::to_owned);
        let email = match email {
            Some(e) if !self.store.email_taken(&e, None).await? => Some(e),
            _ => None,
        };
        let new = NewUser {
            username: username.to_owned(),
            password_hash: None,
            email,
            role: ROLE_USER.into(),
            auth_source: AuthSource::Proxy,
        };
        let user = match self.store.create_user(new.clone(), now_utc()).await {
            Ok(user) => user,
            // Two first requests at once: the other one created it.
            Err(StoreError::Conflict(UniqueField::Username)) => self
                .store
                .user_by_username(username)
                .await?
                .ok_or_else(unauthorized)?,
            // The e-mail was taken meanwhile: create without it.
            Err(StoreError::Conflict(UniqueField::Email)) => {
                self.store
                    .create_user(NewUser { email: None, ..new }, now_utc())
                    .await?
            }
            Err(e) => return Err(e.into()),
        };
        let client = ClientInfo {
            ip: req.client_ip,
            user_agent: None,
        };
        self.audit(AuditEntry {
            detail: Some(format!("via={}", req.peer)),
            ..Self::event(
                "trusted_header_provision",
                Outcome::Success,
                None,
                Some(&user),
                Some(&client),
            )
        })
        .await;
        tracing::info!(
            user_id = user.id,
            "account created from the trusted proxy header"
        );
        Ok(user)
    }
}
