//! Single mode that is safe by default: Host allow-list, optional single_token, loopback bind.

use crate::helpers::*;

async fn with_host(app: &TestApp, host: &str) -> u16 {
    app.client
        .get(app.url("/api/auth/profile"))
        .header("host", host)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn foreign_host_names_are_refused() {
    let app = spawn_app("allowed_hosts: [nanoclaw.lan]\n").await;
    let port = app.addr.port();
    for ok in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "nanoclaw.lan".to_owned(),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(with_host(&app, &ok).await, 200, "{ok}");
    }
    for bad in [
        "evil.example",
        "rebind.attacker.example:3000",
        "127.0.0.1.nip.io",
    ] {
        let resp = app
            .client
            .get(app.url("/api/auth/mode"))
            .header("host", bad)
            .send()
            .await
            .unwrap();
        let (s, b) = json_of(resp).await;
        assert_error(s, &b, 403, "Host not allowed");
    }
    // Health probes come from load balancers by IP and reveal nothing: no Host check.
    for probe in ["/healthz", "/readyz"] {
        let resp = app
            .client
            .get(app.url(probe))
            .header("host", "10.1.2.3:3000")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{probe}");
    }
    // Multi mode has accounts and no such check.
    let multi = spawn_app(MULTI).await;
    let resp = multi
        .client
        .get(multi.url("/api/auth/mode"))
        .header("host", "chat.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn single_token_is_required_when_set() {
    let app = spawn_app("single_token: a-very-long-single-token\n").await;
    let (s, b) = app.profile(None).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    assert_eq!(app.profile(Some("wrong-token-value-here")).await.0, 401);
    assert_eq!(app.profile(Some("a-very-long-single-token")).await.0, 200);
    // Public routes stay public.
    assert_eq!(app.get("/api/auth/mode", None).await.status(), 200);
    assert_eq!(app.get("/api/models", None).await.status(), 200);
}

#[test]
fn single_mode_refuses_a_public_bind_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["--host", "0.0.0.0", "--port", "0"])
        .current_dir(dir.path())
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("single_token") && stderr.contains("--insecure-allow-remote"),
        "{stderr}"
    );
}

#[tokio::test]
async fn insecure_allow_remote_starts_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, rx) = start_binary(
        dir.path(),
        &[
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--insecure-allow-remote",
        ],
    );
    let lines = wait_for_line(&rx, "listening on http://");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("anyone who can reach this port acts as the admin")),
        "{lines:#?}"
    );
    let port = listening_addr(&lines)
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = http_get(format!("http://127.0.0.1:{port}/api/auth/mode"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["mode"], "single");
    let _ = child.kill();
    let _ = child.wait();
}
