//! `nanoclaw`: serve the API or run an operator command.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use nanoclaw_core::config::{DatabaseTarget, Loaded, redact_url};
use nanoclaw_core::{AuthMode, Config};
use nanoclaw_server::app;
use nanoclaw_server::cli::{Cli, Command, ConfigCommand};
use nanoclaw_store::Store;

/// Exit code for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    // One TLS provider (ring) for the LLM client and the database driver, chosen before either
    // builds a client.
    nanoclaw_llm::install_crypto_provider();
    let cli = Cli::parse();
    let loaded = match load_config(&cli) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("nanoclaw: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let insecure_allow_remote = cli.insecure_allow_remote;
    let command = match cli.command {
        Some(Command::Config {
            action: ConfigCommand::Check,
        }) => return config_check(&cli, &loaded),
        Some(command) => command,
        None => Command::Serve,
    };
    nanoclaw_server::logging::init(loaded.config.log_format);
    if !loaded.from_file {
        tracing::info!(path = %cli.config.display(), "no config file; using defaults");
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let config = loaded.config;
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
        match command {
            Command::Serve => serve(config, insecure_allow_remote).await,
            Command::User { action } => nanoclaw_server::user_cmd::run(config, action).await,
            Command::Migrate => migrate(config).await,
            Command::Import { from, merge } => {
                nanoclaw_server::import_cmd::run(&config, &from, merge).await
            }
            // Answered above, before logging starts.
            Command::Config { .. } => Ok(()),
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

/// The configuration file with the environment and `--host`/`--port` applied.
fn load_config(cli: &Cli) -> Result<Loaded, String> {
    let mut loaded = Config::load(&cli.config).map_err(|e| e.to_string())?;
    if let Some(host) = &cli.host {
        loaded.config.backend_host = host.clone();
    }
    if let Some(port) = cli.port {
        loaded.config.backend_port = port;
    }
    Ok(loaded)
}

/// `nanoclaw config check`: the effective settings as YAML on stdout, secrets redacted;
/// warnings on stderr. A missing file is an error here (`serve` would use the defaults).
fn config_check(cli: &Cli, loaded: &Loaded) -> ExitCode {
    if !loaded.from_file {
        eprintln!(
            "nanoclaw: {}: no such file (serve would start with the built-in defaults)",
            cli.config.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let settings = match yaml_serde::to_string(&loaded.config) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("nanoclaw: cannot print the settings: {e}");
            return ExitCode::FAILURE;
        }
    };
    for warning in &loaded.warnings {
        eprintln!("nanoclaw: warning: {warning}");
    }
    let database = match loaded.config.database_target() {
        DatabaseTarget::SqliteFile(path) => format!("SQLite file {}", path.display()),
        DatabaseTarget::Url(url) => redact_url(url.expose()),
    };
    // A closed stdout (`| head`) is not worth a panic.
    let _ = write!(
        std::io::stdout().lock(),
        "# {}: valid. Effective settings, secrets redacted.\n# database: {database}\n{settings}",
        cli.config.display()
    );
    ExitCode::SUCCESS
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
    let metrics_addr = config.metrics_addr;
    let state = app::build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {}:{}", addr.0, addr.1))?;
    if let Some(metrics_addr) = metrics_addr {
        let metrics = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .with_context(|| format!("cannot listen on metrics_addr {metrics_addr}"))?;
        let local = metrics.local_addr().context("listener has no address")?;
        // Not "listening on http://": scripts look for that phrase to find the API address.
        tracing::info!("metrics exporter at http://{local}/metrics");
        let store = state.store.clone();
        tokio::spawn(async move {
            if let Err(e) = nanoclaw_server::metrics::serve(metrics, store).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    // Installed before the address is announced: a signal handler registered lazily, on the
    // first poll of the shutdown future, left a window in which SIGTERM killed the process
    // without a graceful stop.
    let shutdown = shutdown_signal().context("cannot install the signal handlers")?;
    let local = listener.local_addr().context("listener has no address")?;
    tracing::info!(mode = mode.as_str(), "nanoclaw listening on http://{local}");
    app::serve(listener, state, shutdown)
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

/// Registers SIGINT and SIGTERM now and returns a future that completes on either.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutdown signal received; finishing open requests");
    })
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutdown signal received; finishing open requests");
        } else {
            std::future::pending::<()>().await;
        }
    })
}
