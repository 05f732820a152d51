//! Revocation that cannot half-happen: a password change or "log out everywhere" ends every
//! credential in one transaction, and access changes made directly in the database reach
//! every process within a second.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend};
use serde_json::json;

use crate::helpers::*;

/// A direct connection to the app's database.
async fn db(app: &TestApp) -> DatabaseConnection {
    Database::connect(app.database_url()).await.unwrap()
}

/// Makes every `DELETE FROM api_keys` fail, as a full disk or a lost connection half-way
/// through a change would; `heal` removes it.
async fn break_key_deletion(db: &DatabaseConnection) {
    let statements: &[&str] = match db.get_database_backend() {
        DbBackend::Sqlite => &[
            "CREATE TRIGGER nc_test_fail BEFORE DELETE ON api_keys BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ],
        DbBackend::Postgres => &[
            "CREATE OR REPLACE FUNCTION nc_test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER nc_test_fail BEFORE DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION nc_test_fail()",
        ],
        _ => &[
            "CREATE TRIGGER nc_test_fail BEFORE DELETE ON api_keys FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'",
        ],
    };
    for sql in statements {
        db.execute_unprepared(sql).await.unwrap();
    }
}

async fn heal(db: &DatabaseConnection) {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "DROP TRIGGER nc_test_fail ON api_keys",
        _ => "DROP TRIGGER nc_test_fail",
    };
    db.execute_unprepared(sql).await.unwrap();
}

