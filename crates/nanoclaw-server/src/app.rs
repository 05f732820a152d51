//! Building the application from a configuration and serving it on a listener.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use nanoclaw_core::auth::jwt::{Audience, JwtKeys};
use nanoclaw_core::auth::secret_file;
use nanoclaw_core::config::DatabaseTarget;
use nanoclaw_core::time::now_utc;
use nanoclaw_core::{AuthMode, Config, Secret};
use nanoclaw_store::Store;
use tokio::net::TcpListener;

use crate::accounts::cache::{AuthCache, poll_changes};
use crate::accounts::{Accounts, Hasher, LegacyTokenPolicy, hashing};
use crate::chat::Chat;
use crate::http;
use crate::http::routes::catalog;
use crate::projects::Projects;
use crate::state::{AppState, Inner};

/// Connects to the database, applies migrations, prepares the auth state.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let target = config.database_target();
    let store = Store::connect(&target)
        .await
        .with_context(|| format!("cannot open the database ({})", describe_target(&target)))?;
    store.migrate().await.context("database migration failed")?;
    // Every committed change to someone's access evicts them from this process's cache.
    let cache = std::sync::Arc::new(AuthCache::default());
    let evict = cache.clone();
    let store = store.with_auth_listener(std::sync::Arc::new(move |user_id| {
        evict.forget_user(user_id)
    }));
    if let DatabaseTarget::SqliteFile(path) = &target {
        tracing::info!(database = %path.display(), "using SQLite database");
    } else {
        tracing::info!(backend = store.backend_name(), "using database");
    }

    if config.metrics_addr.is_some() {
        crate::metrics::install().map_err(|e| anyhow::anyhow!("cannot install metrics: {e}"))?;
    }

    let secret = jwt_secret(&config)?;
    let default_user_id = match config.auth_mode {
        AuthMode::Single => Some(store.ensure_default_user(now_utc()).await?.id),
        AuthMode::Multi => None,
    };
    let permits = std::thread::available_parallelism().map_or(2, usize::from);
    let legacy_tokens = LegacyTokenPolicy::load(config.accept_legacy_tokens, &store)
        .await
        .context("cannot read the import record")?;
    let accounts = Accounts::new(
        store.clone(),
        &config,
        JwtKeys::new(
            secret.expose().as_bytes(),
            config.jwt_expiry,
            Audience::for_mode(config.auth_mode),
        ),
        Hasher::new(permits, permits * hashing::QUEUE_PER_PERMIT),
        cache,
        default_user_id,
        legacy_tokens,
    );
    let workspaces = workspaces(&config)?;
    let projects = Projects::new(store.clone(), workspaces.clone());
    let chat = std::sync::Arc::new(
        Chat::new(store.clone(), projects.clone(), &config).map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    Ok(AppState::new(Inner {
        models_json: catalog::models_json(&config),
        tools_json: chat.tools_json(),
        config,
        store,
        accounts,
        chat,
        workspaces,
        projects,
    }))
}

/// Opens (creating if missing) `workspace_root` with the configured limits.
fn workspaces(config: &Config) -> anyhow::Result<nanoclaw_workspace::Workspaces> {
    let limits = nanoclaw_workspace::Limits {
        max_file_bytes: config.file_max_bytes,
        // 0 means no quota.
        user_quota_bytes: match config.user_quota_bytes {
            0 => u64::MAX,
            q => q,
        },
        max_search_results: usize::try_from(config.search_max_results).unwrap_or(usize::MAX),
        max_upload_files: usize::try_from(config.upload_max_files).unwrap_or(usize::MAX),
        max_upload_bytes: config.upload_max_bytes,
        ..nanoclaw_workspace::Limits::default()
    };
    nanoclaw_workspace::Workspaces::new(&config.workspace_root, limits).map_err(|e| {
        anyhow::anyhow!(
            "cannot open workspace_root {}: {e}",
            config.workspace_root.display()
        )
    })
}

/// The configured secret, or the one generated into `data_dir` when none usable is configured.
fn jwt_secret(config: &Config) -> anyhow::Result<Secret> {
    // A short secret is refused (multi mode) or warned about (single) by config validation.
    if let Some(secret) = config.usable_jwt_secret() {
        return Ok(secret.clone());
    }
    let (secret, created) = secret_file::load_or_create(&config.data_dir).with_context(|| {
        format!(
            "cannot read or create the JWT secret in {}",
            config.data_dir.display()
        )
    })?;
    if config.auth_mode == AuthMode::Multi {
        tracing::warn!(
            file = %secret_file::path_in(&config.data_dir).display(),
            created,
            "jwt_secret is not set (or is the published default); using the generated secret file"
        );
    }
    Ok(secret)
}

fn describe_target(target: &DatabaseTarget) -> String {
    match target {
        DatabaseTarget::SqliteFile(p) => p.display().to_string(),
        // Never print credentials (query parameters such as `?password=` included).
        DatabaseTarget::Url(u) => nanoclaw_core::config::redact_url(u.expose()),
    }
}

/// Serves `state` on `listener` until `shutdown` completes, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _tasks = BackgroundTasks::start(&state);
    let chat = state.chat.clone();
    let app = http::service(state);
    // On the signal, open answers get `stream_shutdown_grace` to finish; then they are cut
    // (each saves what it has), their responses end, and the connections' drain can complete.
    let signalled = {
        let chat = chat.clone();
        async move {
            shutdown.await;
            chat.begin_shutdown();
        }
    };
    let served = crate::http::serve::run(listener, app, signalled).await;
    chat.wait_for_streams(STREAMS_SAVE_LIMIT).await;
    served
}

/// How long the exit waits for cut answers to be saved.
const STREAMS_SAVE_LIMIT: Duration = Duration::from_secs(10);

/// The tasks a serving process runs beside its requests: the rate limiter's pruning, the
/// poll of other processes' auth changes (without it the auth cache is never trusted and
/// every request reads the database) and the audit log's retention. Stopped when dropped.
pub struct BackgroundTasks(Vec<tokio::task::JoinHandle<()>>);

impl BackgroundTasks {
    /// Spawns the tasks on the current runtime.
    pub fn start(state: &AppState) -> Self {
        let limiter = state.accounts.limiter().clone();
        let pruner = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limiter.prune();
            }
        });
        let poller = tokio::spawn(poll_changes(state.store.clone(), state.accounts.cache()));
        let mut tasks = vec![pruner, poller];
        if state.config.audit_retention_days > 0 {
            let keep = chrono::TimeDelta::days(i64::from(state.config.audit_retention_days));
            tasks.push(tokio::spawn(prune_audit(state.store.clone(), keep)));
        }
        Self(tasks)
    }
}

/// How often audit entries past their retention are deleted.
const AUDIT_PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes audit entries older than `keep`, at start and then hourly.
async fn prune_audit(store: nanoclaw_store::Store, keep: chrono::TimeDelta) {
    let mut tick = tokio::time::interval(AUDIT_PRUNE_EVERY);
    loop {
        tick.tick().await;
        match store.prune_audit(now_utc() - keep).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "audit entries past their retention deleted"),
            Err(e) => tracing::warn!(error = %e, "could not prune the audit log"),
        }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}
