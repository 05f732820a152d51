//! `config.yml`: nanoClaw's keys plus nanoclaw's own, loaded once into an immutable [`Config`].
//!
//! Loading: read YAML → drop keys that have no value → expand `${NAME}`, `$NAME` and
//! `${NAME:-default}` in every string → apply `NANOCLAW__KEY[__SUBKEY]` environment overrides →
//! deserialize (errors name the key) → validate.

mod expand;
mod serde_helpers;
mod web;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use yaml_serde::{Mapping, Value};

pub use expand::expand;
pub use ipnet::IpNet;
pub use serde_helpers::{REDACTED, redact_url};
pub use web::{FetchConfig, NetRule, SearchBackend, WebSearchConfig};

use crate::secret::Secret;
use serde_helpers::{
    lenient_opt_secret, lenient_opt_string, lenient_string, opt_socket_addr, redacted_opt,
    redacted_url_opt,
};

/// The secret the original ships as its fallback; never accepted for signing tokens.
pub const PUBLISHED_DEFAULT_JWT_SECRET: &str = "nano-claw-default-secret-change-in-production";

/// Shortest `jwt_secret` accepted in multi mode (and warned about in single mode): an HMAC-SHA256
/// key should carry 256 bits.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Longest `jwt_expiry`: 90 days.
pub const MAX_JWT_EXPIRY_SECS: u64 = 90 * 24 * 3600;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "NANOCLAW__";

/// Keys the file may contain (anything else is reported as a warning, not an error).
const KNOWN_KEYS: &[&str] = &[
    "backend_host",
    "backend_port",
    "frontend_port",
    "metrics_addr",
    "log_format",
    "max_iterations",
    "tool_max_workers",
    "sub_agent",
    "code_execution",
    "models",
    "default_model",
    "db_type",
    "db_host",
    "db_port",
    "db_user",
    "db_password",
    "db_name",
    "db_sqlite_file",
    "database_url",
    "workspace_root",
    "data_dir",
    "auth_mode",
    "jwt_secret",
    "jwt_expiry",
    "password_min_length",
    "login_rate_limit",
    "cors_origins",
    "registration",
    "api_keys_enabled",
    "trusted_header",
    "trusted_proxies",
    "password_min_score",
    "allowed_hosts",
    "single_token",
    "api_key_expiry_days",
    "audit_retention_days",
    "accept_legacy_tokens",
    "llm_idle_timeout",
    "stream_shutdown_grace",
    "upload_max_bytes",
    "upload_max_files",
    "file_max_bytes",
    "user_quota_bytes",
    "search_max_results",
    "fetch",
    "web_search",
    "tools",
    "weather",
];

/// A configuration problem, naming the key and never showing its value (it may be a secret).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not YAML, or not a mapping at the top.
    #[error("{path}: not valid YAML: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A key has a wrong type or value.
    #[error("config key `{key}`: {message}")]
    Key {
        /// Dotted key path, e.g. `sub_agent.timeout`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn key_err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key: key.into(),
        message: message.into(),
    }
}

/// Single-user (no login) or multi-user (JWT) mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Every request acts as the built-in `default` admin.
    Single,
    /// Users register and log in; bearer tokens.
    Multi,
}

impl AuthMode {
    /// The wire name (`single` / `multi`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Single => "single",
            AuthMode::Multi => "multi",
        }
    }
}

/// Whether anyone may register (multi mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone may register (nanoClaw's behaviour).
    Open,
    /// Only admins create accounts.
    Closed,
}

/// `accept_legacy_tokens`: whether tokens without a session id or audience (minted by the
/// original nanoClaw, found with an imported database) are still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegacyTokens {
    /// Accepted for 30 days after the import, then refused.
    #[default]
    Auto,
    /// Always accepted (`true`).
    On,
    /// Never accepted (`false`).
    Off,
}

impl<'de> Deserialize<'de> for LegacyTokens {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // YAML booleans and their spellings as strings (an environment override is text).
        match Value::deserialize(d)? {
            Value::Bool(true) => Ok(LegacyTokens::On),
            Value::Bool(false) => Ok(LegacyTokens::Off),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "auto" => Ok(LegacyTokens::Auto),
                "true" | "on" | "yes" => Ok(LegacyTokens::On),
                "false" | "off" | "no" => Ok(LegacyTokens::Off),
                _ => Err(serde::de::Error::custom("expected auto, true or false")),
            },
            _ => Err(serde::de::Error::custom("expected auto, true or false")),
        }
    }
}