/// Creates an API key with the account's password; returns its secret.
async fn new_key(app: &TestApp, token: &str, password: &str) -> String {
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/api-keys",
            Some(token),
            Some(json!({"name": "script", "current_password": password})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["data"]["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_password_change_ends_everything_else_and_hands_out_a_fresh_token() {
    let app = spawn_app(MULTI).await;
    let (admin, _) = app.register_id("boss", "boss-password").await;
    let (mine, id) = app.register_id("carol", "carol-password").await;
    let (_, other) = app.login("carol", "carol-password").await;
    let other = other["data"]["token"].as_str().unwrap().to_owned();
    let key = new_key(&app, &mine, "carol-password").await;
    let (_, reset) = app
        .call(
            "POST",
            &format!("/api/admin/users/{id}/reset-token"),
            Some(&admin),
            None,
        )
        .await;
    let reset = reset["data"]["token"].as_str().unwrap().to_owned();

    let (s, b) = app
        .call(
            "PATCH",
            "/api/auth/profile",
            Some(&mine),
            Some(json!({"password": "carol-new-password", "current_password": "carol-password"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let fresh = b["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        b["data"]["username"], "carol",
        "the user object, plus the token"
    );
    // Session tokens carry the token version: the caller's own old token ends too.
    for token in [&mine, &other, &key] {
        let (s, b) = app.profile(Some(token)).await;
        assert_error(s, &b, 401, "Unauthorized - please login");
    }
    assert_eq!(app.profile(Some(&fresh)).await.0, 200);
    let (_, keys) = app
        .call("GET", "/api/auth/api-keys", Some(&fresh), None)
        .await;
    assert_eq!(
        keys["data"],
        json!([]),
        "the keys are deleted, not just refused"
    );
    let (s, b) = json_of(
        app.post(
            "/api/auth/reset-password",
            &json!({"token": reset, "new_password": "someone-elses-choice"}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 400, "Invalid or expired reset token");
    assert_eq!(app.login("carol", "carol-new-password").await.0, 200);
}

#[tokio::test]
async fn a_failed_password_change_leaves_every_credential_as_it_was() {
    let app = spawn_app(MULTI).await;
    let (admin, _) = app.register_id("boss", "boss-password").await;
    let (mine, id) = app.register_id("dave", "dave-password").await;
    let (_, other) = app.login("dave", "dave-password").await;
    let other = other["data"]["token"].as_str().unwrap().to_owned();
    let key = new_key(&app, &mine, "dave-password").await;
    let (_, reset) = app
        .call(
            "POST",
            &format!("/api/admin/users/{id}/reset-token"),
            Some(&admin),
            None,
        )
        .await;
    let reset = reset["data"]["token"].as_str().unwrap().to_owned();
    let conn = db(&app).await;
    break_key_deletion(&conn).await;

    // Self-service, by an admin, and by reset token: each fails half-way, and nothing moves.
    let (s, _) = app
        .call(
            "PATCH",
            "/api/auth/profile",
            Some(&mine),
            Some(json!({"password": "dave-new-password", "current_password": "dave-password"})),
        )
        .await;
    assert_eq!(s, 500);
    let (s, _) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{id}"),
            Some(&admin),
            Some(json!({"password": "admin-chosen-password"})),
        )
        .await;
    assert_eq!(s, 500);
    let (s, _) = json_of(
        app.post(
            "/api/auth/reset-password",
            &json!({"token": reset, "new_password": "reset-chosen-password"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 500);
    let (s, _) = app
        .call(
            "POST",
            "/api/auth/logout",
            Some(&other),
            Some(json!({"all": true})),
        )
        .await;
    assert_eq!(s, 500);

    for token in [&mine, &other, &key] {
        assert_eq!(app.profile(Some(token)).await.0, 200);
    }
    for wrong in [
        "dave-new-password",
        "admin-chosen-password",
        "reset-chosen-password",
    ] {
        assert_eq!(app.login("dave", wrong).await.0, 401);
    }
    assert_eq!(app.login("dave", "dave-password").await.0, 200);

    // Once the database behaves again, the reset token is still unused and works.
    heal(&conn).await;
    let (s, b) = json_of(
        app.post(
            "/api/auth/reset-password",
            &json!({"token": reset, "new_password": "reset-chosen-password"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    for token in [&mine, &other, &key] {
        assert_eq!(app.profile(Some(token)).await.0, 401);
    }
}

#[tokio::test]
async fn logging_out_everywhere_deletes_the_api_keys() {
    let app = spawn_app(MULTI).await;
    let (token, _) = app.register_id("erin", "erin-password").await;
    let key = new_key(&app, &token, "erin-password").await;
    assert_eq!(app.profile(Some(&key)).await.0, 200);
    let (s, _) = app
        .call(
            "POST",
            "/api/auth/logout",
            Some(&token),
            Some(json!({"all": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.profile(Some(&key)).await.0, 401);
    let (_, login) = app.login("erin", "erin-password").await;
    let fresh = login["data"]["token"].as_str().unwrap();
    let (_, keys) = app
        .call("GET", "/api/auth/api-keys", Some(fresh), None)
        .await;
    assert_eq!(keys["data"], json!([]));
}

#[tokio::test]
async fn an_operators_sql_reaches_the_cache_within_a_second() {
    let app = spawn_app(MULTI).await;
    let (_, _) = app.register_id("boss", "boss-password").await;
    let (token, id) = app.register_id("frank", "frank-password").await;
    // Cached now: the next requests are answered from memory.
    assert_eq!(app.profile(Some(&token)).await.0, 200);
    assert_eq!(app.profile(Some(&token)).await.0, 200);
    let conn = db(&app).await;
    conn.execute_unprepared(&format!(
        "UPDATE users SET is_active = false WHERE id = {id}"
    ))
    .await
    .unwrap();
    // The cache's own expiry is a minute: only the change feed can make this pass.
    assert!(
        eventually(Duration::from_secs(2), || async {
            app.profile(Some(&token)).await.0 == 401
        })
        .await,
        "a disable made in SQL is still served from the cache"
    );
    conn.execute_unprepared(&format!(
        "UPDATE users SET is_active = true WHERE id = {id}"
    ))
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(2), || async {
            app.profile(Some(&token)).await.0 == 200
        })
        .await
    );
    // A session ended in SQL too.
    conn.execute_unprepared("UPDATE sessions SET revoked_at = expires_at")
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(2), || async {
            app.profile(Some(&token)).await.0 == 401
        })
        .await,
        "a session ended in SQL is still served from the cache"
    );
}

#[tokio::test]
async fn single_mode_sees_a_disabled_default_user() {
    let app = spawn_app("").await;
    assert_eq!(app.profile(None).await.0, 200);
    assert_eq!(app.profile(None).await.0, 200);
    let conn = db(&app).await;
    conn.execute_unprepared("UPDATE users SET is_active = false WHERE username = 'default'")
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(2), || async {
            app.profile(None).await.0 == 403
        })
        .await,
        "single mode keeps serving a disabled default user"
    );
    let (s, b) = app.profile(None).await;
    assert_error(s, &b, 403, "Account is disabled");
}
