//! SeaORM entities (crate-private: other crates see domain types only).

pub(crate) mod api_keys;
pub(crate) mod audit_log;
pub(crate) mod conversation_streams;
pub(crate) mod conversations;
pub(crate) mod messages;
pub(crate) mod password_reset_tokens;
pub(crate) mod projects;
pub(crate) mod sessions;
pub(crate) mod token_usage;
pub(crate) mod users;

/// A timestamp nanoClaw left empty (its columns are nullable) reads as the Unix epoch, so
/// that such rows sort oldest instead of breaking the API's non-null timestamps.
fn or_epoch(t: Option<sea_orm::prelude::DateTime>) -> sea_orm::prelude::DateTime {
    t.unwrap_or_default()
}
