//! Accounts: who the caller is, login, registration and profile changes.
//!
//! The HTTP handlers stay thin; the rules of spec/auth.md live here.

mod hashing;
pub mod input;
mod rate_limit;

use std::net::IpAddr;

use chrono::TimeDelta;
use nanoclaw_core::auth::jwt::JwtKeys;
use nanoclaw_core::auth::password::Verification;
use nanoclaw_core::time::now_utc;
use nanoclaw_core::user::ROLE_USER;
use nanoclaw_core::{AuthMode, User};
use nanoclaw_store::{NewUser, ProfileUpdate, Store, StoreError, UniqueField};

pub use hashing::Hasher;
pub use rate_limit::LoginLimiter;

use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;
use input::{LoginInput, ProfileInput, RegisterInput};

/// `last_login_at` is refreshed by authenticated requests at most this often.
const LAST_SEEN_DEBOUNCE: TimeDelta = TimeDelta::hours(1);

const UNAUTHORIZED: &str = "Unauthorized - please login";
const BAD_CREDENTIALS: &str = "Invalid username or password";

/// A token and the user it was issued for.
pub struct Session {
    /// The bearer token.
    pub token: String,
    /// The user.
    pub user: User,
}

/// The account service.
#[derive(Debug)]
pub struct Accounts {
    store: Store,
    mode: AuthMode,
    jwt: JwtKeys,
    hasher: Hasher,
    limiter: LoginLimiter,
    password_min: usize,
    /// Id of the `default` user in single mode.
    default_user_id: Option<i64>,
}

impl Accounts {
    /// Builds the service. In single mode `default_user_id` names the built-in user.
    pub fn new(
        store: Store,
        mode: AuthMode,
        jwt: JwtKeys,
        hasher: Hasher,
        limiter: LoginLimiter,
        password_min: usize,
        default_user_id: Option<i64>,
    ) -> Self {
        Self {
            store,
            mode,
            jwt,
            hasher,
            limiter,
            password_min,
            default_user_id,
        }
    }

    /// The configured mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The login limiter (pruned periodically by the server).
    pub fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    /// The caller of a non-public route, from the `Authorization` header value.
    ///
    /// Single mode: the `default` user, whatever is sent. Multi mode: a valid HS256 token whose
    /// user exists, is active and whose token version matches — one primary-key lookup.
    pub async fn authenticate(&self, authorization: Option<&[u8]>) -> ApiResult<User> {
        if self.mode == AuthMode::Single {
            return self.default_user().await;
        }
        let unauthorized = || AppError::Unauthorized(UNAUTHORIZED.into());
        let token = authorization
            .and_then(|h| h.strip_prefix(b"Bearer "))
            .and_then(|t| std::str::from_utf8(t).ok())
            .ok_or_else(unauthorized)?;
        let claims = self.jwt.verify(token).ok_or_else(unauthorized)?;
        let user = self
            .store
            .user_by_id(claims.user_id)
            .await?
            .ok_or_else(unauthorized)?;
        if !user.is_active || user.token_version != claims.version() {
            return Err(unauthorized());
        }
        let now = now_utc();
        let stale_before = now - LAST_SEEN_DEBOUNCE;
        if user.last_login_at.is_none_or(|t| t < stale_before) {
            self.store
                .touch_last_seen(user.id, now, stale_before)
                .await?;
        }
        Ok(user)
    }

    async fn default_user(&self) -> ApiResult<User> {
        let id = self
            .default_user_id
            .ok_or_else(|| AppError::internal("single mode without a default user"))?;
        self.store
            .user_by_id(id)
            .await?
            .ok_or_else(|| AppError::internal("Default user not initialized"))
    }

