//! Login, registration, sessions, refresh, logout, profile changes and password reset.

use chrono::TimeDelta;
use nanoclaw_core::AuthMode;
use nanoclaw_core::User;
use nanoclaw_core::account::{AuditEntry, Outcome, Session as StoredSession};
use nanoclaw_core::auth::opaque;
use nanoclaw_core::auth::password::Verification;
use nanoclaw_core::config::Registration;
use nanoclaw_core::time::now_utc;
use nanoclaw_core::user::{AuthSource, ROLE_USER};
use nanoclaw_store::{Extension, NewUser, ProfileUpdate, StoreError, UniqueField};

use super::input::{LoginInput, ProfileInput, RegisterInput, ResetInput};
use super::{ACTIVITY_DEBOUNCE, Accounts, Caller, ClientInfo, Session, Via};
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;

const BAD_CREDENTIALS: &str = "Invalid username or password";

impl Accounts {
    /// `POST /api/auth/login`. In single mode: a token for `default`, and only to a caller
    /// that shows `single_token` when one is set.
    pub async fn login(
        &self,
        body: &JsonObject,
        client: &ClientInfo,
        authorization: Option<&[u8]>,
    ) -> ApiResult<Session> {
        if self.settings.mode == AuthMode::Single {
            self.check_single_token(authorization)?;
            let user = self.default_user().await?;
            if !user.is_active {
                return Err(AppError::Forbidden("Account is disabled".into()));
            }
            return self.token_for(user, None, now_utc());
        }
        if !self.settings.local_login_allowed() {
            return Err(AppError::Forbidden(
                "Password login is disabled; sign in through the proxy".into(),
            ));
        }
        self.limited(self.limiter.check_ip(client.ip), None, client)
            .await?;
        let input = LoginInput::parse(body)?;
        self.limited(
            self.limiter.check_username(&input.username),
            Some(&input.username),
            client,
        )
        .await?;

        let user = self.store.user_by_username(&input.username).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verdict = self.hasher.verify(&input.password, stored).await?;
        let user = match (user, verdict.is_valid()) {
            (Some(user), true) => user,
            (user, _) => {
                metrics::counter!(crate::metrics::LOGINS, "outcome" => "failure").increment(1);
                // The name tried is kept only when it names an account: an unknown one is often
                // a password typed into the wrong field.
                self.audit(AuditEntry {
                    actor_id: user.as_ref().map(|u| u.id),
                    username: user.map(|u| u.username),
                    ip: Some(client.ip.to_string()),
                    ..AuditEntry::new("login", Outcome::Failure)
                })
                .await;
                return Err(AppError::Unauthorized(BAD_CREDENTIALS.into()));
            }
        };
        if !user.is_active {
            metrics::counter!(crate::metrics::LOGINS, "outcome" => "failure").increment(1);
            self.audit(AuditEntry {
                detail: Some("account disabled".into()),
                ..Self::event("login", Outcome::Failure, Some(&user), None, Some(client))
            })
            .await;
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
        self.cache.touched(Some((user.id, now)), None);
        if upgraded {
            tracing::info!(user_id = user.id, "password hash upgraded to argon2id");
        }
        metrics::counter!(crate::metrics::LOGINS, "outcome" => "success").increment(1);
        self.audit(Self::event(
            "login",
            Outcome::Success,
            Some(&user),
            None,
            Some(client),
        ))
        .await;
        let user = User {
            last_login_at: Some(now),
            ..user
        };
        self.start_session(user, client).await
    }

    /// 403 unless registration is open: not in single mode, not when closed, not behind a
    /// sign-on proxy unless local accounts are allowed. Checked before the body is read.
    pub fn registration_open(&self) -> ApiResult<()> {
        if self.settings.mode == AuthMode::Single {
            return Err(AppError::Forbidden(
                "Registration is disabled in single-user mode".into(),
            ));
        }
        if self.settings.registration == Registration::Closed {
            return Err(AppError::Forbidden("Registration is closed".into()));
        }
        if !self.settings.local_login_allowed() {
            return Err(AppError::Forbidden(
                "Registration is disabled; sign in through the proxy".into(),
            ));
        }
        Ok(())
    }

    /// `POST /api/auth/register`. The first account while no admin exists becomes admin.
    pub async fn register(&self, body: &JsonObject, client: &ClientInfo) -> ApiResult<Session> {
        self.registration_open()?;
        self.limited(self.limiter.check_ip(client.ip), None, client)
            .await?;
        let input = RegisterInput::parse(body, &self.settings.policy)?;
        let user = self.create_account(input, ROLE_USER, true).await?;
        self.audit(Self::event(
            "register",
            Outcome::Success,
            Some(&user),
            Some(&user),
            Some(client),
        ))
        .await;
        tracing::info!(user_id = user.id, ip = %client.ip, "user registered");
        self.start_session(user, client).await
    }

    /// Creates an account from checked input (register and the admin API share this).
    pub(super) async fn create_account(
        &self,
        input: RegisterInput,
        role: &str,
        first_becomes_admin: bool,
    ) -> ApiResult<User> {
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
            role: role.to_owned(),
            auth_source: AuthSource::Local,
        };
        match self
            .store
            .register_user(new, now_utc(), first_becomes_admin)
            .await
        {
            Ok(user) => Ok(user),
            Err(StoreError::Conflict(UniqueField::Username)) => Err(username_taken()),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /api/auth/refresh`: a fresh token for the caller's session (sliding expiry; the
    /// session row is written at most once a minute). A token without a session gets a
    /// session of its own.
    pub async fn refresh(&self, caller: &Caller, client: &ClientInfo) -> ApiResult<Session> {
        let now = now_utc();
        match &caller.via {
            Via::Single => self.token_for(caller.user.clone(), None, now),
            Via::Session(id) => {
                let expires = now + TimeDelta::seconds(self.jwt.expiry_secs());
                let extension = self
                    .store
                    .extend_session(
                        caller.user.id,
                        id,
                        expires,
                        expires - ACTIVITY_DEBOUNCE,
                        now,
                    )
                    .await?;
                if extension == Extension::NotLive {
                    return Err(AppError::Unauthorized("Unauthorized - please login".into()));
                }
                self.token_for(caller.user.clone(), Some(id), now)
            }
            Via::LegacyToken | Via::TrustedHeader => {
                self.start_session(caller.user.clone(), client).await
            }
            Via::ApiKey(_) => Err(AppError::Forbidden("API keys cannot be refreshed".into())),
        }
    }

    /// `POST /api/auth/logout`: ends the caller's session, or with `all` every session and
    /// every token of the user.
    pub async fn logout(&self, caller: &Caller, all: bool, client: &ClientInfo) -> ApiResult<()> {
        let now = now_utc();
        match (&caller.via, all) {
            (Via::Single, _) => return Ok(()),
            (Via::ApiKey(_), false) => {
                return Err(AppError::bad_request(
                    "An API key has no session; delete the key instead",
                ));
            }
            (Via::Session(id), false) => {
                self.store.revoke_session(caller.user.id, id, now).await?;
            }
            // A token without a session cannot be ended alone: end them all (API keys too).
            (Via::LegacyToken, _) | (_, true) => {
                self.store.end_all_access(caller.user.id, now).await?;
            }
            (Via::TrustedHeader, false) => return Ok(()),
        }
        self.audit_own(
            "logout",
            &caller.user,
            client,
            all.then(|| "all sessions".to_owned()),
        )
        .await;
        Ok(())
    }

    /// `GET /api/auth/sessions`: the caller's live sessions.
    pub async fn sessions(&self, caller: &Caller) -> ApiResult<Vec<StoredSession>> {
        Ok(self.store.live_sessions(caller.user.id, now_utc()).await?)
    }

    /// `DELETE /api/auth/sessions/:id`.
    pub async fn end_session(
        &self,
        caller: &Caller,
        id: &str,
        client: &ClientInfo,
    ) -> ApiResult<()> {
        if !self
            .store
            .revoke_session(caller.user.id, id, now_utc())
            .await?
        {
            return Err(AppError::NotFound("Session not found".into()));
        }
        self.audit_own(
            "logout",
            &caller.user,
            client,
            Some(format!("session={id}")),
        )
        .await;
        Ok(())
    }

    /// `PATCH /api/auth/profile`: nothing is saved unless every check passes. A password change
    /// needs the current password (multi mode) and, in one transaction, ends every other
    /// session, every API key and reset token and every earlier token; the caller gets a
    /// fresh token for their own session.
    pub async fn update_profile(
        &self,
        caller: &Caller,
        body: &JsonObject,
        client: &ClientInfo,
    ) -> ApiResult<(User, Option<Session>)> {
        let user = &caller.user;
        let mut context = vec![user.username.as_str()];
        context.extend(user.email.as_deref());
        let input = ProfileInput::parse(body, &self.settings.policy, &context)?;
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
            if matches!(caller.via, Via::ApiKey(_)) {
                return Err(AppError::Forbidden(
                    "API keys cannot change the password".into(),
                ));
            }
            if user.is_proxy_account() {
                return Err(proxy_has_no_password());
            }
            self.check_current_password(
                user,
                input.current_password.as_deref(),
                client,
                "password_change",
            )
            .await?;
            change.password_hash = Some(self.hasher.hash(password).await?);
        }
        let changed_password = change.password_hash.is_some();
        let now = now_utc();
        let updated = self
            .store
            .update_profile(user.id, change, caller.session_id(), now)
            .await?
            .ok_or_else(|| AppError::Unauthorized("Not authenticated".into()))?;
        if !changed_password {
            return Ok((updated, None));
        }
        tracing::info!(
            user_id = user.id,
            "password changed; other sessions, API keys and tokens ended"
        );
        self.audit(Self::event(
            "password_change",
            Outcome::Success,
            Some(user),
            Some(user),
            Some(client),
        ))
        .await;
        // The caller's own token carried the old token version: hand out a new one.
        let fresh = match &caller.via {
            Via::Session(id) => self.token_for(updated.clone(), Some(id), now)?,
            Via::Single => self.token_for(updated.clone(), None, now)?,
            _ => self.start_session(updated.clone(), client).await?,
        };
        Ok((updated, Some(fresh)))
    }

    /// In multi mode a password change or a new API key (`action`, for the audit log) needs
    /// the current password (when one is set).
    pub(super) async fn check_current_password(
        &self,
        user: &User,
        current: Option<&str>,
        client: &ClientInfo,
        action: &'static str,
    ) -> ApiResult<()> {
        let Some(stored) = user.password_hash.as_deref() else {
            return Ok(());
        };
        if self.settings.mode == AuthMode::Single {
            return Ok(());
        }
        let current = current
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AppError::bad_request("Current password is required"))?;
        self.limited(
            self.limiter.check_username(&user.username),
            Some(&user.username),
            client,
        )
        .await?;
        if self.hasher.verify(current, Some(stored)).await?.is_valid() {
            Ok(())
        } else {
            self.audit(Self::event(
                action,
                Outcome::Failure,
                Some(user),
                Some(user),
                Some(client),
            ))
            .await;
            Err(AppError::Unauthorized(
                "Current password is incorrect".into(),
            ))
        }
    }

    /// `POST /api/auth/reset-password` (public): a single-use token from an admin sets a new
    /// password and, in the same transaction, ends every session, API key, reset token and
    /// earlier token of the user.
    pub async fn reset_password(&self, body: &JsonObject, client: &ClientInfo) -> ApiResult<()> {
        self.limited(self.limiter.check_ip(client.ip), None, client)
            .await?;
        let input = ResetInput::parse(body)?;
        self.check_password(&input.new_password, &[])?;
        let invalid = || AppError::bad_request("Invalid or expired reset token");
        if !input.token.starts_with(opaque::RESET_TOKEN_PREFIX) {
            return Err(invalid());
        }
        let digest = opaque::digest(&input.token);
        // Checked first so that a wrong token costs no hash; the transaction decides.
        if !self.store.reset_token_usable(&digest, now_utc()).await? {
            return Err(invalid());
        }
        let hash = self.hasher.hash(&input.new_password).await?;
        let user = self
            .store
            .reset_password(&digest, hash, now_utc())
            .await?
            .ok_or_else(invalid)?;
        self.audit(Self::event(
            "password_reset",
            Outcome::Success,
            None,
            Some(&user),
            Some(client),
        ))
        .await;
        Ok(())
    }
}

/// Accounts of the sign-on proxy never get a local password.
pub(super) fn proxy_has_no_password() -> AppError {
    AppError::Forbidden("Accounts of the sign-on proxy have no local password".into())
}
