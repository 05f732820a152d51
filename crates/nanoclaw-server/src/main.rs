//! `nanoclaw`: serve the API or run an operator command.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use nanoclaw_core::{AuthMode, Config};
use nanoclaw_server::app;
use nanoclaw_server::cli::{Cli, Command};
use nanoclaw_store::Store;
use tracing_subscriber::EnvFilter;

/// Exit code for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let config = match load_config(&cli) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("nanoclaw: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nanoclaw: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config, cli.insecure_allow_remote).await,
            Command::User { action } => nanoclaw_server::user_cmd::run(config, action).await,
            Command::Migrate => migrate(config).await,
            Command::Import { from, merge } => {
                nanoclaw_server::import_cmd::run(&config, &from, merge).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nanoclaw: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        // The default reports a failed log write with eprintln!, which panics when stderr is a
        // closed pipe: a dead log collector must not take the server down with it.
        .log_internal_errors(false)
        .init();
}

fn load_config(cli: &Cli) -> Result<Config, String> {
    let loaded = Config::load(&cli.config).map_err(|e| e.to_string())?;
    if !loaded.from_file {
        tracing::info!(path = %cli.config.display(), "no config file; using defaults");
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let mut config = loaded.config;
    if let Some(host) = &cli.host {
        config.backend_host = host.clone();
    }
    if let Some(port) = cli.port {
        config.backend_port = port;
    }
    Ok(config)
}

async fn serve(config: Config, insecure_allow_remote: bool) -> anyhow::Result<()> {
    let addr = (config.backend_host.clone(), config.backend_port);
    let mode = config.auth_mode;
    if mode == AuthMode::Single
        && config.single_token.is_none()
        && !is_loopback(&config.backend_host)
    {
        if !insecure_allow_remote {
            anyhow::bail!(
                "refusing to serve single-user mode on {} without single_token: anyone who can reach it would act as the admin \
                 (set single_token, use auth_mode: multi, bind 127.0.0.1, or pass --insecure-allow-remote)",
                config.backend_host
            );
        }
        tracing::warn!(
            host = %config.backend_host,
            "single-user mode on a non-loopback address without single_token: anyone who can reach this port acts as the admin"
        );
    }
    let state = app::build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {}:{}", addr.0, addr.1))?;
    let local = listener.local_addr().context("listener has no address")?;
    tracing::info!(mode = mode.as_str(), "nanoclaw listening on http://{local}");
    app::serve(listener, state, shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_target())
        .await
        .context("cannot open the database")?;
    store.migrate().await.context("migration failed")?;
    println!("migrations applied ({})", store.backend_name());
    store.close().await;
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing open requests");
}
