//! The single/multi boundary: single mode issues nothing to an anonymous caller when it has a
//! `single_token`, its tokens are refused in multi mode, and tokens without a session (from an
//! imported nanoClaw database) are honoured only as `accept_legacy_tokens` says.

use nanoclaw_store::{LEGACY_IMPORT_AT, LEGACY_IMPORT_MAX_USER_ID};
use serde_json::json;

use crate::helpers::*;

const SECRET: &str = "integration-test-secret-0123456789abcdef";

/// A token as the Python original signs it: no session id, no audience.
fn original_token(user_id: i64, username: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({
            "user_id": user_id,
            "username": username,
            "role": "user",
            "exp": chrono::Utc::now().timestamp() + 3600,
        }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn with_a_single_token_login_and_refresh_need_it_too() {
    let app = spawn_app("single_token: a-long-single-token-value\n").await;
    let (s, b) = app
        .call("POST", "/api/auth/login", None, Some(json!({})))
        .await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    let (s, b) = app.call("POST", "/api/auth/refresh", None, None).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/login",
            Some("a-long-single-token-value"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["user"]["username"], "default");
}

#[tokio::test]
async fn single_mode_registration_is_refused_before_the_body_is_read() {
    let app = spawn_app("").await;
    let big = "x".repeat(64 * 1024);
    for (content_type, body) in [
        ("application/json", big.clone()),
        ("text/plain", "username=a&password=b".to_owned()),
        ("application/json", "{not json".to_owned()),
    ] {
        let (s, b) = json_of(
            app.client
                .post(app.url("/api/auth/register"))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(s, &b, 403, "Registration is disabled in single-user mode");
    }
}

#[tokio::test]
async fn a_single_mode_token_is_refused_after_switching_to_multi() {
    let base = tempfile::tempdir().unwrap();
    let single = spawn_app_in(base.path(), &format!("jwt_secret: {SECRET}\n")).await;
    let (s, b) = single
        .call("POST", "/api/auth/login", None, Some(json!({})))
        .await;
    assert_eq!(s, 200, "{b}");
    let token = b["data"]["token"].as_str().unwrap().to_owned();
    single.stop().await;
    // The operator gives `default` a password and switches (the same secret, the same user).
    // Legacy tokens on, so that only the token's audience can refuse it.
    let multi = spawn_app_in(base.path(), &format!("{MULTI}accept_legacy_tokens: true\n")).await;
    let default = multi
        .store
        .user_by_username("default")
        .await
        .unwrap()
        .unwrap();
    assert!(default.is_admin());
    let (s, b) = multi.profile(Some(&token)).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    multi.stop().await;
}

#[tokio::test]
async fn tokens_without_a_session_follow_accept_legacy_tokens() {
    // No import recorded and the default `auto`: refused.
    let app = spawn_app(MULTI).await;
    let (_, id) = app.register_id("olduser", "olduser-password").await;
    let (s, b) = app.profile(Some(&original_token(id, "olduser"))).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    app.stop().await;

    // An import a day ago whose users went up to this one: accepted for them only.
    let base = tempfile::tempdir().unwrap();
    let app = spawn_app_in(base.path(), MULTI).await;
    let (_, imported) = app.register_id("imported", "imported-password").await;
    let (_, newer) = app.register_id("newer", "newer-password").await;
    let yesterday = nanoclaw_core::time::now_utc() - chrono::TimeDelta::days(1);
    app.store
        .set_meta(
            LEGACY_IMPORT_AT,
            &yesterday.format("%Y-%m-%dT%H:%M:%S").to_string(),
        )
        .await
        .unwrap();
    app.store
        .set_meta(LEGACY_IMPORT_MAX_USER_ID, &imported.to_string())
        .await
        .unwrap();
    app.stop().await;
    let app = spawn_app_in(base.path(), MULTI).await;
    assert_eq!(
        app.profile(Some(&original_token(imported, "imported")))
            .await
            .0,
        200
    );
    let (s, b) = app.profile(Some(&original_token(newer, "newer"))).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    app.stop().await;

    // Turned off: refused even for the imported user.
    let app = spawn_app_in(
        base.path(),
        &format!("{MULTI}accept_legacy_tokens: false\n"),
    )
    .await;
    let (s, _) = app
        .profile(Some(&original_token(imported, "imported")))
        .await;
    assert_eq!(s, 401);
    app.stop().await;

    // Thirty-one days after the import, `auto` has turned them off.
    let app = spawn_app_in(base.path(), MULTI).await;
    let long_ago = nanoclaw_core::time::now_utc() - chrono::TimeDelta::days(31);
    app.store
        .set_meta(
            LEGACY_IMPORT_AT,
            &long_ago.format("%Y-%m-%dT%H:%M:%S").to_string(),
        )
        .await
        .unwrap();
    app.stop().await;
    let app = spawn_app_in(base.path(), MULTI).await;
    let (s, _) = app
        .profile(Some(&original_token(imported, "imported")))
        .await;
    assert_eq!(s, 401);
}
