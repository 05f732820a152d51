//! SeaORM entities (crate-private: other crates see domain types only).

pub(crate) mod api_keys;
pub(crate) mod audit_log;
pub(crate) mod password_reset_tokens;
pub(crate) mod sessions;
pub(crate) mod users;