impl Serialize for LegacyTokens {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LegacyTokens::Auto => s.serialize_str("auto"),
            LegacyTokens::On => s.serialize_bool(true),
            LegacyTokens::Off => s.serialize_bool(false),
        }
    }
}

/// `trusted_header`: single sign-on through an authenticating reverse proxy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedHeaderConfig {
    /// Header naming the user, e.g. `X-Forwarded-User`.
    #[serde(deserialize_with = "lenient_string")]
    pub header: String,
    /// Header carrying the user's e-mail, used when the account is created.
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub email_header: Option<String>,
    /// Whether local registration and password login stay on next to the proxy sign-on.
    #[serde(default)]
    pub allow_local_login: bool,
}

/// Log line format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `pretty` when stderr is a terminal, `json` otherwise.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Database kind of the `db_*` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbType {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// MySQL or MariaDB.
    Mysql,
    /// PostgreSQL.
    Postgresql,
}

/// One entry of `models`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Model name sent upstream and shown to clients.
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    /// Display name.
    #[serde(deserialize_with = "lenient_string")]
    pub name: String,
    /// Full chat-completions URL (its query string may hold a key: redacted when printed).
    #[serde(
        deserialize_with = "lenient_string",
        serialize_with = "serde_helpers::redacted_url"
    )]
    pub api_url: String,
    /// Bearer token for `api_url`.
    #[serde(
        deserialize_with = "lenient_opt_secret",
        serialize_with = "redacted_opt"
    )]
    pub api_key: Option<Secret>,
    /// Whether streamed requests ask for usage (`stream_options.include_usage`); turn off for
    /// a server that refuses the field.
    #[serde(default = "default_true")]
    pub include_usage: bool,
}

fn default_true() -> bool {
    true
}

/// `sub_agent` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubAgentConfig {
    /// Rounds per sub-agent.
    pub max_iterations: u32,
    /// Sub-agents running at once.
    pub max_concurrency: u32,
    /// Seconds one sub-agent may run, its model calls and tools together (nanoClaw applied it
    /// to each model call).
    pub timeout: u64,
    /// Seconds one `multi_agent` call may run in all, waiting sub-agents included.
    pub deadline: u64,
}

impl Default for SubAgentConfig {
    fn default() -> Self {
        Self {
            max_iterations: 3,
            max_concurrency: 3,
            timeout: 60,
            deadline: 300,
        }
    }
}

/// `code_execution` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodeExecutionConfig {
    /// `lenient`, `standard` or `strict`.
    #[serde(deserialize_with = "lenient_string")]
    pub default_strictness: String,
    /// Extra importable modules per level.
    pub extra_allowed_modules: BTreeMap<String, Vec<String>>,
    /// The most permissive level the model may ask for; a more permissive request runs at
    /// this level (the result names the level used). Default `standard`: no `lenient`.
    #[serde(deserialize_with = "lenient_string")]
    pub max_strictness: String,
    /// The Python interpreter; unset = the first `python3` on `PATH`.
    pub python: Option<String>,
    /// How the conversation's project folder appears at `/project` in the sandbox.
    pub project_mount: ProjectMountMode,
    /// Address-space limit (`RLIMIT_AS`) of each sandbox process, MiB.
    pub memory_mb: u64,
    /// Processes and threads alive at once in one run.
    pub max_processes: u32,
    /// Largest file a run may write (`RLIMIT_FSIZE`), MiB.
    pub max_file_mb: u64,
    /// Size of the run's private `/tmp` (a tmpfs), MiB.
    pub scratch_mb: u64,
    /// Cap on each of stdout and stderr, bytes (a note is appended when cut).
    pub max_output_bytes: usize,
}

/// `code_execution.project_mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectMountMode {
    /// No project folder in the sandbox.
    None,
    /// Mounted read-only (the default).
    #[default]
    ReadOnly,
    /// Mounted read-write: code may change the project's files.
    ReadWrite,
}

impl Default for CodeExecutionConfig {
    fn default() -> Self {
        Self {
            default_strictness: "standard".into(),
            extra_allowed_modules: BTreeMap::new(),
            max_strictness: "standard".into(),
            python: None,
            project_mount: ProjectMountMode::ReadOnly,
            memory_mb: 512,
            max_processes: 32,
            max_file_mb: 16,
            scratch_mb: 64,
            max_output_bytes: 64 * 1024,
        }
    }
}

