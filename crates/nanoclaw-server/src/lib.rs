//! The nanoclaw server: HTTP API over the account service and the store.

pub mod accounts;
pub mod app;
pub mod chat;
pub mod cli;
pub mod error;
pub mod http;
pub mod import_cmd;
pub mod logging;
pub mod metrics;
pub mod projects;
pub mod state;
pub mod user_cmd;
