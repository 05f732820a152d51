//! `login_rate_limit`: per client IP and per username, 429 with Retry-After.

use serde_json::json;

use crate::helpers::*;

const LIMITED: &str = "auth_mode: multi\njwt_secret: integration-test-secret-0123456789abcdef\nlogin_rate_limit: 3\npassword_min_score: 0\n";

async fn attempt(
    app: &TestApp,
    from: &str,
    username: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let resp = TestApp::client_from(from)
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": username, "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json_of(resp).await;
    (status.as_u16(), retry, body)
}

#[tokio::test]
async fn per_username_limit_holds_across_client_addresses() {
    let app = spawn_app(LIMITED).await;
    for from in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        assert_eq!(attempt(&app, from, "alice").await.0, 401);
    }
    let (status, retry, body) = attempt(&app, "127.0.0.5", "ALICE").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], 429);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many attempts")
    );
    let secs: u64 = retry.expect("Retry-After header").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    // Another username from a fresh address is not affected.
    assert_eq!(attempt(&app, "127.0.0.6", "bob").await.0, 401);
}

#[tokio::test]
async fn per_ip_limit_holds_across_usernames() {
    let app = spawn_app(LIMITED).await;
    for name in ["u1", "u2", "u3"] {
        assert_eq!(attempt(&app, "127.0.0.7", name).await.0, 401);
    }
    let (status, retry, _) = attempt(&app, "127.0.0.7", "u4").await;
    assert_eq!(status, 429);
    assert!(retry.is_some());
    // Another address still gets through.
    assert_eq!(attempt(&app, "127.0.0.8", "u5").await.0, 401);
}

#[tokio::test]
async fn zero_turns_the_limit_off() {
    let app = spawn_app(MULTI).await;
    for _ in 0..15 {
        assert_eq!(attempt(&app, "127.0.0.9", "carol").await.0, 401);
    }
}
