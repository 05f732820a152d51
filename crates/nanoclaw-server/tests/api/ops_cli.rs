//! Operations through the binary: `--version`, `config check`, log formats, request ids in log
//! lines, no secrets in logs, the metrics listener of `serve`.

use std::path::Path;
use std::process::Command;

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::helpers::{
    BIN, http_client, http_get, listening_addr, start_binary, stop_cleanly, wait_for_line,
};

fn run(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_names_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(dir.path(), &["--version"]);
    assert_eq!(code, Some(0));
    let commit = env!("NANOCLAW_GIT_COMMIT");
    assert_eq!(
        stdout,
        format!("nanoclaw {} (commit {commit})\n", env!("CARGO_PKG_VERSION"))
    );
    // Built inside a git checkout, the commit is the checkout's.
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        assert_eq!(commit, String::from_utf8_lossy(&head.stdout).trim());
    }
}

const SECRETS: [&str; 5] = [
    "jwt-secret-value-0123456789abcdef-xyz",
    "db-password-value",
    "url-password-value",
    "sk-api-key-value",
    "sk-second-key-value",
];

#[test]
fn config_check_prints_effective_settings_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ops.yml"),
        format!(
            "auth_mode: multi\njwt_secret: {}\ndb_password: {}\n\
             database_url: 'postgres://app:{}@db.internal:5432/claw'\n\
             models:\n  - {{id: m1, name: M1, api_url: 'https://llm.example/v1', api_key: {}}}\n\
             \x20 - {{id: m2, name: M2, api_url: 'https://llm.example/v1', api_key: '${{SECOND_KEY}}'}}\n\
             metrics_addr: 127.0.0.1:9100\nlog_format: json\ncolour: blue\n",
            SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3]
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "check", "--config", "ops.yml", "--port", "8088"])
        .current_dir(dir.path())
        .env("SECOND_KEY", SECRETS[4])
        .env("NANOCLAW__JWT_EXPIRY", "3600")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for secret in SECRETS {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret}: {stdout}\n{stderr}"
        );
    }
    for want in [
        "jwt_secret: '[redacted]'",
        "db_password: '[redacted]'",
        "database_url: postgres://app:[redacted]@db.internal:5432/claw",
        "# database: postgres://app:[redacted]@db.internal:5432/claw",
        "api_key: '[redacted]'",
        "metrics_addr: 127.0.0.1:9100",
        "log_format: json",
        "auth_mode: multi",
        "backend_port: 8088",
        "jwt_expiry: 3600",
        "ops.yml: valid",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
    assert_eq!(
        stdout.matches("api_key: '[redacted]'").count(),
        2,
        "{stdout}"
    );
    // Warnings go to stderr; stdout stays YAML.
    assert!(stderr.contains("colour"), "{stderr}");
    assert!(!stdout.contains("colour"));
}

#[test]
fn config_check_redacts_url_parameters_and_passwords() {
    const URL_SECRETS: [&str; 6] = [
        "llm-query-key-value",
        "llm-userinfo-value",
        "db-userinfo-value",
        "db-query-password-value",
        "db-sslpassword-value",
        "db-fragment-value",
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        format!(
            "database_url: 'postgres://app:{}@db.internal:5432/claw?password={}&sslpassword={}&sslmode=require#{}'\n\
             models:\n  - {{id: m1, name: M1, api_url: 'https://llm.example/v1?key={}', api_key: k}}\n\
             \x20 - {{id: m2, name: M2, api_url: 'https://bot:{}@llm.example/v1', api_key: k}}\n",
            URL_SECRETS[2], URL_SECRETS[3], URL_SECRETS[4], URL_SECRETS[5], URL_SECRETS[0], URL_SECRETS[1]
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["config", "check"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    for secret in URL_SECRETS {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret}: {stdout}\n{stderr}"
        );
    }
    for want in [
        "api_url: https://llm.example/v1?key=[redacted]",
        "api_url: https://bot:[redacted]@llm.example/v1",
        "# database: postgres://app:[redacted]@db.internal:5432/claw?password=[redacted]&sslpassword=[redacted]&sslmode=[redacted]#[redacted]",
    ] {
        assert!(stdout.contains(want), "{want:?} missing:\n{stdout}");
    }
}

#[test]
fn help_describes_each_subcommand_with_its_own_text() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(dir.path(), &["--help"]);
    assert_eq!(code, Some(0));
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no `{name}` line in:\n{stdout}"))
            .to_owned()
    };
    for (name, text) in [
        ("serve", "Run the HTTP server"),
        ("migrate", "Apply pending database migrations"),
        ("import", "Copy an existing nanoClaw database"),
        ("user", "Manage accounts"),
        ("config", "Configuration commands"),
    ] {
        let l = line(name);
        assert!(l.contains(text), "`{name}`: {l}");
    }
    assert!(!line("user").contains("nanoClaw database"));
    assert!(!line("import").contains("Manage accounts"));
}

