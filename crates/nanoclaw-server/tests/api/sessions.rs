//! Sessions: list, end one, logout, logout everywhere, refresh, tokens without a session.

use serde_json::json;

use crate::helpers::*;

/// A token as the Python original (or PyJWT) makes it: no jti, no ver.
fn legacy_token(user_id: i64) -> String {
    let exp = chrono::Utc::now().timestamp() + 3600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"user_id": user_id, "username": "x", "role": "user", "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(b"integration-test-secret-0123456789abcdef"),
    )
    .unwrap()
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_marked() {
    let app = spawn_app(MULTI).await;
    let (first, _) = app.register_id("lister", "lister-password").await;
    let resp = app
        .client
        .post(app.url("/api/auth/login"))
        .header("user-agent", "test-agent/1.0")
        .json(&json!({"username": "lister", "password": "lister-password"}))
        .send()
        .await
        .unwrap();
    let (_, b) = json_of(resp).await;
    let second = b["data"]["token"].as_str().unwrap().to_owned();
    let (s, b) = app
        .call("GET", "/api/auth/sessions", Some(&second), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let list = b["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "test-agent/1.0");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    for key in ["id", "created_at", "last_seen_at", "expires_at"] {
        assert!(current[0][key].is_string(), "{key}");
    }
    // End the other session by id.
    let other = list.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/auth/sessions/{other}"),
            Some(&second),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.profile(Some(&first)).await.0, 401);
    assert_eq!(app.profile(Some(&second)).await.0, 200);
    // Someone else's (or an unknown) session is not found.
    let (intruder, _) = app.register_id("intruder", "intruder-password").await;
    let (_, mine) = app
        .call("GET", "/api/auth/sessions", Some(&second), None)
        .await;
    let mine = mine["data"][0]["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .call(
            "DELETE",
            &format!("/api/auth/sessions/{mine}"),
            Some(&intruder),
            None,
        )
        .await;
    assert_error(s, &b, 404, "Session not found");
    assert_eq!(app.profile(Some(&second)).await.0, 200);
}

#[tokio::test]
async fn logout_ends_this_session_or_all() {
    let app = spawn_app(&format!("{MULTI}accept_legacy_tokens: true\n")).await;
    let (a, id) = app.register_id("leaver", "leaver-password").await;
    let (_, b) = app.login("leaver", "leaver-password").await;
    let b_token = b["data"]["token"].as_str().unwrap().to_owned();
    let legacy = legacy_token(id);
    assert_eq!(
        app.profile(Some(&legacy)).await.0,
        200,
        "a token without jti is accepted"
    );

    let (s, body) = app.call("POST", "/api/auth/logout", Some(&a), None).await;
    assert_eq!(
        (s.as_u16(), &body),
        (200, &json!({"code": 0, "message": "Logged out"}))
    );
    assert_eq!(app.profile(Some(&a)).await.0, 401);
    assert_eq!(app.profile(Some(&b_token)).await.0, 200);
    assert_eq!(app.profile(Some(&legacy)).await.0, 200);

    let (s, b) = app
        .call(
            "POST",
            "/api/auth/logout",
            Some(&b_token),
            Some(json!({"all": "yes"})),
        )
        .await;
    assert_error(s, &b, 400, "Field 'all' must be a boolean");
    let (s, _) = app
        .call(
            "POST",
            "/api/auth/logout",
            Some(&b_token),
            Some(json!({"all": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.profile(Some(&b_token)).await.0, 401);
    assert_eq!(
        app.profile(Some(&legacy)).await.0,
        401,
        "logout everywhere ends tokens without a session too"
    );
    assert_eq!(app.login("leaver", "leaver-password").await.0, 200);
}

#[tokio::test]
async fn tokens_without_a_session_end_with_a_password_change() {
    let app = spawn_app(&format!("{MULTI}accept_legacy_tokens: true\n")).await;
    let (token, id) = app.register_id("oldclient", "oldclient-password").await;
    let legacy = legacy_token(id);
    assert_eq!(app.profile(Some(&legacy)).await.0, 200);
    let (s, b) = app
        .call(
            "PATCH",
            "/api/auth/profile",
            Some(&token),
            Some(json!({"password": "oldclient-new", "current_password": "oldclient-password"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.profile(Some(&legacy)).await.0, 401);
    // The caller's own token carried the old version too; the answer brings a fresh one.
    assert_eq!(app.profile(Some(&token)).await.0, 401);
    let fresh = b["data"]["token"].as_str().unwrap();
    assert_eq!(app.profile(Some(fresh)).await.0, 200);
}

#[tokio::test]
async fn refresh_slides_the_expiry_of_the_same_session() {
    let app = spawn_app(&format!(
        "{MULTI}jwt_expiry: 600\naccept_legacy_tokens: true\n"
    ))
    .await;
    let (token, id) = app.register_id("slider", "slider-password").await;
    let claims = |t: &str| -> serde_json::Value {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.required_spec_claims = ["exp".to_owned()].into_iter().collect();
        v.set_audience(&["nanoclaw-multi"]);
        jsonwebtoken::decode::<serde_json::Value>(
            t,
            &jsonwebtoken::DecodingKey::from_secret(b"integration-test-secret-0123456789abcdef"),
            &v,
        )
        .unwrap()
        .claims
    };
    let (s, b) = app
        .call("POST", "/api/auth/refresh", Some(&token), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let fresh = b["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(b["data"]["user"]["username"], "slider");
    assert_eq!(claims(&fresh)["jti"], claims(&token)["jti"]);
    assert!(claims(&fresh)["exp"].as_i64() >= claims(&token)["exp"].as_i64());
    assert_eq!(app.profile(Some(&fresh)).await.0, 200);
    // A token without a session gets one.
    let (s, b) = app
        .call("POST", "/api/auth/refresh", Some(&legacy_token(id)), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(claims(b["data"]["token"].as_str().unwrap())["jti"].is_string());
    // An ended session cannot be refreshed.
    app.call("POST", "/api/auth/logout", Some(&fresh), None)
        .await;
    let (s, _) = app
        .call("POST", "/api/auth/refresh", Some(&fresh), None)
        .await;
    assert_eq!(s, 401);
}
