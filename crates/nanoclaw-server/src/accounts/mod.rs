//! Accounts: who the caller is, login and sessions, registration, profile changes, API keys,
//! administration and the audit trail.
//!
//! The HTTP handlers stay thin; the rules of spec/auth.md and issue #4 live here.

mod admin;
mod api_keys;
mod authenticate;
pub mod cache;
pub mod hashing;
pub mod input;
mod legacy;
mod rate_limit;
mod sessions;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use nanoclaw_core::account::{AuditEntry, Outcome};
use nanoclaw_core::auth::jwt::JwtKeys;
use nanoclaw_core::auth::policy::PasswordPolicy;
use nanoclaw_core::config::{Registration, TrustedHeaderConfig};
use nanoclaw_core::time::now_utc;
use nanoclaw_core::{AuthMode, Config, Secret, User};
use nanoclaw_store::{NewSession, Store};

pub use admin::{Page, UserPatch, page_params as admin_page_params};
pub use api_keys::CreatedKey;
pub use authenticate::{AuthRequest, Caller, Via};
pub use hashing::Hasher;
pub use legacy::LegacyTokenPolicy;
pub use rate_limit::LoginLimiter;

use crate::error::{ApiResult, AppError};

/// `last_login_at`, a session's `last_seen_at` and a key's `last_used_at` are refreshed by
/// requests at most this often.
const ACTIVITY_DEBOUNCE: TimeDelta = TimeDelta::minutes(1);
/// `last_login_at` debounce of nanoClaw (an hour).
const LAST_SEEN_DEBOUNCE: TimeDelta = TimeDelta::hours(1);
/// Longest stored `User-Agent`.
const USER_AGENT_MAX: usize = 255;

/// A token and the user it was issued for.
pub struct Session {
    /// The bearer token.
    pub token: String,
    /// The user.
    pub user: Arc<User>,
}

/// Who is asking and from where, for sessions and the audit log.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Client address (after trusted proxies).
    pub ip: IpAddr,
    /// `User-Agent`, if sent.
    pub user_agent: Option<String>,
}

/// Settings the account service needs, copied out of the configuration.
#[derive(Debug, Clone)]
struct Settings {
    mode: AuthMode,
    registration: Registration,
    api_keys_enabled: bool,
    /// Lifetime of an API key whose request names none.
    api_key_lifetime: TimeDelta,
    policy: PasswordPolicy,
    trusted_header: Option<TrustedHeaderConfig>,
    trusted_proxies: Vec<ipnet::IpNet>,
    single_token: Option<Secret>,
    workspace_root: std::path::PathBuf,
    legacy_tokens: LegacyTokenPolicy,
}

impl Settings {
    /// Password login and registration are off behind a sign-on proxy unless the operator
    /// turned them on.
    fn local_login_allowed(&self) -> bool {
        self.trusted_header
            .as_ref()
            .is_none_or(|cfg| cfg.allow_local_login)
    }
}

/// The account service.
#[derive(Debug)]
pub struct Accounts {
    store: Store,
    settings: Settings,
    jwt: JwtKeys,
    hasher: Hasher,
    limiter: LoginLimiter,
    cache: std::sync::Arc<cache::AuthCache>,
    /// Id of the `default` user in single mode.
    default_user_id: Option<i64>,
    /// Last time an untrusted trusted-header attempt was logged (Unix seconds).
    untrusted_header_logged: std::sync::atomic::AtomicI64,
}

impl Accounts {
    /// Builds the service. In single mode `default_user_id` names the built-in user.
    pub fn new(
        store: Store,
        config: &Config,
        jwt: JwtKeys,
        hasher: Hasher,
        cache: std::sync::Arc<cache::AuthCache>,
        default_user_id: Option<i64>,
        legacy_tokens: LegacyTokenPolicy,
    ) -> Self {
        Self {
            store,
            settings: Settings {
                mode: config.auth_mode,
                registration: config.registration,
                api_keys_enabled: config.api_keys_enabled,
                api_key_lifetime: TimeDelta::days(i64::from(config.api_key_expiry_days)),
                policy: PasswordPolicy {
                    min_length: usize::try_from(config.password_min_length).unwrap_or(usize::MAX),
                    min_score: config.password_min_score,
                },
                trusted_header: config.trusted_header.clone(),
                trusted_proxies: config.trusted_proxies.clone(),
                single_token: config.single_token.clone(),
                workspace_root: config.workspace_root.clone(),
                legacy_tokens,
            },
            jwt,
            hasher,
            limiter: LoginLimiter::new(config.login_rate_limit),
            cache,
            default_user_id,
            untrusted_header_logged: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The configured mode.
    pub fn mode(&self) -> AuthMode {
        self.settings.mode
    }

    /// The authentication cache (fed by the server's change poller).
    pub fn cache(&self) -> std::sync::Arc<cache::AuthCache> {
        self.cache.clone()
    }

    /// The login limiter (pruned periodically by the server).
    pub fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }

    /// Proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &[ipnet::IpNet] {
        &self.settings.trusted_proxies
    }

