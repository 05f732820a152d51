//! The admin API: users, their sessions, reset tokens and the audit log.

use chrono::TimeDelta;
use nanoclaw_core::User;
use nanoclaw_core::account::{AuditEntry, AuditRecord, Outcome};
use nanoclaw_core::auth::opaque;
use nanoclaw_core::time::now_utc;
use nanoclaw_core::user::{ROLE_ADMIN, ROLE_USER};
use nanoclaw_store::{AdminUpdate, AuditFilter, StoreError};
use serde_json::Value;

use super::input::{RegisterInput, check_email};
use super::{Accounts, Caller, ClientInfo, RESET_TOKEN_LIFETIME};
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;

/// Default and largest page size of admin lists.
const PAGE_DEFAULT: u64 = 20;
const PAGE_MAX: u64 = 100;

/// A page of a cursor-paginated list.
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// A user change from `PATCH /api/admin/users/:id` or the CLI.
#[derive(Debug, Default)]
pub struct UserPatch {
    /// New role.
    pub role: Option<String>,
    /// Enable or disable.
    pub is_active: Option<bool>,
    /// New e-mail (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New password.
    pub password: Option<String>,
    /// New username.
    pub username: Option<String>,
}

impl UserPatch {
    /// Parses the admin PATCH body.
    pub fn parse(body: &JsonObject) -> ApiResult<Self> {
        let role = body.str_field("role")?.map(parse_role).transpose()?;
        let is_active = match body.0.get("is_active") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(AppError::bad_request("Field 'is_active' must be a boolean")),
        };
        let email = body
            .str_field("email")?
            .map(|e| check_email(e.trim()))
            .transpose()?;
        let password = body.str_field("password")?.map(str::to_owned);
        Ok(Self {
            role,
            is_active,
            email,
            password,
            username: None,
        })
    }
}

fn parse_role(role: &str) -> ApiResult<String> {
    match role {
        ROLE_ADMIN | ROLE_USER => Ok(role.to_owned()),
        _ => Err(AppError::bad_request("Role must be 'admin' or 'user'")),
    }
}

/// Reads `limit` (1..=100, default 20) and a numeric `cursor` from a query string.
pub fn page_params(limit: Option<&str>, cursor: Option<&str>) -> ApiResult<(u64, Option<i64>)> {
    let limit = match limit {
        None | Some("") => PAGE_DEFAULT,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| AppError::bad_request("Invalid limit: must be a whole number"))?
            .clamp(1, PAGE_MAX as i64) as u64,
    };
    let cursor = match cursor {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::bad_request("Invalid cursor"))?,
        ),
    };
    Ok((limit, cursor))
}

fn last_admin() -> AppError {
    AppError::Conflict("The last active admin cannot be demoted, disabled or deleted".into())
}

/// Admins change their own password where everyone does, with the current password.
fn own_password() -> AppError {
    AppError::Forbidden(
        "Change your own password with PATCH /api/auth/profile (it asks for the current one)"
            .into(),
    )
}

fn not_found() -> AppError {
    AppError::NotFound("User not found".into())
}

impl Accounts {
    /// `GET /api/admin/users`: by id, `cursor` = the last id of the previous page.
    pub async fn list_users(
        &self,
        caller: &Caller,
        limit: u64,
        cursor: Option<i64>,
    ) -> ApiResult<Page<User>> {
        caller.require_admin()?;
        let mut items = self.store.users_page(cursor, limit + 1).await?;
        Ok(paginate(&mut items, limit, |u| u.id.to_string()))
    }

    /// `POST /api/admin/users` `{username, password, email?, role?}`, also the CLI (`caller` =
    /// `None`).
    pub async fn admin_create_user(
        &self,
        caller: Option<&Caller>,
        body: &JsonObject,
        client: Option<&ClientInfo>,
    ) -> ApiResult<User> {
        if let Some(c) = caller {
            c.require_admin()?;
        }
        let input = RegisterInput::parse(body, &self.settings.policy)?;
        let role = body.str_field("role")?.map(parse_role).transpose()?;
        let user = self
            .create_account(input, role.as_deref().unwrap_or(ROLE_USER), false)
            .await?;
        let via = if caller.is_some() { "" } else { " via=cli" };
        self.audit(AuditEntry {
            detail: Some(format!("role={}{via}", user.role)),
            ..Self::event(
                "register",
                Outcome::Success,
                caller.map(|c| &*c.user),
                Some(&user),
                client,
            )
        })
        .await;
        Ok(user)
    }

