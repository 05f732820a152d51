//! Which tokens without a session id or audience are still honoured: those the Python
//! original issued before its database was imported (or PyJWT with the shared secret).
//!
//! They cannot be ended one by one (only by the user's token version), so they are accepted
//! only while `accept_legacy_tokens` says so — by default (`auto`) for 30 days after the
//! import — and never for a user created after the import.

use chrono::{NaiveDateTime, TimeDelta};
use nanoclaw_core::User;
use nanoclaw_core::config::LegacyTokens;
use nanoclaw_store::{LEGACY_IMPORT_AT, LEGACY_IMPORT_MAX_USER_ID, Store, StoreError};

/// How long `auto` accepts legacy tokens after the import.
const AUTO_WINDOW: TimeDelta = TimeDelta::days(30);

/// The rule, decided once at start-up from the configuration and the import record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyTokenPolicy {
    /// Accepted before this time (naive UTC); `None` = never.
    until: Option<NaiveDateTime>,
    /// Highest user id that came from the import; `None` = no import recorded.
    max_user_id: Option<i64>,
}

impl LegacyTokenPolicy {
    /// No legacy token is accepted.
    pub const NEVER: Self = Self {
        until: None,
        max_user_id: None,
    };

    /// The policy for `setting` and what the database says about an import.
    pub async fn load(setting: LegacyTokens, store: &Store) -> Result<Self, StoreError> {
        if setting == LegacyTokens::Off {
            return Ok(Self::NEVER);
        }
        let imported_at = store
            .meta(LEGACY_IMPORT_AT)
            .await?
            .and_then(|v| NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M:%S").ok());
        let max_user_id = store
            .meta(LEGACY_IMPORT_MAX_USER_ID)
            .await?
            .and_then(|v| v.parse::<i64>().ok());
        Ok(Self::decide(setting, imported_at, max_user_id))
    }

    fn decide(
        setting: LegacyTokens,
        imported_at: Option<NaiveDateTime>,
        max_user_id: Option<i64>,
    ) -> Self {
        let until = match setting {
            LegacyTokens::Off => None,
            LegacyTokens::On => Some(NaiveDateTime::MAX),
            LegacyTokens::Auto => imported_at.map(|at| at + AUTO_WINDOW),
        };
        Self { until, max_user_id }
    }

    /// True when a legacy token of `user` is honoured at `now`.
    pub fn accepts(&self, user: &User, now: NaiveDateTime) -> bool {
        self.until.is_some_and(|until| now < until)
            && self.max_user_id.is_none_or(|max| user.id <= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> User {
        User {
            id,
            username: "u".into(),
            password_hash: None,
            email: None,
            avatar: None,
            role: "user".into(),
            is_active: true,
            created_at: None,
            last_login_at: None,
            token_version: 0,
            auth_source: Default::default(),
        }
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn auto_accepts_imported_users_for_thirty_days() {
        let p = LegacyTokenPolicy::decide(
            LegacyTokens::Auto,
            Some(at("2026-01-01T00:00:00")),
            Some(10),
        );
        assert!(p.accepts(&user(10), at("2026-01-30T23:59:59")));
        assert!(!p.accepts(&user(10), at("2026-01-31T00:00:00")));
        assert!(!p.accepts(&user(11), at("2026-01-02T00:00:00")));
    }

    #[test]
    fn auto_without_an_import_and_off_accept_nothing() {
        let none = LegacyTokenPolicy::decide(LegacyTokens::Auto, None, None);
        assert!(!none.accepts(&user(1), at("2026-01-01T00:00:00")));
        let off =
            LegacyTokenPolicy::decide(LegacyTokens::Off, Some(at("2026-01-01T00:00:00")), Some(10));
        assert!(!off.accepts(&user(1), at("2026-01-01T00:00:01")));
    }

    #[test]
    fn on_accepts_always_but_never_users_created_after_an_import() {
        let free = LegacyTokenPolicy::decide(LegacyTokens::On, None, None);
        assert!(free.accepts(&user(99), at("2030-01-01T00:00:00")));
        let bounded =
            LegacyTokenPolicy::decide(LegacyTokens::On, Some(at("2026-01-01T00:00:00")), Some(10));
        assert!(bounded.accepts(&user(10), at("2030-01-01T00:00:00")));
        assert!(!bounded.accepts(&user(11), at("2030-01-01T00:00:00")));
    }
}