/// The built-in tools as `(name, category)`, in the registration order of tools.md §1: the
/// names the `tools:` section may use (anything else is warned about at start-up).
pub const BUILTIN_TOOLS: &[(&str, &str)] = &[
    ("execute_python", "code"),
    ("web_search", "crawler"),
    ("fetch_page", "crawler"),
    ("crawl_batch", "crawler"),
    ("calculator", "data"),
    ("text_process", "data"),
    ("json_process", "data"),
    ("file_read", "file"),
    ("file_write", "file"),
    ("file_delete", "file"),
    ("file_list", "file"),
    ("file_exists", "file"),
    ("file_mkdir", "file"),
    ("get_weather", "weather"),
    ("multi_agent", "agent"),
];

/// `tools` section: switches each built-in tool, or a whole category of them, on or off.
///
/// Keys are tool names (`execute_python`) or categories (`code`, `crawler`, `data`, `file`,
/// `weather`, `agent`; see [`BUILTIN_TOOLS`]); a tool's own key beats its category's. A tool named nowhere is on, unless the tool itself needs
/// configuration it lacks (e.g. `web_search` without a backend).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ToolsConfig {
    /// Tool or category name → enabled.
    pub enabled: BTreeMap<String, bool>,
}

impl ToolsConfig {
    /// Whether the tool `name` of category `category` is switched on.
    pub fn is_enabled(&self, name: &str, category: &str) -> bool {
        self.enabled
            .get(name)
            .or_else(|| self.enabled.get(category))
            .copied()
            .unwrap_or(true)
    }

    /// Keys that name neither a built-in tool nor a category (typos, switched off nothing).
    pub fn unknown_names(&self) -> Vec<&str> {
        self.enabled
            .keys()
            .map(String::as_str)
            .filter(|k| !BUILTIN_TOOLS.iter().any(|(n, c)| k == n || k == c))
            .collect()
    }
}

/// Where `get_weather` gets its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeatherProvider {
    /// nanoClaw's fixed sample table, marked `"simulated": true` (no network).
    #[default]
    Simulated,
    /// Open-Meteo's geocoding and forecast APIs (no key needed).
    OpenMeteo,
}

/// `weather` section: the provider of `get_weather`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeatherConfig {
    /// `simulated` (default) or `open_meteo`.
    pub provider: WeatherProvider,
    /// Open-Meteo geocoding endpoint (city name → coordinates).
    #[serde(deserialize_with = "lenient_string")]
    pub geocoding_url: String,
    /// Open-Meteo forecast endpoint (coordinates → current weather).
    #[serde(deserialize_with = "lenient_string")]
    pub forecast_url: String,
    /// Language of place names from the geocoder (e.g. `en`, `zh`).
    #[serde(deserialize_with = "lenient_string")]
    pub language: String,
    /// Seconds each provider request may take.
    pub timeout: u64,
}

impl Default for WeatherConfig {
    fn default() -> Self {
        Self {
            provider: WeatherProvider::Simulated,
            geocoding_url: "https://geocoding-api.open-meteo.com/v1/search".into(),
            forecast_url: "https://api.open-meteo.com/v1/forecast".into(),
            language: "en".into(),
            timeout: 10,
        }
    }
}

