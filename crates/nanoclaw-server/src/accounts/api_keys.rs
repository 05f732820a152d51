//! API keys: `nck_…` secrets shown once, stored as SHA-256.

use chrono::TimeDelta;
use nanoclaw_core::account::ApiKey;
use nanoclaw_core::auth::opaque;
use nanoclaw_core::time::now_utc;
use nanoclaw_store::NewApiKey;

use super::{Accounts, Caller, ClientInfo, Via};
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;

/// Longest key name.
const NAME_MAX: usize = 100;
/// Longest lifetime a key may be given.
const MAX_DAYS: i64 = 3650;
/// An account without a password creates keys only from a session at most this old.
const FRESH_SESSION: TimeDelta = TimeDelta::minutes(10);

/// A key just created, with its secret (shown this once).
pub struct CreatedKey {
    /// The stored key.
    pub key: ApiKey,
    /// The secret.
    pub secret: String,
}

impl Accounts {
    fn keys_enabled(&self) -> ApiResult<()> {
        if self.settings.api_keys_enabled {
            Ok(())
        } else {
            Err(AppError::Forbidden("API keys are disabled".into()))
        }
    }

    /// `GET /api/auth/api-keys`.
    pub async fn api_keys(&self, caller: &Caller) -> ApiResult<Vec<ApiKey>> {
        self.keys_enabled()?;
        Ok(self.store.api_keys_of(caller.user.id).await?)
    }

    /// `POST /api/auth/api-keys` `{name, expires_in_days?, current_password}`. Not with an
    /// API key. A key outlives the session that made it, so making one asks for the password
    /// again (accounts without one: a session younger than ten minutes, or the sign-on
    /// proxy's own request); without `expires_in_days` it lives `api_key_expiry_days`.
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        body: &JsonObject,
        client: &ClientInfo,
    ) -> ApiResult<CreatedKey> {
        self.keys_enabled()?;
        if matches!(caller.via, Via::ApiKey(_)) {
            return Err(AppError::Forbidden(
                "API keys cannot create API keys".into(),
            ));
        }
        let name = body.str_field("name")?.unwrap_or_default().trim();
        if name.is_empty() {
            return Err(AppError::bad_request("Name is required"));
        }
        if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
            return Err(AppError::bad_request(format!(
                "Name must be at most {NAME_MAX} printable characters"
            )));
        }
        let days = match body.0.get("expires_in_days") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(d) if (1..=MAX_DAYS).contains(&d) => Some(d),
                _ => {
                    return Err(AppError::bad_request(format!(
                        "Field 'expires_in_days' must be a whole number from 1 to {MAX_DAYS}"
                    )));
                }
            },
        };
        self.reauthenticate(caller, body, client).await?;
        let now = now_utc();
        let lifetime = days.map_or(self.settings.api_key_lifetime, TimeDelta::days);
        let secret = opaque::new_secret(opaque::API_KEY_PREFIX);
        let key = self
            .store
            .create_api_key(
                NewApiKey {
                    id: uuid::Uuid::new_v4().to_string(),
                    user_id: caller.user.id,
                    name: name.to_owned(),
                    prefix: opaque::visible_part(&secret),
                    key_hash: opaque::digest(&secret),
                    expires_at: Some(now + lifetime),
                },
                now,
            )
            .await?;
        self.audit_own(
            "api_key_create",
            &caller.user,
            client,
            Some(format!("key={}", key.id)),
        )
        .await;
        Ok(CreatedKey { key, secret })
    }

    /// Proof that the person at the keyboard is the account holder, for creating a key.
    async fn reauthenticate(
        &self,
        caller: &Caller,
        body: &JsonObject,
        client: &ClientInfo,
    ) -> ApiResult<()> {
        if caller.via == Via::Single {
            return Ok(());
        }
        if caller.user.password_hash.is_some() {
            let current = body.str_field("current_password")?;
            return self
                .check_current_password(&caller.user, current, client, "api_key_create")
                .await;
        }
        let fresh = match &caller.via {
            Via::TrustedHeader => true,
            Via::Session(id) => {
                let session = self.store.session_by_id(id).await?;
                session.is_some_and(|s| s.created_at > now_utc() - FRESH_SESSION)
            }
            _ => false,
        };
        if fresh {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "Sign in again to create an API key (the session must be under 10 minutes old)"
                    .into(),
            ))
        }
    }

    /// `DELETE /api/auth/api-keys/:id`.
    pub async fn delete_api_key(
        &self,
        caller: &Caller,
        id: &str,
        client: &ClientInfo,
    ) -> ApiResult<()> {
        self.keys_enabled()?;
        if !self.store.delete_api_key(caller.user.id, id).await? {
            return Err(AppError::NotFound("API key not found".into()));
        }
        self.audit_own(
            "api_key_revoke",
            &caller.user,
            client,
            Some(format!("key={id}")),
        )
        .await;
        Ok(())
    }
}
