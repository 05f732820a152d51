//! Single-user mode (spec auth.md §1, §3, §5).

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_request_acts_as_the_default_admin_whatever_token_is_sent() {
    let app = spawn_app("").await;
    for token in [None, Some("garbage"), Some("eyJhbGciOiJIUzI1NiJ9.e30.x")] {
        let (status, body) = app.profile(token).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["code"], 0);
        assert_eq!(body["data"]["username"], "default");
        assert_eq!(body["data"]["role"], "admin");
        assert_eq!(body["data"]["is_active"], true);
        for key in ["id", "email", "avatar", "created_at", "last_login_at"] {
            assert!(body["data"].get(key).is_some(), "missing {key}");
        }
        assert!(body["data"].get("password_hash").is_none());
    }
}

#[tokio::test]
async fn login_is_the_first_call_and_returns_a_token_for_default() {
    let app = spawn_app("").await;
    let (status, body) = json_of(
        app.post(
            "/api/auth/login",
            &json!({"username": "x", "password": "y"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["username"], "default");
    assert!(
        body["data"]["user"]["last_login_at"].is_null(),
        "single-mode login does not touch last_login_at"
    );
    let token = body["data"]["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
}

#[tokio::test]
async fn register_is_refused_and_mode_says_single() {
    let app = spawn_app("").await;
    let (status, body) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "bob", "password": "longpassword"}),
        )
        .await,
    )
    .await;
    assert_error(
        status,
        &body,
        403,
        "Registration is disabled in single-user mode",
    );
    let (status, body) = json_of(app.get("/api/auth/mode", None).await).await;
    assert_eq!(
        (status.as_u16(), body),
        (200, json!({"code": 0, "data": {"mode": "single"}}))
    );
}

#[tokio::test]
async fn profile_patch_edits_the_default_user() {
    let app = spawn_app("").await;
    let (status, body) = json_of(
        app.patch_profile(
            None,
            &json!({"email": "  me@example.com ", "avatar": "https://a/x.png"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["email"], "me@example.com");
    assert_eq!(body["data"]["avatar"], "https://a/x.png");
    // No login in single mode, so no current password is asked for.
    let (status, body) = json_of(
        app.patch_profile(None, &json!({"password": "a-new-password"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = app.profile(None).await;
    assert_eq!(body["data"]["email"], "me@example.com");
}

#[tokio::test]
async fn default_user_is_created_once_by_concurrent_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = tokio::join!(
        spawn_app_in(dir.path(), ""),
        spawn_app_in(dir.path(), ""),
        spawn_app_in(dir.path(), "")
    );
    let ids: Vec<_> = [&a, &b, &c]
        .iter()
        .map(|app| app.config.data_dir.clone())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let (_, pa) = a.profile(None).await;
    let (_, pb) = b.profile(None).await;
    let (_, pc) = c.profile(None).await;
    assert_eq!(pa["data"]["id"], pb["data"]["id"]);
    assert_eq!(pb["data"]["id"], pc["data"]["id"]);
    assert!(a.store.user_by_username("default").await.unwrap().is_some());
    for app in [a, b, c] {
        app.stop().await;
    }
}