    /// `PATCH /api/admin/users/:id`, also used by the CLI (`caller` = `None`).
    pub async fn admin_update_user(
        &self,
        caller: Option<&Caller>,
        id: i64,
        patch: UserPatch,
        client: Option<&ClientInfo>,
    ) -> ApiResult<User> {
        if let Some(c) = caller {
            c.require_admin()?;
        }
        let target = self.store.user_by_id(id).await?.ok_or_else(not_found)?;
        if patch.password.is_some() {
            if caller.is_some_and(|c| c.user.id == id) {
                return Err(own_password());
            }
            if target.is_proxy_account() {
                return Err(super::sessions::proxy_has_no_password());
            }
        }
        if let Some(Some(email)) = &patch.email
            && target.email.as_ref() != Some(email)
            && self.store.email_taken(email, Some(id)).await?
        {
            return Err(AppError::Conflict("Email already registered".into()));
        }
        if let Some(name) = &patch.username
            && self.store.user_by_username(name).await?.is_some()
        {
            return Err(AppError::Conflict(
                format!("Username '{name}' already exists").into(),
            ));
        }
        let password_hash = match &patch.password {
            Some(p) => {
                let mut context = vec![target.username.as_str()];
                context.extend(target.email.as_deref());
                self.check_password(p, &context)?;
                Some(self.hasher.hash(p).await?)
            }
            None => None,
        };
        let change = AdminUpdate {
            role: patch.role.clone(),
            is_active: patch.is_active,
            email: patch.email.clone(),
            password_hash,
            username: patch.username.clone(),
        };
        // A new password or a disable ends the user's sessions, API keys and reset tokens in
        // the same transaction as the change.
        let updated = match self.store.admin_update_user(id, change, now_utc()).await {
            Ok(Some(u)) => u,
            Ok(None) => return Err(not_found()),
            Err(StoreError::LastAdmin) => return Err(last_admin()),
            Err(e) => return Err(e.into()),
        };
        let actor = caller.map(|c| &*c.user);
        let via_cli = caller.is_none().then(|| "via=cli".to_owned());
        let mut events = Vec::new();
        if patch.role.as_ref().is_some_and(|r| *r != target.role) {
            events.push(("role_change", Some(format!("role={}", updated.role))));
        }
        match patch.is_active {
            Some(false) if target.is_active => events.push(("disable", None)),
            Some(true) if !target.is_active => events.push(("enable", None)),
            _ => {}
        }
        if patch.password.is_some() {
            events.push(("password_change", None));
        }
        if patch.email.is_some() {
            events.push(("email_change", None));
        }
        if let Some(name) = &patch.username {
            events.push((
                "rename",
                Some(format!("from={} to={name}", target.username)),
            ));
        }
        for (action, detail) in events {
            self.audit(AuditEntry {
                detail: detail.or_else(|| via_cli.clone()),
                ..Self::event(action, Outcome::Success, actor, Some(&updated), client)
            })
            .await;
        }
        Ok(updated)
    }

    /// `DELETE /api/admin/users/:id`, also the CLI: the user, all their data and workspace files.
    pub async fn admin_delete_user(
        &self,
        caller: Option<&Caller>,
        id: i64,
        client: Option<&ClientInfo>,
    ) -> ApiResult<()> {
        if let Some(c) = caller {
            c.require_admin()?;
        }
        let target = self.store.user_by_id(id).await?.ok_or_else(not_found)?;
        match self.store.delete_user(id).await {
            Ok(true) => {}
            Ok(false) => return Err(not_found()),
            Err(StoreError::LastAdmin) => return Err(last_admin()),
            Err(e) => return Err(e.into()),
        }
        self.remove_workspace(id).await;
        self.audit(AuditEntry {
            detail: caller.is_none().then(|| "via=cli".to_owned()),
            ..Self::event(
                "delete",
                Outcome::Success,
                caller.map(|c| &*c.user),
                Some(&target),
                client,
            )
        })
        .await;
        Ok(())
    }

    /// `POST /api/admin/users/:id/logout`: ends all of the user's sessions and tokens.
    pub async fn admin_logout_user(
        &self,
        caller: &Caller,
        id: i64,
        client: &ClientInfo,
    ) -> ApiResult<()> {
        caller.require_admin()?;
        let target = self.store.user_by_id(id).await?.ok_or_else(not_found)?;
        self.store.end_all_access(id, now_utc()).await?;
        self.audit(AuditEntry {
            detail: Some("all sessions".into()),
            ..Self::event(
                "logout",
                Outcome::Success,
                Some(&caller.user),
                Some(&target),
                Some(client),
            )
        })
        .await;
        Ok(())
    }

    /// `POST /api/admin/users/:id/reset-token`: a single-use token valid for an hour; the
    /// user's earlier tokens stop working.
    pub async fn admin_reset_token(
        &self,
        caller: &Caller,
        id: i64,
        client: &ClientInfo,
    ) -> ApiResult<(String, chrono::NaiveDateTime)> {
        caller.require_admin()?;
        if caller.user.id == id {
            return Err(own_password());
        }
        let target = self.store.user_by_id(id).await?.ok_or_else(not_found)?;
        if target.is_proxy_account() {
            return Err(super::sessions::proxy_has_no_password());
        }
        let token = opaque::new_secret(opaque::RESET_TOKEN_PREFIX);
        let now = now_utc();
        let lifetime = TimeDelta::from_std(RESET_TOKEN_LIFETIME).unwrap_or(TimeDelta::hours(1));
        let expires_at = now + lifetime;
        self.store
            .create_reset_token(opaque::digest(&token), id, now, expires_at)
            .await?;
        self.audit(Self::event(
            "reset_token_create",
            Outcome::Success,
            Some(&caller.user),
            Some(&target),
            Some(client),
        ))
        .await;
        Ok((token, expires_at))
    }

    /// `GET /api/admin/audit`: newest first, `cursor` = the last id of the previous page.
    pub async fn audit_log(
        &self,
        caller: &Caller,
        filter: AuditFilter,
        limit: u64,
        cursor: Option<i64>,
    ) -> ApiResult<Page<AuditRecord>> {
        caller.require_admin()?;
        let mut items = self.store.audit_page(&filter, cursor, limit + 1).await?;
        Ok(paginate(&mut items, limit, |r| r.id.to_string()))
    }
}

/// Cuts a `limit + 1` fetch to `limit` and derives the next cursor.
fn paginate<T>(items: &mut Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if has_more {
        items.last().map(cursor_of)
    } else {
        None
    };
    Page {
        items: std::mem::take(items),
        next_cursor,
    }
}
