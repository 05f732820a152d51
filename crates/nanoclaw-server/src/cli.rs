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
    /// Allow single-user mode on a non-loopback address without `single_token` (anyone who
    /// can reach the port then acts as the admin).
    #[arg(long, global = true)]
    pub insecure_allow_remote: bool,
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
    /// Manage accounts in the configured database (the server may be running or not).
    User {
        /// What to do.
        #[command(subcommand)]
        action: UserCommand,
    },
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

/// `nanoclaw user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (asks for the password, or reads it with --password-stdin).
    Add {
        /// Login name.
        username: String,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// `user` or `admin`.
        #[arg(long, default_value = "user")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List every account.
    List,
    /// Set a password (ends the user's sessions and API keys). `passwd default` lets the
    /// single-mode user log in after switching to multi mode.
    Passwd {
        /// Login name.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Make an account `admin` or `user`.
    SetRole {
        /// Login name.
        username: String,
        /// `admin` or `user`.
        role: String,
    },
    /// Disable an account (ends its sessions and API keys).
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled account.
    Enable {
        /// Login name.
        username: String,
    },
    /// Delete an account with all its data and workspace files.
    Delete {
        /// Login name.
        username: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Change a login name.
    Rename {
        /// Current login name.
        username: String,
        /// New login name.
        new_username: String,
    },
}
