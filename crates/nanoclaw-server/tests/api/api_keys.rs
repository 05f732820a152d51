//! API keys: created once-visible, hashed, usable as bearer, limited, revocable.

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn api_key_lifecycle() {
    let app = spawn_app(MULTI).await;
    let (token, _) = app.register_id("keyholder", "keyholder-password").await;
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/api-keys",
            Some(&token),
            Some(json!({"name": "laptop", "expires_in_days": 30, "current_password": "keyholder-password"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let key = b["data"]["key"].as_str().unwrap().to_owned();
    let id = b["data"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("nck_") && key.len() > 40);
    assert_eq!(b["data"]["prefix"], key[..12]);
    assert!(b["data"]["expires_at"].is_string());

    let (_, list) = app
        .call("GET", "/api/auth/api-keys", Some(&token), None)
        .await;
    let text = list.to_string();
    assert!(!text.contains(&key), "the secret is shown only once");
    let item = &list["data"][0];
    assert_eq!(
        (item["name"].as_str(), item["prefix"].as_str()),
        (Some("laptop"), Some(&key[..12]))
    );
    assert!(item["last_used_at"].is_null());

    // The key authenticates like a token...
    let (s, p) = app.profile(Some(&key)).await;
    assert_eq!(
        (s.as_u16(), p["data"]["username"].as_str()),
        (200, Some("keyholder"))
    );
    let (_, list) = app
        .call("GET", "/api/auth/api-keys", Some(&token), None)
        .await;
    assert!(list["data"][0]["last_used_at"].is_string());
    // ...but cannot make keys or change the password.
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/api-keys",
            Some(&key),
            Some(json!({"name": "more"})),
        )
        .await;
    assert_error(s, &b, 403, "API keys cannot create API keys");
    let (s, b) = app
        .call(
            "PATCH",
            "/api/auth/profile",
            Some(&key),
            Some(json!({"password": "via-key-password", "current_password": "keyholder-password"})),
        )
        .await;
    assert_error(s, &b, 403, "API keys cannot change the password");
    // Only a hash is stored.
    assert!(app.store.api_key_by_hash(&key).await.unwrap().is_none());

    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/auth/api-keys/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.profile(Some(&key)).await.0, 401);
    let (s, b) = app
        .call(
            "DELETE",
            &format!("/api/auth/api-keys/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_error(s, &b, 404, "API key not found");
}

#[tokio::test]
async fn bad_key_requests_and_expired_keys() {
    let app = spawn_app(MULTI).await;
    let (token, _) = app.register_id("keys2", "keys2-password").await;
    for (body, message) in [
        (json!({}), "Name is required"),
        (json!({"name": 5}), "Field 'name' must be a string"),
        (
            json!({"name": "x", "expires_in_days": 0}),
            "Field 'expires_in_days' must be a whole number from 1 to 3650",
        ),
        (
            json!({"name": "x", "expires_in_days": "7"}),
            "Field 'expires_in_days' must be a whole number from 1 to 3650",
        ),
    ] {
        let (s, b) = app
            .call("POST", "/api/auth/api-keys", Some(&token), Some(body))
            .await;
        assert_error(s, &b, 400, message);
    }
    let (_, b) = app
        .call(
            "POST",
            "/api/auth/api-keys",
            Some(&token),
            Some(json!({"name": "short", "expires_in_days": 1, "current_password": "keys2-password"})),
        )
        .await;
    let key = b["data"]["key"].as_str().unwrap().to_owned();
    assert_eq!(app.profile(Some(&key)).await.0, 200);
    // Move its expiry into the past directly in the database.
    let url = app.database_url();
    let db = Database::connect(url).await.unwrap();
    db.execute_unprepared("UPDATE api_keys SET expires_at = '2020-01-01 00:00:00'")
        .await
        .unwrap();
    db.close().await.unwrap();
    assert_eq!(
        app.profile(Some(&key)).await.0,
        401,
        "expired keys are refused at once"
    );
    assert_eq!(app.profile(Some("nck_not-a-real-key")).await.0, 401);
}

#[tokio::test]
async fn api_keys_can_be_switched_off() {
    let app = spawn_app(&format!("{MULTI}api_keys_enabled: false\n")).await;
    let (token, _) = app.register_id("nokeys", "nokeys-password").await;
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/api-keys",
            Some(&token),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_error(s, &b, 403, "API keys are disabled");
    let (s, _) = app
        .call("GET", "/api/auth/api-keys", Some(&token), None)
        .await;
    assert_eq!(s, 403);
}
