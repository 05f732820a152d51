//! Repositories: one module per table, methods on [`crate::Store`].

pub mod users;
