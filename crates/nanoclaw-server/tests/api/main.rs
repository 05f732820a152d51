//! Integration suite: the real server on a random loopback port, a fresh database per test,
//! real HTTP. One binary so the suite links once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod execute_python;
mod helpers;

mod admin;
mod admin_credentials;
mod api_keys;
mod audit;
mod bench_smoke;
mod catalog;
mod chat;
mod cli;
mod concurrency;
mod cross_site;
mod db_outage;
mod hostile_paths;
mod import;
mod input_validation;
mod legacy_and_interop;
mod mode_boundary;
mod multi_mode;
mod openapi;
mod ops;
mod ops_cli;
mod projects;
mod proxy;
mod rate_limit;
mod revocation;
mod routing;
mod scale_out;
mod secret;
mod sessions;
mod single_mode;
mod single_safety;
mod tools;
mod ui;
mod user_cli;
mod web_tools;
mod write_bounds;