    /// Records an audit event; a failure to record is logged, never fatal to the request.
    async fn audit(&self, entry: AuditEntry) {
        let action = entry.action;
        if let Err(e) = self.store.record_audit(entry).await {
            tracing::warn!(action, error = %e, "could not write the audit log");
        }
    }

    /// Audit entry about `target`, done by `actor`, from `client`.
    fn event(
        action: &'static str,
        outcome: Outcome,
        actor: Option<&User>,
        target: Option<&User>,
        client: Option<&ClientInfo>,
    ) -> AuditEntry {
        AuditEntry {
            actor_id: actor.map(|u| u.id),
            target_id: target.map(|u| u.id),
            username: target.or(actor).map(|u| u.username.clone()),
            ip: client.map(|c| c.ip.to_string()),
            ..AuditEntry::new(action, outcome)
        }
    }

    /// Records a successful action users took on their own account (key, session, logout).
    async fn audit_own(
        &self,
        action: &'static str,
        user: &User,
        client: &ClientInfo,
        detail: Option<String>,
    ) {
        self.audit(AuditEntry {
            detail,
            ..Self::event(action, Outcome::Success, Some(user), None, Some(client))
        })
        .await;
    }

    /// A 429, written to the audit log (and the log) the first time its key is limited in a
    /// window only: a flood of limited requests must not become a flood of writes. The
    /// username is recorded only when such a user exists.
    async fn limited(
        &self,
        check: Result<(), rate_limit::Limited>,
        username: Option<&str>,
        client: &ClientInfo,
    ) -> ApiResult<()> {
        let Err(limited) = check else {
            return Ok(());
        };
        if limited.first_in_window {
            tracing::info!(
                retry_after_secs = limited.retry_after_secs,
                "login rate limit reached"
            );
            let username = match username {
                Some(name) => self
                    .store
                    .user_by_username(name)
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.username),
                None => None,
            };
            self.audit(AuditEntry {
                username,
                ip: Some(client.ip.to_string()),
                ..AuditEntry::new("rate_limit", Outcome::Failure)
            })
            .await;
        }
        Err(AppError::TooManyRequests {
            retry_after_secs: limited.retry_after_secs,
        })
    }

    /// Checks a new password against the policy.
    fn check_password(&self, password: &str, context: &[&str]) -> ApiResult<()> {
        self.settings
            .policy
            .check(password, context)
            .map_err(AppError::bad_request)
    }

    /// Starts a server-side session for `user` and issues its first token.
    async fn start_session(
        &self,
        user: impl Into<Arc<User>>,
        client: &ClientInfo,
    ) -> ApiResult<Session> {
        let user = user.into();
        let now = now_utc();
        let id = uuid::Uuid::new_v4().to_string();
        let expires_at = now + TimeDelta::seconds(self.jwt.expiry_secs());
        let user_agent = client
            .user_agent
            .as_ref()
            .map(|ua| ua.chars().take(USER_AGENT_MAX).collect::<String>());
        self.store
            .create_session(
                NewSession {
                    id: id.clone(),
                    user_id: user.id,
                    expires_at,
                    ip: Some(client.ip.to_string()),
                    user_agent,
                },
                now,
            )
            .await?;
        self.token_for(user, Some(&id), now)
    }

    fn token_for(
        &self,
        user: impl Into<Arc<User>>,
        session_id: Option<&str>,
        now: NaiveDateTime,
    ) -> ApiResult<Session> {
        let user = user.into();
        let token = self
            .jwt
            .issue(&user, session_id, now.and_utc().timestamp())
            .map_err(AppError::internal)?;
        Ok(Session { token, user })
    }

    /// Removes the user's workspace directory (`workspace_root/user_<id>`).
    async fn remove_workspace(&self, user_id: i64) {
        let dir = self.settings.workspace_root.join(format!("user_{user_id}"));
        let result = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(user_id, error = %e, "could not remove the user's workspace")
            }
            Err(e) => tracing::warn!(user_id, error = %e, "workspace removal task failed"),
        }
    }
}

/// How long a password-reset token lives.
pub const RESET_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
