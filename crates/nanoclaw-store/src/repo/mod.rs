//! Repositories: one module per table, methods on [`crate::Store`].

pub mod api_keys;
pub mod audit;
pub mod auth_changes;
pub mod credentials;
pub mod meta;
pub mod sessions;
pub mod users;

/// Database ids are 32-bit; anything else names no row.
pub(crate) fn id_of(id: i64) -> Option<i32> {
    i32::try_from(id).ok()
}
