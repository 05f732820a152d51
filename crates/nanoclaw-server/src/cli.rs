//! The `nanoclaw` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The version and the commit built from, as `--version` prints it: `0.1.0 (commit 1a2b3c4)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("NANOCLAW_GIT_COMMIT"),
    ")"
);

/// nanoclaw: a self-hosted LLM assistant server, wire-compatible with nanoClaw.
#[derive(Debug, Parser)]
#[command(name = "nanoclaw", version = VERSION, about)]
pub struct Cli {
    /// Configuration file (a missing file means built-in defaults).
    #[arg(
        long,
        short,
        global = true,
        default_value = "config.yml",
        env = "NANOCLAW_CONFIG"
    )]
    pub config: PathBuf,
    /// Address to bind (overrides `backend_host`).
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Port to bind (overrides `backend_port`).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy an existing nanoClaw database into the configured one (ids, timestamps and
    /// password hashes kept; rows already present are skipped, so it can be run again).
    Import {
        /// The database to read: a SQLite file path or a sqlite:, postgres:// or mysql:// URL
        /// (SQLAlchemy's mysql+pymysql:// works too).
        #[arg(long, value_name = "DATABASE")]
        from: String,
        /// Add the missing rows even though the target already has data.
        #[arg(long)]
        merge: bool,
    },
    /// Configuration commands.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        action: ConfigCommand,
    },
}

/// `nanoclaw config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config file and print the effective settings, secrets redacted (exit 0 when
    /// valid, 2 with the error otherwise).
    Check,
}
