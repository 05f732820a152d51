//! The user account as the rest of the program sees it.

use chrono::NaiveDateTime;

/// Role name of administrators.
pub const ROLE_ADMIN: &str = "admin";
/// Role name of ordinary users.
pub const ROLE_USER: &str = "user";
/// Username of the built-in single-mode account.
pub const DEFAULT_USERNAME: &str = "default";

/// Column sizes of the `users` table (nanoClaw's schema); longer input is refused with a 400.
pub mod limits {
    /// `users.username` is varchar(50); usernames are 2..=50 code points.
    pub const USERNAME_MAX: usize = 50;
    /// Shortest username.
    pub const USERNAME_MIN: usize = 2;
    /// `users.email` is varchar(120).
    pub const EMAIL_MAX: usize = 120;
    /// `users.avatar` is varchar(512).
    pub const AVATAR_MAX: usize = 512;
    /// Longest password accepted (characters); bounds hashing work, never truncates.
    pub const PASSWORD_MAX: usize = 1024;
}

/// A stored user. Timestamps are naive UTC, as nanoClaw stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Integer id.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// argon2id PHC string, or a legacy Werkzeug hash; `None` = no password login.
    pub password_hash: Option<String>,
    /// Unique e-mail address, if any.
    pub email: Option<String>,
    /// Free text, meant to be a URL.
    pub avatar: Option<String>,
    /// `admin` or `user`.
    pub role: String,
    /// Disabled accounts cannot log in and their tokens stop working.
    pub is_active: bool,
    /// Creation time.
    pub created_at: Option<NaiveDateTime>,
    /// Last login or, debounced to an hour, last authenticated request.
    pub last_login_at: Option<NaiveDateTime>,
    /// Bumped whenever every earlier token must stop working (password change).
    pub token_version: i64,
    /// How the account was created: it decides which ways of signing in it accepts.
    pub auth_source: AuthSource,
}

/// How an account came to be, stored in `users.auth_source` (`NULL` = local).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthSource {
    /// Registered, created by an admin or the CLI, imported, or the single-mode `default`:
    /// signs in with a password (or not at all).
    #[default]
    Local,
    /// Created by a trusted reverse proxy's header: signs in only through that proxy and has
    /// no local password.
    Proxy,
}

impl AuthSource {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthSource::Local => "local",
            AuthSource::Proxy => "proxy",
        }
    }

    /// Reads a stored value; anything but `proxy` is a local account.
    pub fn from_stored(value: Option<&str>) -> Self {
        match value {
            Some("proxy") => AuthSource::Proxy,
            _ => AuthSource::Local,
        }
    }
}

impl User {
    /// True for administrators.
    pub fn is_admin(&self) -> bool {
        self.role == ROLE_ADMIN
    }

    /// True for accounts a trusted proxy created.
    pub fn is_proxy_account(&self) -> bool {
        self.auth_source == AuthSource::Proxy
    }
}
