//! The user object of nanoClaw's wire format (spec auth.md §6), every key always present.

use nanoclaw_core::User;
use nanoclaw_core::time::to_rfc3339_micros;
use serde::Serialize;

/// JSON form of a user; never includes the password hash.
#[derive(Serialize)]
pub struct UserView<'a> {
    id: i64,
    username: &'a str,
    email: Option<&'a str>,
    avatar: Option<&'a str>,
    role: &'a str,
    is_active: bool,
    created_at: Option<String>,
    last_login_at: Option<String>,
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
            created_at: u.created_at.as_ref().map(to_rfc3339_micros),
            last_login_at: u.last_login_at.as_ref().map(to_rfc3339_micros),
        }
    }
}
