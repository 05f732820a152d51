//! The database going away while the server runs: 503 envelopes, no hang, and recovery by
//! itself when it is back. Needs a PostgreSQL server this test may stop and start:
//! NANOCLAW_TEST_PG_FAULT_URL, NANOCLAW_TEST_PG_FAULT_STOP and NANOCLAW_TEST_PG_FAULT_START
//! (shell commands). `.ci/run` provides them; elsewhere the test is skipped unless CI is set.

use std::time::Duration;

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
    let mut guard = RestartOnDrop(&fault.start, true);
    let client = http_client_builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    // Login first: it always needs the database, and by the time it has given up, the
    // authentication cache no longer trusts itself either (it needs a change-feed read less
    // than a second old), so the profile read goes to the database too.
    for (method, path) in [("POST", "/api/auth/login"), ("GET", "/api/auth/profile")] {
        let req = client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&token)
            .json(&serde_json::json!({"username": "steady", "password": "steady-password"}));
        let (status, body) = json_of(req.send().await.expect("answered, not hung")).await;
        assert_error(status, &body, 503, "Service temporarily unavailable");
    }
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