/// The whole configuration, validated. Relative paths are already resolved.
///
/// `Serialize` writes the effective settings with every secret shown as `[redacted]` (and only
/// the password of `database_url`), for `nanoclaw config check`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Address to bind.
    #[serde(deserialize_with = "lenient_string")]
    pub backend_host: String,
    /// Port to bind.
    pub backend_port: u16,
    /// Port of the front-end dev server (read by the front end only).
    pub frontend_port: Option<u16>,
    /// Address of the separate Prometheus metrics listener (unset = metrics off).
    #[serde(deserialize_with = "opt_socket_addr")]
    pub metrics_addr: Option<SocketAddr>,
    /// Log line format.
    pub log_format: LogFormat,
    /// LLM rounds per answer.
    pub max_iterations: u32,
    /// Parallel tool calls per round (1..=6).
    pub tool_max_workers: u32,
    /// Sub-agent limits.
    pub sub_agent: SubAgentConfig,
    /// Python tool settings.
    pub code_execution: CodeExecutionConfig,
    /// Available models.
    pub models: Vec<ModelConfig>,
    /// Model for conversations that name none.
    #[serde(deserialize_with = "lenient_string")]
    pub default_model: String,
    /// `sqlite`, `mysql` or `postgresql`.
    #[serde(deserialize_with = "lenient_string")]
    pub db_type: String,
    /// Database host (MySQL/PostgreSQL).
    #[serde(deserialize_with = "lenient_string")]
    pub db_host: String,
    /// Database port (default per type).
    pub db_port: Option<u16>,
    /// Database user.
    #[serde(deserialize_with = "lenient_opt_string")]
    pub db_user: Option<String>,
    /// Database password.
    #[serde(
        deserialize_with = "lenient_opt_secret",
        serialize_with = "redacted_opt"
    )]
    pub db_password: Option<Secret>,
    /// Database name.
    #[serde(deserialize_with = "lenient_opt_string")]
    pub db_name: Option<String>,
    /// SQLite file; relative names live in `data_dir`.
    #[serde(deserialize_with = "lenient_string")]
    pub db_sqlite_file: String,
    /// Full database URL; overrides the `db_*` keys.
    #[serde(
        deserialize_with = "lenient_opt_secret",
        serialize_with = "redacted_url_opt"
    )]
    pub database_url: Option<Secret>,
    /// Root of the project workspaces.
    pub workspace_root: PathBuf,
    /// Where the SQLite file and the generated JWT secret live.
    pub data_dir: PathBuf,
    /// `single` or `multi`.
    pub auth_mode: AuthMode,
    /// HMAC secret for tokens; generated into `data_dir` when missing or the published default.
    #[serde(
        deserialize_with = "lenient_opt_secret",
        serialize_with = "redacted_opt"
    )]
    pub jwt_secret: Option<Secret>,
    /// Token lifetime in seconds.
    pub jwt_expiry: u64,
    /// Minimum password length in characters.
    pub password_min_length: u32,
    /// Login attempts per minute per client IP and per username (0 = off).
    pub login_rate_limit: u32,
    /// Origins allowed to call the API from a browser (empty = same origin only).
    pub cors_origins: Vec<String>,
    /// `open` or `closed` registration.
    pub registration: Registration,
    /// Whether users may create and use API keys.
    pub api_keys_enabled: bool,
    /// Reverse-proxy single sign-on (needs `trusted_proxies`).
    pub trusted_header: Option<TrustedHeaderConfig>,
    /// Proxies (CIDRs) whose `X-Forwarded-For` and trusted header are believed.
    #[serde(
        deserialize_with = "serde_helpers::cidr_list",
        serialize_with = "serde_helpers::cidr_list_text"
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Lowest zxcvbn score (0–4) a new password needs; 0 turns the check off.
    pub password_min_score: u8,
    /// Extra `Host` names accepted in single mode besides loopback names and `backend_host`.
    pub allowed_hosts: Vec<String>,
    /// When set, single mode requires `Authorization: Bearer <single_token>`.
    #[serde(
        deserialize_with = "lenient_opt_secret",
        serialize_with = "redacted_opt"
    )]
    pub single_token: Option<Secret>,
    /// Lifetime in days of a new API key whose request names none.
    pub api_key_expiry_days: u32,
    /// Days audit rows are kept (0 = forever).
    pub audit_retention_days: u32,
    /// Whether tokens of an imported nanoClaw database (no session id) are accepted.
    pub accept_legacy_tokens: LegacyTokens,
    /// Seconds a model may send nothing before its answer counts as stalled.
    pub llm_idle_timeout: u64,
    /// Seconds open chat streams may go on after a shutdown signal before they are cut (their
    /// answers so far are saved).
    pub stream_shutdown_grace: u64,
    /// Largest folder upload (bytes, all files together).
    pub upload_max_bytes: u64,
    /// Most files in one folder upload.
    pub upload_max_files: u64,
    /// Largest single file written through the API (an uploaded file, a saved file) or by a
    /// file tool (bytes).
    pub file_max_bytes: u64,
    /// Bytes a user's project folders may hold together (0 = no quota).
    pub user_quota_bytes: u64,
    /// Most files a content search reports (the request's `max_results` is capped by it).
    pub search_max_results: u64,
    /// Which built-in tools are offered (`tools:` section).
    pub tools: ToolsConfig,
    /// Limits and address policy of `fetch_page`/`crawl_batch` (`fetch:` section).
    pub fetch: FetchConfig,
    /// The backend of `web_search` (`web_search:` section; none: no such tool).
    pub web_search: WebSearchConfig,
    /// The provider of `get_weather` (`weather:` section).
    pub weather: WeatherConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            backend_host: "127.0.0.1".into(),
            backend_port: 3000,
            frontend_port: None,
            metrics_addr: None,
            log_format: LogFormat::Auto,
            max_iterations: 5,
            tool_max_workers: 4,
            sub_agent: SubAgentConfig::default(),
            code_execution: CodeExecutionConfig::default(),
            models: Vec::new(),
            default_model: String::new(),
            db_type: "sqlite".into(),
            db_host: "localhost".into(),
            db_port: None,
            db_user: None,
            db_password: None,
            db_name: None,
            db_sqlite_file: "nano_claw.db".into(),
            database_url: None,
            workspace_root: PathBuf::from("workspaces"),
            data_dir: PathBuf::from("data"),
            auth_mode: AuthMode::Single,
            jwt_secret: None,
            jwt_expiry: 7 * 24 * 3600,
            password_min_length: 8,
            login_rate_limit: 10,
            cors_origins: Vec::new(),
            registration: Registration::Open,
            api_keys_enabled: true,
            trusted_header: None,
            trusted_proxies: Vec::new(),
            password_min_score: 2,
            allowed_hosts: Vec::new(),
            single_token: None,
            api_key_expiry_days: 90,
            audit_retention_days: 90,
            accept_legacy_tokens: LegacyTokens::Auto,
            llm_idle_timeout: 120,
            stream_shutdown_grace: 30,
            upload_max_bytes: GIB,
            upload_max_files: 20_000,
            file_max_bytes: 50 * MIB,
            user_quota_bytes: 10 * GIB,
            search_max_results: 200,
            tools: ToolsConfig::default(),
            fetch: FetchConfig::default(),
            web_search: WebSearchConfig::default(),
            weather: WeatherConfig::default(),
        }
    }
}

