//! The database going away while the server runs: 503 envelopes, no hang, and recovery by
//! itself when it is back. Needs a PostgreSQL server this test may stop and start:
//! NANOCLAW_TEST_PG_FAULT_URL, NANOCLAW_TEST_PG_FAULT_STOP and NANOCLAW_TEST_PG_FAULT_START
//! (shell commands). `.ci/run` provides them; elsewhere the test is skipped unless CI is set.

use std::cell::RefCell;
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

struct Fault {
    url: String,
    stop: String,
    start: String,
}

fn fault_env() -> Option<Fault> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Some(Fault {
        url: get("NANOCLAW_TEST_PG_FAULT_URL")?,
        stop: get("NANOCLAW_TEST_PG_FAULT_STOP")?,
        start: get("NANOCLAW_TEST_PG_FAULT_START")?,
    })
}

fn sh(command: &str) {
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .status()
        .unwrap();
    assert!(status.success(), "{command} failed");
}

/// Restarts the server if the test fails half-way, so later runs find it up.
struct RestartOnDrop<'a>(&'a str, bool);

impl Drop for RestartOnDrop<'_> {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::process::Command::new("sh")
                .args(["-c", self.0])
                .status();
        }
    }
}

#[tokio::test]
async fn database_outage_gives_503_then_recovers() {
    let Some(fault) = fault_env() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide the NANOCLAW_TEST_PG_FAULT_* variables"
        );
        eprintln!("NANOCLAW_TEST_PG_FAULT_* not set; skipping the database outage test");
        return;
    };
    let name = format!("nanoclaw_outage_{:08x}", std::process::id());
    nanoclaw_store::admin::ensure_database(&fault.url, &name)
        .await
        .unwrap();
    let url = nanoclaw_store::admin::with_database_name(&fault.url, &name);
    let app = spawn_app(&format!("{MULTI}database_url: '{url}'\n")).await;
    let token = app.register("steady", "steady-password").await;
    assert_eq!(app.profile(Some(&token)).await.0, 200);

    sh(&fault.stop);
    let stopped = std::time::Instant::now();
    let mut guard = RestartOnDrop(&fault.start, true);
    let client = http_client_builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    // Login always needs the database.
    let login = client
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"username": "steady", "password": "steady-password"}));
    let (status, body) = json_of(login.send().await.expect("answered, not hung")).await;
    assert_error(status, &body, 503, "Service temporarily unavailable");
    // The profile may come from the authentication cache for as long as it still trusts
    // itself (its last change-feed read is under a second old); after that it needs the
    // database too and must say so, not hang and not answer from a stale cache. The bound
    // leaves room for a slow machine: the login and the profile read may each wait out the
    // pool's 3 s acquire timeout.
    let last = RefCell::new((StatusCode::OK, serde_json::Value::Null));
    let refused = eventually(Duration::from_secs(8), || {
        let req = client.get(app.url("/api/auth/profile")).bearer_auth(&token);
        let last = &last;
        async move {
            let reply = json_of(req.send().await.expect("answered, not hung")).await;
            let served = reply.0 == StatusCode::OK;
            *last.borrow_mut() = reply;
            !served
        }
    })
    .await;
    let (status, body) = last.into_inner();
    assert!(
        refused,
        "the profile was still served {:?} after the database stopped: {body}",
        stopped.elapsed()
    );
    assert_error(status, &body, 503, "Service temporarily unavailable");
    // Routes that need no database keep working; readiness says not ready.
    assert_eq!(app.get("/api/auth/mode", None).await.status(), 200);
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    let (status, body) = json_of(app.get("/readyz", None).await).await;
    assert_error(status, &body, 503, "Service temporarily unavailable");

    sh(&fault.start);
    guard.1 = false;
    let back = eventually(Duration::from_secs(30), || async {
        app.get("/api/auth/profile", Some(&token)).await.status() == 200
    })
    .await;
    assert!(
        back,
        "the server did not recover after the database came back"
    );
    assert_eq!(app.get("/readyz", None).await.status(), 200);
}
