//! nanoclaw's core: configuration, domain types and authentication primitives.
//!
//! Nothing here knows HTTP or the database layer.

pub mod account;
pub mod auth;
pub mod chat;
pub mod config;
pub mod project;
pub mod secret;
pub mod time;
pub mod user;

pub use config::{AuthMode, Config};
pub use secret::Secret;
pub use user::User;