    /// `POST /api/auth/login`.
    pub async fn login(&self, body: &JsonObject, ip: IpAddr) -> ApiResult<Session> {
        if self.mode == AuthMode::Single {
            let user = self.default_user().await?;
            return self.session_for(user);
        }
        self.limiter.check_ip(ip)?;
        let input = LoginInput::parse(body)?;
        self.limiter.check_username(&input.username)?;

        let user = self.store.user_by_username(&input.username).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verdict = self.hasher.verify(&input.password, stored).await?;
        let user = match (user, verdict.is_valid()) {
            (Some(user), true) => user,
            _ => {
                tracing::info!(username = %input.username, %ip, "login failed");
                metrics::counter!(crate::metrics::LOGINS, "outcome" => "failure").increment(1);
                return Err(AppError::Unauthorized(BAD_CREDENTIALS.into()));
            }
        };
        if !user.is_active {
            metrics::counter!(crate::metrics::LOGINS, "outcome" => "failure").increment(1);
            return Err(AppError::Forbidden("Account is disabled".into()));
        }
        let rehashed = if verdict == Verification::ValidNeedsRehash {
            Some(self.hasher.hash(&input.password).await?)
        } else {
            None
        };
        let now = now_utc();
        let upgraded = rehashed.is_some();
        self.store.record_login(user.id, now, rehashed).await?;
        if upgraded {
            tracing::info!(user_id = user.id, "password hash upgraded to argon2id");
        }
        tracing::info!(user_id = user.id, %ip, "login");
        metrics::counter!(crate::metrics::LOGINS, "outcome" => "success").increment(1);
        let user = User {
            last_login_at: Some(now),
            ..user
        };
        self.session_for(user)
    }

    /// `POST /api/auth/register`.
    pub async fn register(&self, body: &JsonObject, ip: IpAddr) -> ApiResult<Session> {
        if self.mode == AuthMode::Single {
            return Err(AppError::Forbidden(
                "Registration is disabled in single-user mode".into(),
            ));
        }
        self.limiter.check_ip(ip)?;
        let input = RegisterInput::parse(body, self.password_min)?;
        let username_taken =
            || AppError::Conflict(format!("Username '{}' already exists", input.username).into());
        if self
            .store
            .user_by_username(&input.username)
            .await?
            .is_some()
        {
            return Err(username_taken());
        }
        if let Some(email) = &input.email
            && self.store.email_taken(email, None).await?
        {
            return Err(StoreError::Conflict(UniqueField::Email).into());
        }
        let password_hash = self.hasher.hash(&input.password).await?;
        let new = NewUser {
            username: input.username.clone(),
            password_hash: Some(password_hash),
            email: input.email.clone(),
            role: ROLE_USER.into(),
        };
        let user = match self.store.create_user(new, now_utc()).await {
            Ok(user) => user,
            Err(StoreError::Conflict(UniqueField::Username)) => return Err(username_taken()),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(user_id = user.id, %ip, "user registered");
        self.session_for(user)
    }

    /// `PATCH /api/auth/profile`: nothing is saved unless every check passes.
    pub async fn update_profile(
        &self,
        user: &User,
        body: &JsonObject,
        ip: IpAddr,
    ) -> ApiResult<User> {
        let input = ProfileInput::parse(body, self.password_min)?;
        let mut change = ProfileUpdate::default();
        if let Some(email) = input.email {
            if let Some(new) = &email
                && user.email.as_ref() != Some(new)
                && self.store.email_taken(new, Some(user.id)).await?
            {
                return Err(StoreError::Conflict(UniqueField::Email).into());
            }
            change.email = Some(email);
        }
        change.avatar = input.avatar;
        if let Some(password) = &input.password {
            self.check_current_password(user, input.current_password.as_deref(), ip)
                .await?;
            change.password_hash = Some(self.hasher.hash(password).await?);
        }
        let changed_password = change.password_hash.is_some();
        let updated = self
            .store
            .update_profile(user.id, change)
            .await?
            .ok_or_else(|| AppError::Unauthorized("Not authenticated".into()))?;
        if changed_password {
            tracing::info!(
                user_id = user.id,
                "password changed; earlier tokens revoked"
            );
        }
        Ok(updated)
    }

    /// In multi mode a password change needs the current password (when one is set).
    async fn check_current_password(
        &self,
        user: &User,
        current: Option<&str>,
        ip: IpAddr,
    ) -> ApiResult<()> {
        let Some(stored) = user.password_hash.as_deref() else {
            return Ok(());
        };
        if self.mode == AuthMode::Single {
            return Ok(());
        }
        let current = current
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AppError::bad_request("Current password is required"))?;
        self.limiter.check_username(&user.username)?;
        if self.hasher.verify(current, Some(stored)).await?.is_valid() {
            Ok(())
        } else {
            tracing::info!(user_id = user.id, %ip, "password change with a wrong current password");
            Err(AppError::Unauthorized(
                "Current password is incorrect".into(),
            ))
        }
    }

    fn session_for(&self, user: User) -> ApiResult<Session> {
        let token = self
            .jwt
            .issue(&user, chrono::Utc::now().timestamp())
            .map_err(AppError::internal)?;
        Ok(Session { token, user })
    }
}
