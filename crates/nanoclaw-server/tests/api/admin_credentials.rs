//! API keys and admin credentials: a key needs the password again, expires by default, never
//! administers; admins change their own password where everyone does; reset tokens do not
//! pile up.

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::helpers::*;

fn days_from_now(rfc3339: &serde_json::Value) -> i64 {
    let at = chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap()).unwrap();
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours() / 24
}

#[tokio::test]
async fn creating_a_key_needs_the_password_and_keys_expire_by_default() {
    let app = spawn_app(&format!("{MULTI}api_key_expiry_days: 7\n")).await;
    let (token, _) = app.register_id("gina", "gina-password").await;
    let create =
        |body: serde_json::Value| app.call("POST", "/api/auth/api-keys", Some(&token), Some(body));
    let (s, b) = create(json!({"name": "ci"})).await;
    assert_error(s, &b, 400, "Current password is required");
    let (s, b) = create(json!({"name": "ci", "current_password": "not-it"})).await;
    assert_error(s, &b, 401, "Current password is incorrect");
    let (_, keys) = app
        .call("GET", "/api/auth/api-keys", Some(&token), None)
        .await;
    assert_eq!(keys["data"], json!([]), "nothing was created");

    let (s, b) = create(json!({"name": "ci", "current_password": "gina-password"})).await;
    assert_eq!(s, 200, "{b}");
    // 7 days less the moment it took: 6 whole days and some hours.
    assert_eq!(days_from_now(&b["data"]["expires_at"]), 6, "{b}");
    let (s, b) =
        create(json!({"name": "long", "expires_in_days": 30, "current_password": "gina-password"}))
            .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(days_from_now(&b["data"]["expires_at"]), 29);
}

#[tokio::test]
async fn a_passwordless_account_needs_a_fresh_session_for_a_key() {
    let sso = "trusted_header: {header: X-Forwarded-User}\ntrusted_proxies: [127.0.0.1/32]\n";
    let app = spawn_app(&format!("{MULTI}{sso}")).await;
    // Through the proxy: the proxy vouches for this very request.
    let (s, b) = json_of(
        app.client
            .post(app.url("/api/auth/api-keys"))
            .header("x-forwarded-user", "pat")
            .json(&json!({"name": "ci"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // A session of the proxy account (refresh turns the header into one).
    let (s, b) = json_of(
        app.client
            .post(app.url("/api/auth/refresh"))
            .header("x-forwarded-user", "pat")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let token = b["data"]["token"].as_str().unwrap().to_owned();
    let create = || {
        app.call(
            "POST",
            "/api/auth/api-keys",
            Some(&token),
            Some(json!({"name": "from-session"})),
        )
    };
    assert_eq!(create().await.0, 200, "a session just made is fresh");
    let db = Database::connect(app.database_url()).await.unwrap();
    let eleven_minutes_ago = nanoclaw_core::time::now_utc() - chrono::TimeDelta::minutes(11);
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => "UPDATE sessions SET created_at = $1",
            _ => "UPDATE sessions SET created_at = ?",
        },
        [eleven_minutes_ago.into()],
    ))
    .await
    .unwrap();
    let (s, b) = create().await;
    assert_error(
        s,
        &b,
        403,
        "Sign in again to create an API key (the session must be under 10 minutes old)",
    );
}

#[tokio::test]
async fn api_keys_cannot_administer() {
    let app = spawn_app(MULTI).await;
    let (admin, _) = app.register_id("root", "root-password").await;
    let (_, key) = app
        .call(
            "POST",
            "/api/auth/api-keys",
            Some(&admin),
            Some(json!({"name": "ops", "current_password": "root-password"})),
        )
        .await;
    let key = key["data"]["key"].as_str().unwrap().to_owned();
    assert_eq!(app.profile(Some(&key)).await.0, 200, "the key itself works");
    for (method, path, body) in [
        ("GET", "/api/admin/users", None),
        ("GET", "/api/admin/audit", None),
        (
            "POST",
            "/api/admin/users",
            Some(json!({"username": "sneaky", "password": "sneaky-password"})),
        ),
    ] {
        let (s, b) = app.call(method, path, Some(&key), body).await;
        assert_error(
            s,
            &b,
            403,
            "API keys cannot be used for administration; sign in",
        );
    }
    assert!(
        app.store
            .user_by_username("sneaky")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.call("GET", "/api/admin/users", Some(&admin), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn admins_change_their_own_password_through_the_profile() {
    let app = spawn_app(MULTI).await;
    let (admin, admin_id) = app.register_id("root", "root-password").await;
    let pointer =
        "Change your own password with PATCH /api/auth/profile (it asks for the current one)";
    let (s, b) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{admin_id}"),
            Some(&admin),
            Some(json!({"password": "hijacked-password"})),
        )
        .await;
    assert_error(s, &b, 403, pointer);
    let (s, b) = app
        .call(
            "POST",
            &format!("/api/admin/users/{admin_id}/reset-token"),
            Some(&admin),
            None,
        )
        .await;
    assert_error(s, &b, 403, pointer);
    assert_eq!(app.login("root", "root-password").await.0, 200);
    // Other fields of their own account are still theirs to change there.
    let (s, b) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{admin_id}"),
            Some(&admin),
            Some(json!({"email": "root@example.com"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_new_reset_token_voids_the_earlier_ones() {
    let app = spawn_app(MULTI).await;
    let (admin, _) = app.register_id("root", "root-password").await;
    let (_, id) = app.register_id("ivan", "ivan-password").await;
    let issue = || async {
        let (s, b) = app
            .call(
                "POST",
                &format!("/api/admin/users/{id}/reset-token"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["data"]["token"].as_str().unwrap().to_owned()
    };
    let first = issue().await;
    let second = issue().await;
    for (token, status) in [(first, 400), (second, 200)] {
        let (s, b) = json_of(
            app.post(
                "/api/auth/reset-password",
                &json!({"token": token, "new_password": "ivan-fresh-password"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, status, "{b}");
    }
    assert_eq!(app.login("ivan", "ivan-fresh-password").await.0, 200);
}
