//! `spawn_app()`: a real server on 127.0.0.1:0 with its own data directory and database.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use nanoclaw_core::Config;
use nanoclaw_server::app;
use nanoclaw_store::Store;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A running server and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Store,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// Config text for a multi-mode server with a fixed secret and no rate limit.
/// The password-strength check is off here so that tests of other rules can use simple
/// passwords; `accounts.rs` tests the default.
pub const MULTI: &str = "auth_mode: multi\njwt_secret: integration-test-secret-0123456789abcdef\nlogin_rate_limit: 0\npassword_min_score: 0\n";

/// Starts a server with `yaml` as config.yml in a fresh temporary directory.
pub async fn spawn_app(yaml: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_app_in(dir.path(), yaml).await;
    app._dir = Some(dir);
    app
}

/// Starts a server whose relative paths (data_dir, workspaces) live in `base`. Servers started
/// on the same `base` share one database.
pub async fn spawn_app_in(base: &Path, yaml: &str) -> TestApp {
    // As `main` does: one TLS provider before any HTTP client is built.
    nanoclaw_llm::install_crypto_provider();
    let mut config = load_config(base, yaml);
    // A test that names its own database keeps it.
    if config.database_url.is_none()
        && let Some(url) = test_database_url(base).await
    {
        config.database_url = Some(nanoclaw_core::Secret::new(url));
    }
    let state = app::build_state(config.clone())
        .await
        .expect("server state builds");
    let store = state.store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        app::serve(listener, state, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        addr,
        client: http_client(),
        store,
        config,
        shutdown: Some(tx),
        handle: Some(handle),
        _dir: None,
    }
}

/// Parses `yaml` as the config file of a server rooted at `base`.
pub fn load_config(base: &Path, yaml: &str) -> Config {
    Config::from_parts(Some(yaml), "config.yml", Vec::new(), |_| None, base)
        .expect("test config is valid")
        .config
}

/// Environment variable naming a PostgreSQL or MySQL/MariaDB server to run the suite against
/// (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); unset = SQLite files.
pub const TEST_DATABASE_ENV: &str = "NANOCLAW_TEST_DATABASE_URL";

/// With `NANOCLAW_TEST_DATABASE_URL` set: the URL of a database for `base`, created on first use
/// (one database per test directory, so tests never share data). `None` means SQLite.
pub async fn test_database_url(base: &Path) -> Option<String> {
    let server = std::env::var(TEST_DATABASE_ENV)
        .ok()
        .filter(|u| !u.is_empty())?;
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    base.hash(&mut h);
    let name = format!("nanoclaw_t_{:016x}", h.finish());
    nanoclaw_store::admin::ensure_database(&server, &name)
        .await
        .expect("test database can be created");
    Some(nanoclaw_store::admin::with_database_name(&server, &name))
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// A client whose connections come from `ip` (any 127.0.0.0/8 address), to act as
    /// another client machine.
    pub fn client_from(ip: &str) -> reqwest::Client {
        http_client_builder()
            .local_address(ip.parse::<IpAddr>().unwrap())
            .build()
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_profile(&self, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.patch(self.url("/api/auth/profile")).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Registers `username` with `password`; returns the token.
    pub async fn register(&self, username: &str, password: &str) -> String {
        let (status, body) = json_of(
            self.post(
                "/api/auth/register",
                &json!({"username": username, "password": password}),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "register {username}: {body}");
        body["data"]["token"].as_str().unwrap().to_owned()
    }

    /// Logs in; returns status and body.
    pub async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        json_of(
            self.post(
                "/api/auth/login",
                &json!({"username": username, "password": password}),
            )
            .await,
        )
        .await
    }

    /// GET /api/auth/profile with `token`.
    pub async fn profile(&self, token: Option<&str>) -> (StatusCode, Value) {
        json_of(self.get("/api/auth/profile", token).await).await
    }

    /// Stops the server and waits until it has closed.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
        self.store.clone().close().await;
    }
}

/// Status and JSON body; panics if the body is not JSON (every reply must be).
pub async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("non-JSON reply ({status}): {text:?}"));
    (status, body)
}

/// Asserts an error envelope with this status and message.
pub fn assert_error(status: StatusCode, body: &Value, expected_status: u16, message: &str) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(body["code"], expected_status, "{body}");
    assert_eq!(body["message"], message, "{body}");
}

/// The `nanoclaw` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_nanoclaw");

/// Spawns the binary in `dir` and returns it with a channel of its stderr lines.
pub fn start_binary(
    dir: &Path,
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after the receiver is gone, so the child never writes to a closed pipe.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Waits (at most 60 s) for a stderr line containing `needle`; returns every line seen so far.
pub fn wait_for_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(needle);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?}; saw {seen:#?}");
}

/// Sends SIGTERM to a started binary and asserts a graceful stop: the "shut down cleanly"
/// line, then exit status 0. Returns the stderr lines seen meanwhile.
pub fn stop_cleanly(
    child: &mut std::process::Child,
    rx: &std::sync::mpsc::Receiver<String>,
) -> Vec<String> {
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let lines = wait_for_line(rx, "shut down cleanly");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    lines
}

/// The `host:port` a started binary announced (in a human-readable or a JSON log line).
pub fn listening_addr(lines: &[String]) -> String {
    let line = lines
        .iter()
        .rev()
        .find(|l| l.contains("listening on http://"))
        .expect("listening line");
    line.split("http://")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
        .collect()
}

/// Polls `check` until it returns true or `limit` passes; returns whether it did.
pub async fn eventually<F, Fut>(limit: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// Any request with an optional bearer token and JSON body; returns status and JSON.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        json_of(req.send().await.unwrap()).await
    }

    /// Registers and returns (token, user id).
    pub async fn register_id(&self, username: &str, password: &str) -> (String, i64) {
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/register",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "register {username}: {body}");
        (
            body["data"]["token"].as_str().unwrap().to_owned(),
            body["data"]["user"]["id"].as_i64().unwrap(),
        )
    }

    /// Audit records of `action` (newest first), read through the admin API.
    pub async fn audit(&self, admin_token: &str, action: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                "GET",
                &format!("/api/admin/audit?action={action}&limit=100"),
                Some(admin_token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"]["items"].as_array().unwrap().clone()
    }
}

impl TestApp {
    /// A URL for opening this server's database directly (SQLite file or server URL).
    pub fn database_url(&self) -> String {
        match self.config.database_target() {
            nanoclaw_core::config::DatabaseTarget::SqliteFile(p) => {
                format!("sqlite://{}", p.display())
            }
            nanoclaw_core::config::DatabaseTarget::Url(u) => u.expose().to_owned(),
        }
    }
}

/// A client builder for tests. The LLM client's TLS stack (rustls without a built-in provider)
/// is compiled into the test `reqwest` too, so the process-wide provider must exist before any
/// client is built, as `main` makes sure.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    nanoclaw_llm::install_crypto_provider();
    reqwest::Client::builder()
}

/// A default client for tests (see [`http_client_builder`]).
pub fn http_client() -> reqwest::Client {
    http_client_builder()
        .build()
        .expect("an HTTP client can be built")
}

/// `GET url` with a default client.
pub async fn http_get(url: String) -> reqwest::Result<Response> {
    http_client().get(url).send().await
}