/// A loaded configuration and the non-fatal remarks made while loading it.
#[derive(Debug)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Things worth a warning in the log (unknown keys, fallbacks taken).
    pub warnings: Vec<String>,
    /// Whether a file was read (false: defaults and environment only).
    pub from_file: bool,
}

/// Where the database is.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// A SQLite file.
    SqliteFile(PathBuf),
    /// A URL for `sqlite:`, `postgres://` or `mysql://`.
    Url(Secret),
}

impl Config {
    /// Loads `path` (a missing file means defaults) with the process environment.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let cwd = std::env::current_dir().map_err(|source| ConfigError::Read {
            path: PathBuf::from("."),
            source,
        })?;
        Self::from_parts(
            text.as_deref(),
            &path.display().to_string(),
            std::env::vars(),
            |name| std::env::var(name).ok(),
            &cwd,
        )
    }

    /// Builds a configuration from file text (if any), environment overrides and a variable
    /// lookup; relative paths are resolved against `base_dir`.
    pub fn from_parts(
        text: Option<&str>,
        source_name: &str,
        env_vars: impl IntoIterator<Item = (String, String)>,
        lookup: impl Fn(&str) -> Option<String>,
        base_dir: &Path,
    ) -> Result<Loaded, ConfigError> {
        let mut warnings = Vec::new();
        let mut root = match text {
            None => Mapping::new(),
            Some(text) => match yaml_serde::from_str::<Value>(text) {
                Ok(Value::Null) => Mapping::new(),
                Ok(Value::Mapping(m)) => m,
                Ok(_) => {
                    return Err(ConfigError::Syntax {
                        path: source_name.into(),
                        message: "the top level must be a mapping of keys".into(),
                    });
                }
                Err(e) => {
                    // The parser names a position and what it expected, not the text there.
                    return Err(ConfigError::Syntax {
                        path: source_name.into(),
                        message: e.to_string(),
                    });
                }
            },
        };
        drop_nulls(&mut root);
        for key in root.keys() {
            match key.as_str() {
                Some(k) if KNOWN_KEYS.contains(&k) => {}
                Some(k) => warnings.push(format!("config key `{k}` is unknown and ignored")),
                None => return Err(key_err("(top level)", "keys must be strings")),
            }
        }
        let mut root = Value::Mapping(root);
        expand_strings(&mut root, "", &lookup)?;
        apply_env_overrides(&mut root, env_vars)?;

        let mut config: Config = serde_path_to_error::deserialize(root).map_err(|e| {
            let key = e.path().to_string();
            key_err(
                if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                serde_helpers::without_value(&e.into_inner().to_string()),
            )
        })?;
        config.validate(base_dir, &mut warnings)?;
        Ok(Loaded {
            config,
            warnings,
            from_file: text.is_some(),
        })
    }

    fn validate(&mut self, base_dir: &Path, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
        if self.backend_host.trim().is_empty() {
            return Err(key_err("backend_host", "must not be empty"));
        }
        web::validate(&self.fetch, &self.web_search)?;
        // Every count and duration is bounded, so that no value can overflow a computation or
        // make a request fail later (after a row was written).
        for (key, value, min, max) in [
            ("max_iterations", u64::from(self.max_iterations), 1, 100),
            ("tool_max_workers", u64::from(self.tool_max_workers), 1, 6),
            (
                "sub_agent.max_iterations",
                u64::from(self.sub_agent.max_iterations),
                1,
                100,
            ),
            (
                "sub_agent.max_concurrency",
                u64::from(self.sub_agent.max_concurrency),
                1,
                32,
            ),
            ("sub_agent.timeout", self.sub_agent.timeout, 1, 3600),
            ("sub_agent.deadline", self.sub_agent.deadline, 1, 3600),
            ("weather.timeout", self.weather.timeout, 1, 300),
            ("jwt_expiry", self.jwt_expiry, 60, MAX_JWT_EXPIRY_SECS),
            (
                "password_min_length",
                u64::from(self.password_min_length),
                1,
                1024,
            ),
            (
                "login_rate_limit",
                u64::from(self.login_rate_limit),
                0,
                10_000,
            ),
            (
                "password_min_score",
                u64::from(self.password_min_score),
                0,
                4,
            ),
            (
                "api_key_expiry_days",
                u64::from(self.api_key_expiry_days),
                1,
                3650,
            ),
            (
                "audit_retention_days",
                u64::from(self.audit_retention_days),
                0,
                36_500,
            ),
            ("llm_idle_timeout", self.llm_idle_timeout, 1, 3600),
            ("stream_shutdown_grace", self.stream_shutdown_grace, 0, 600),
            ("upload_max_bytes", self.upload_max_bytes, 1024, 1024 * GIB),
            ("upload_max_files", self.upload_max_files, 1, 1_000_000),
            ("file_max_bytes", self.file_max_bytes, 1024, 1024 * GIB),
            (
                "user_quota_bytes",
                self.user_quota_bytes,
                0,
                1024 * 1024 * GIB,
            ),
            ("search_max_results", self.search_max_results, 1, 10_000),
        ] {
            if !(min..=max).contains(&value) {
                return Err(key_err(key, format!("must be between {min} and {max}")));
            }
        }
        for name in self.tools.unknown_names() {
            warnings.push(format!(
                "tools: `{name}` is neither a built-in tool nor a tool category; it switches nothing"
            ));
        }
        for (key, url) in [
            ("weather.geocoding_url", &self.weather.geocoding_url),
            ("weather.forecast_url", &self.weather.forecast_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(key_err(key, "must be an http:// or https:// URL"));
            }
        }
        const LEVELS: [&str; 3] = ["lenient", "standard", "strict"];
        if !LEVELS.contains(&self.code_execution.default_strictness.as_str()) {
            return Err(key_err(
                "code_execution.default_strictness",
                format!("must be one of {}", LEVELS.join(", ")),
            ));
        }
        if !LEVELS.contains(&self.code_execution.max_strictness.as_str()) {
            return Err(key_err(
                "code_execution.max_strictness",
                format!("must be one of {}", LEVELS.join(", ")),
            ));
        }
        const MIB_MAX: u64 = 64 * 1024;
        for (key, value, min, max) in [
            (
                "code_execution.memory_mb",
                self.code_execution.memory_mb,
                64,
                MIB_MAX,
            ),
            (
                "code_execution.max_processes",
                u64::from(self.code_execution.max_processes),
                4,
                4096,
            ),
            (
                "code_execution.max_file_mb",
                self.code_execution.max_file_mb,
                1,
                MIB_MAX,
            ),
            (
                "code_execution.scratch_mb",
                self.code_execution.scratch_mb,
                1,
                MIB_MAX,
            ),
            (
                "code_execution.max_output_bytes",
                self.code_execution.max_output_bytes as u64,
                1024,
                16 * 1024 * 1024,
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(key_err(key, format!("must be between {min} and {max}")));
            }
        }
        for level in self.code_execution.extra_allowed_modules.keys() {
            if !LEVELS.contains(&level.as_str()) {
                return Err(key_err(
                    format!("code_execution.extra_allowed_modules.{level}"),
                    format!("unknown level; must be one of {}", LEVELS.join(", ")),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, m) in self.models.iter().enumerate() {
            if m.id.trim().is_empty() {
                return Err(key_err(format!("models[{i}].id"), "must not be empty"));
            }
            if !seen.insert(m.id.as_str()) {
                return Err(key_err(
                    format!("models[{i}].id"),
                    "an earlier model has the same id",
                ));
            }
            if !(m.api_url.starts_with("http://") || m.api_url.starts_with("https://")) {
                return Err(key_err(
                    format!("models[{i}].api_url"),
                    "must be an http:// or https:// URL",
                ));
            }
        }
        if !self.models.is_empty() && !self.models.iter().any(|m| m.id == self.default_model) {
            let first = self.models[0].id.clone();
            if !self.default_model.is_empty() {
                warnings.push(format!(
                    "default_model {:?} is not among `models`; using {first:?}",
                    self.default_model
                ));
            }
            self.default_model = first;
        }

        self.db_type = match self.db_type.to_ascii_lowercase().as_str() {
            "sqlite" => "sqlite".into(),
            "mysql" => "mysql".into(),
            "postgresql" | "postgres" => "postgresql".into(),
            _ => {
                return Err(key_err(
                    "db_type",
                    "unknown database type; use sqlite, mysql or postgresql",
                ));
            }
        };
        if let Some(url) = &self.database_url {
            let u = url.expose();
            if !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://")
                || u.starts_with("mysql://"))
            {
                return Err(key_err(
                    "database_url",
                    "must start with sqlite:, postgres://, postgresql:// or mysql://",
                ));
            }
        } else if self.db_type() != DbType::Sqlite {
            for (key, present) in [
                ("db_user", self.db_user.is_some()),
                ("db_password", self.db_password.is_some()),
                ("db_name", self.db_name.is_some()),
            ] {
                if !present {
                    return Err(key_err(
                        key,
                        format!("is required when db_type is {}", self.db_type),
                    ));
                }
            }
        }
        if self.db_sqlite_file.trim().is_empty() {
            return Err(key_err("db_sqlite_file", "must not be empty"));
        }

        self.workspace_root = absolutize(base_dir, &self.workspace_root);
        self.data_dir = absolutize(base_dir, &self.data_dir);
        if self.data_dir.starts_with(&self.workspace_root) {
            return Err(key_err(
                "data_dir",
                "is inside workspace_root; the database and secrets must not be reachable from project workspaces",
            ));
        }
        if let DatabaseTarget::SqliteFile(file) = self.database_target()
            && file.starts_with(&self.workspace_root)
        {
            return Err(key_err(
                "db_sqlite_file",
                "the SQLite file must not be inside workspace_root",
            ));
        }

        if let Some(secret) = self.usable_jwt_secret()
            && secret.expose().len() < MIN_JWT_SECRET_BYTES
        {
            let why = format!(
                "is shorter than {MIN_JWT_SECRET_BYTES} bytes; use a long random value \
                 (or leave it unset and a secret is generated into data_dir)"
            );
            match self.auth_mode {
                AuthMode::Multi => return Err(key_err("jwt_secret", why)),
                AuthMode::Single => warnings.push(format!("config key `jwt_secret` {why}")),
            }
        }
        if let Some(th) = &self.trusted_header {
            if !is_header_name(&th.header) {
                return Err(key_err("trusted_header.header", "is not a header name"));
            }
            if th
                .email_header
                .as_deref()
                .is_some_and(|e| !is_header_name(e))
            {
                return Err(key_err(
                    "trusted_header.email_header",
                    "is not a header name",
                ));
            }
            if self.trusted_proxies.is_empty() {
                return Err(key_err(
                    "trusted_header",
                    "needs trusted_proxies: the header is only believed from listed proxy addresses",
                ));
            }
        }
        if let Some(t) = &self.single_token
            && t.expose().len() < 16
        {
            return Err(key_err("single_token", "must be at least 16 characters"));
        }
        for (i, host) in self.allowed_hosts.iter().enumerate() {
            if host.is_empty() || host.contains(['/', ' ', '@']) {
                return Err(key_err(format!("allowed_hosts[{i}]"), "is not a host name"));
            }
        }
        for (i, origin) in self.cors_origins.iter().enumerate() {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.trim_end_matches('/').contains(['*', ' '])
                && origin.len() > "http://".len();
            if !ok {
                return Err(key_err(
                    format!("cors_origins[{i}]"),
                    "is not an origin like https://chat.example.com",
                ));
            }
        }
        Ok(())
    }

    /// The database kind named by `db_type`.
    pub fn db_type(&self) -> DbType {
        match self.db_type.as_str() {
            "mysql" => DbType::Mysql,
            "postgresql" => DbType::Postgresql,
            _ => DbType::Sqlite,
        }
    }

    /// Where the database lives: `database_url` if given, else built from the `db_*` keys
    /// (credentials URL-encoded).
    pub fn database_target(&self) -> DatabaseTarget {
        if let Some(url) = &self.database_url {
            return DatabaseTarget::Url(url.clone());
        }
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let user = self.db_user.as_deref().unwrap_or_default();
        let password = self
            .db_password
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        let name = self.db_name.as_deref().unwrap_or_default();
        let (scheme, default_port) = match self.db_type() {
            DbType::Sqlite => {
                let file = Path::new(&self.db_sqlite_file);
                return DatabaseTarget::SqliteFile(if file.is_absolute() {
                    file.to_owned()
                } else {
                    self.data_dir.join(file)
                });
            }
            DbType::Mysql => ("mysql", 3306),
            DbType::Postgresql => ("postgres", 5432),
        };
        let host = if self.db_host.contains(':') && !self.db_host.starts_with('[') {
            format!("[{}]", self.db_host)
        } else {
            self.db_host.clone()
        };
        DatabaseTarget::Url(Secret::new(format!(
            "{scheme}://{}:{}@{host}:{}/{}",
            enc(user),
            enc(password),
            self.db_port.unwrap_or(default_port),
            enc(name)
        )))
    }

    /// The configured JWT secret, unless it is missing, empty or the original's published default.
    pub fn usable_jwt_secret(&self) -> Option<&Secret> {
        self.jwt_secret
            .as_ref()
            .filter(|s| !s.is_empty() && s.expose() != PUBLISHED_DEFAULT_JWT_SECRET)
    }
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Lexically joins `path` onto `base` and removes `.`/`..` components (no file-system access).
fn absolutize(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    };
    let mut out = PathBuf::new();
    for comp in joined.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A key written with no value (`models:`) means "use the default", not a crash.
fn drop_nulls(map: &mut Mapping) {
    map.retain(|_, v| !v.is_null());
    for v in map.values_mut() {
        if let Value::Mapping(inner) = v {
            drop_nulls(inner);
        }
    }
}

fn expand_strings(
    value: &mut Value,
    path: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(s) => {
            *s = expand(s, lookup).map_err(|m| key_err(path, m))?;
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_strings(item, &format!("{path}[{i}]"), lookup)?;
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let name = k.as_str().unwrap_or("?");
                let child = if path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
                expand_strings(v, &child, lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn apply_env_overrides(
    root: &mut Value,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut overrides: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(ENV_PREFIX)
                .map(|rest| (rest.to_ascii_lowercase(), v))
        })
        .collect();
    overrides.sort();
    for (path, raw) in overrides {
        let parts: Vec<&str> = path.split("__").collect();
        let env_name = format!("{ENV_PREFIX}{}", path.to_ascii_uppercase());
        if parts.iter().any(|p| p.is_empty()) || !KNOWN_KEYS.contains(&parts[0]) {
            return Err(key_err(env_name, "does not name a configuration key"));
        }
        // The value is read as a YAML scalar or flow collection, so numbers, booleans and
        // `[a, b]` lists work; anything unparsable is taken as a plain string.
        let value = yaml_serde::from_str::<Value>(&raw).unwrap_or(Value::String(raw.clone()));
        let value = if value.is_null() {
            Value::String(raw)
        } else {
            value
        };
        let mut cursor = &mut *root;
        for (i, part) in parts.iter().enumerate() {
            let Value::Mapping(map) = cursor else {
                return Err(key_err(env_name, "overrides a key that is not a mapping"));
            };
            let key = Value::String((*part).to_owned());
            if i + 1 == parts.len() {
                map.insert(key, value);
                break;
            }
            cursor = map
                .entry(key)
                .or_insert_with(|| Value::Mapping(Mapping::new()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
