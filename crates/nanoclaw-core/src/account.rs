//! Sessions, API keys and audit records: the server-side state behind authentication.

use chrono::NaiveDateTime;

/// A login session; its id is the `jti` of the tokens issued for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// UUID, the token's `jti`.
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// When the session was created (login or register).
    pub created_at: NaiveDateTime,
    /// Last authenticated request (debounced).
    pub last_seen_at: NaiveDateTime,
    /// When the newest token of this session expires.
    pub expires_at: NaiveDateTime,
    /// Client address at login.
    pub ip: Option<String>,
    /// Client `User-Agent` at login (truncated).
    pub user_agent: Option<String>,
    /// Set when the session was ended.
    pub revoked_at: Option<NaiveDateTime>,
}

impl Session {
    /// True while the session may authenticate requests.
    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// An API key (never its secret: only a hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// UUID.
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// Name given by the user.
    pub name: String,
    /// First characters of the key, shown to recognise it (`nck_1a2b3c4d`).
    pub prefix: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last use (debounced).
    pub last_used_at: Option<NaiveDateTime>,
    /// Expiry, if any.
    pub expires_at: Option<NaiveDateTime>,
}

impl ApiKey {
    /// True while the key may authenticate requests.
    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

/// `success` or `failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was refused.
    Failure,
}

impl Outcome {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One audit event to record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// What happened, e.g. `login`, `role_change`.
    pub action: &'static str,
    /// Success or failure.
    pub outcome: Outcome,
    /// Who did it (none: anonymous or the CLI).
    pub actor_id: Option<i64>,
    /// Whom it concerned.
    pub target_id: Option<i64>,
    /// The username involved (e.g. the one a failed login tried). Never a password.
    pub username: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Short extra detail (e.g. `role=admin`, `via=cli`).
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An entry with only action and outcome set.
    pub fn new(action: &'static str, outcome: Outcome) -> Self {
        Self {
            action,
            outcome,
            actor_id: None,
            target_id: None,
            username: None,
            ip: None,
            detail: None,
        }
    }
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing id (the pagination cursor).
    pub id: i64,
    /// When.
    pub created_at: NaiveDateTime,
    /// What.
    pub action: String,
    /// `success` / `failure`.
    pub outcome: String,
    /// Who.
    pub actor_id: Option<i64>,
    /// Whom.
    pub target_id: Option<i64>,
    /// Username involved.
    pub username: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Extra detail.
    pub detail: Option<String>,
}
