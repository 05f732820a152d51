//! Route handlers, one module per resource; each exposes `router()`.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod conversations;
pub mod health;
pub mod projects;
