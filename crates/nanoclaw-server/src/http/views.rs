//! JSON forms of accounts objects: the nanoClaw user object (spec auth.md §6, every key always
//! present) and the shapes of sessions, API keys, audit records and pages.

use nanoclaw_core::User;
use nanoclaw_core::account::{ApiKey, AuditRecord, Session};
use nanoclaw_core::time::{Rfc3339Micros, to_rfc3339_micros};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::Page;

fn ts(t: &chrono::NaiveDateTime) -> String {
    to_rfc3339_micros(t)
}

/// JSON form of a user; never includes the password hash.
#[derive(Serialize, ToSchema)]
pub struct UserView<'a> {
    id: i64,
    username: &'a str,
    #[schema(required = true)]
    email: Option<&'a str>,
    #[schema(required = true)]
    avatar: Option<&'a str>,
    /// `admin` or `user`.
    #[schema(examples("user"))]
    role: &'a str,
    is_active: bool,
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    created_at: Option<Rfc3339Micros>,
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    last_login_at: Option<Rfc3339Micros>,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            id: u.id,
            username: &u.username,
            email: u.email.as_deref(),
            avatar: u.avatar.as_deref(),
            role: &u.role,
            is_active: u.is_active,
            created_at: u.created_at.as_ref().map(Rfc3339Micros::new),
            last_login_at: u.last_login_at.as_ref().map(Rfc3339Micros::new),
        }
    }
}

/// A session in `GET /api/auth/sessions`.
#[derive(Serialize, ToSchema)]
pub struct SessionView<'a> {
    id: &'a str,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    #[schema(required = true)]
    ip: Option<&'a str>,
    #[schema(required = true)]
    user_agent: Option<&'a str>,
    /// True for the session the request came with.
    current: bool,
}

impl<'a> SessionView<'a> {
    /// `current` marks the session the request came with.
    pub fn new(s: &'a Session, current: Option<&str>) -> Self {
        Self {
            id: &s.id,
            created_at: ts(&s.created_at),
            last_seen_at: ts(&s.last_seen_at),
            expires_at: ts(&s.expires_at),
            ip: s.ip.as_deref(),
            user_agent: s.user_agent.as_deref(),
            current: current == Some(s.id.as_str()),
        }
    }
}

/// An API key in listings (never the secret).
#[derive(Serialize, ToSchema)]
pub struct ApiKeyView<'a> {
    id: &'a str,
    name: &'a str,
    /// The visible start of the key, to recognise it.
    prefix: &'a str,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime, required = true)]
    last_used_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    expires_at: Option<String>,
    /// The secret (`nck_…`): only in the reply to its creation, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

impl<'a> ApiKeyView<'a> {
    /// The listing form; `secret` only when just created.
    pub fn new(k: &'a ApiKey, secret: Option<&'a str>) -> Self {
        Self {
            id: &k.id,
            name: &k.name,
            prefix: &k.prefix,
            created_at: ts(&k.created_at),
            last_used_at: k.last_used_at.as_ref().map(ts),
            expires_at: k.expires_at.as_ref().map(ts),
            key: secret,
        }
    }
}

/// An audit record.
#[derive(Serialize, ToSchema)]
pub struct AuditView<'a> {
    id: i64,
    #[schema(format = DateTime)]
    created_at: String,
    /// E.g. `login`, `register`, `api_key_create`.
    action: &'a str,
    /// `success` or `failure`.
    outcome: &'a str,
    #[schema(required = true)]
    actor_id: Option<i64>,
    #[schema(required = true)]
    target_id: Option<i64>,
    #[schema(required = true)]
    username: Option<&'a str>,
    #[schema(required = true)]
    ip: Option<&'a str>,
    #[schema(required = true)]
    detail: Option<&'a str>,
}

impl<'a> From<&'a AuditRecord> for AuditView<'a> {
    fn from(r: &'a AuditRecord) -> Self {
        Self {
            id: r.id,
            created_at: ts(&r.created_at),
            action: &r.action,
            outcome: &r.outcome,
            actor_id: r.actor_id,
            target_id: r.target_id,
            username: r.username.as_deref(),
            ip: r.ip.as_deref(),
            detail: r.detail.as_deref(),
        }
    }
}

/// `{"items": […], "next_cursor": …, "has_more": …}` (spec api.md §3).
#[derive(Serialize, ToSchema)]
pub struct PageView<V> {
    items: Vec<V>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
    has_more: bool,
}

impl<V> PageView<V> {
    /// Renders a page with `view` for each item.
    pub fn new<'a, T>(page: &'a Page<T>, view: impl Fn(&'a T) -> V) -> Self {
        Self {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor.clone(),
            has_more: page.next_cursor.is_some(),
        }
    }
}