#[test]
fn config_check_fails_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("metrics_addr: localhost\n", "metrics_addr"),
        ("log_format: xml\n", "log_format"),
        ("backend_port: lots\n", "backend_port"),
    ] {
        std::fs::write(dir.path().join("config.yml"), text).unwrap();
        let (code, stdout, stderr) = run(dir.path(), &["config", "check"]);
        assert_eq!(code, Some(2), "{text}");
        assert!(stdout.is_empty(), "{stdout}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].starts_with("nanoclaw: ") && lines[0].contains(key),
            "{stderr}"
        );
    }
    // Checking a file that is not there is an error, not the defaults.
    let (code, stdout, stderr) = run(dir.path(), &["config", "check", "-c", "missing.yml"]);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("missing.yml") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

/// Makes the server started in `dir` unready (a migration row removed from its SQLite file) and
/// probes `/readyz` with `request_id`: a 503, whose warning and error lines are logged while the
/// request is handled. (A request-scoped log line that no account code owns.)
async fn unready_probe(dir: &Path, addr: &str, request_id: &str) {
    let file = dir.join("data/nano_claw.db");
    let db = Database::connect(format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    db.execute_unprepared(
        "DELETE FROM seaql_migrations WHERE version = 'm20261127_000001_nanoclaw_schema'",
    )
    .await
    .unwrap();
    db.close().await.unwrap();
    let resp = http_client()
        .get(format!("http://{addr}/readyz"))
        .header("x-request-id", request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
}

/// The `request_id` of the request a JSON log line was written in.
fn request_id_of(line: &Value) -> Option<&str> {
    line["request_id"].as_str()
}

#[tokio::test]
async fn json_logs_carry_request_ids_and_never_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        format!(
            "auth_mode: multi\njwt_secret: {}\nlogin_rate_limit: 0\nmetrics_addr: 127.0.0.1:0\n\
             models: [{{id: m1, name: M1, api_url: 'https://llm.example/v1', api_key: {}}}]\n",
            SECRETS[0], SECRETS[3]
        ),
    )
    .unwrap();
    // stderr is a pipe: JSON by default.
    let (mut child, rx) = start_binary(dir.path(), &["--port", "0"]);
    let mut lines = wait_for_line(&rx, "listening on http://");
    let addr = listening_addr(&lines);
    let metrics_line = lines
        .iter()
        .find(|l| l.contains("metrics exporter at http://"))
        .expect("metrics line before the listening line");
    let metrics: String = metrics_line
        .split("metrics exporter at http://")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
        .collect();
    assert_ne!(metrics, addr);

    let client = http_client();
    let url = |path: &str| format!("http://{addr}{path}");
    let password = "user-password-value";
    let register: Value = client
        .post(url("/api/auth/register"))
        .json(&json!({"username": "logger", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = register["data"]["token"].as_str().unwrap().to_owned();
    let wrong = "wrong-password-value";
    let resp = client
        .post(url("/api/auth/login"))
        .header("x-request-id", "ops-log-id-1")
        .json(&json!({"username": "logger", "password": wrong}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .get(url("/api/auth/profile"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let scraped = http_get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scraped.contains(r#"route="/api/auth/login""#) && scraped.contains("nanoclaw_logins_total"),
        "{scraped}"
    );

    unready_probe(dir.path(), &addr, "ops-log-id-1").await;
    lines.extend(wait_for_line(&rx, "response failed"));
    for (message, level) in [
        ("database unavailable", "WARN"),
        ("response failed", "ERROR"),
    ] {
        let line: Value = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line in {lines:#?}"));
        assert_eq!(line["level"], level, "{line}");
        assert_eq!(request_id_of(&line), Some("ops-log-id-1"), "{line}");
    }

    lines.extend(stop_cleanly(&mut child, &rx));

    for line in &lines {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("{line}"));
        assert!(
            parsed["level"].is_string() && parsed["message"].is_string(),
            "{line}"
        );
        for secret in [SECRETS[0], SECRETS[3], password, wrong, token.as_str()] {
            assert!(!line.contains(secret), "logged a secret: {line}");
        }
    }
}

#[tokio::test]
async fn pretty_logs_are_plain_lines_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        "auth_mode: multi\njwt_secret: integration-test-secret-0123456789abcdef\n\
         login_rate_limit: 0\nlog_format: pretty\n",
    )
    .unwrap();
    let (mut child, rx) = start_binary(dir.path(), &["--port", "0"]);
    let lines = wait_for_line(&rx, "listening on http://");
    assert!(lines.iter().all(|l| !l.starts_with('{')), "{lines:#?}");
    let addr = listening_addr(&lines);
    unready_probe(dir.path(), &addr, "ops-log-id-2").await;
    let logged = wait_for_line(&rx, "database unavailable");
    let line = logged.last().unwrap();
    assert!(line.contains("request_id=ops-log-id-2"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
}
