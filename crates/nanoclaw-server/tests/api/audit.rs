//! The audit log records who did what, from where, and how it went — never a password.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn security_events_are_recorded() {
    let app = spawn_app(&MULTI.replace("login_rate_limit: 0", "login_rate_limit: 5")).await;
    let (admin, admin_id) = app.register_id("auditor", "auditor-password").await;
    let (user, user_id) = app.register_id("subject", "subject-password").await;
    app.login("subject", "wrong-secret-guess").await;
    app.login("subject", "subject-password").await;
    let (_, changed) = app
        .call(
            "PATCH",
            "/api/auth/profile",
            Some(&user),
            Some(json!({"password": "subject-new-pass", "current_password": "subject-password"})),
        )
        .await;
    // The password change ended the old token; the answer carries the caller's new one.
    let user = changed["data"]["token"].as_str().unwrap().to_owned();
    let (_, key) = app
        .call(
            "POST",
            "/api/auth/api-keys",
            Some(&user),
            Some(json!({"name": "k", "current_password": "subject-new-pass"})),
        )
        .await;
    let key_id = key["data"]["id"].as_str().unwrap().to_owned();
    app.call(
        "DELETE",
        &format!("/api/auth/api-keys/{key_id}"),
        Some(&user),
        None,
    )
    .await;
    app.call("POST", "/api/auth/logout", Some(&user), None)
        .await;
    app.call(
        "PATCH",
        &format!("/api/admin/users/{user_id}"),
        Some(&admin),
        Some(json!({"role": "admin"})),
    )
    .await;
    app.call(
        "PATCH",
        &format!("/api/admin/users/{user_id}"),
        Some(&admin),
        Some(json!({"is_active": false})),
    )
    .await;
    app.call(
        "PATCH",
        &format!("/api/admin/users/{user_id}"),
        Some(&admin),
        Some(json!({"is_active": true})),
    )
    .await;
    for _ in 0..6 {
        app.login("nobody-at-all", "guess-guess").await;
    }
    app.call(
        "DELETE",
        &format!("/api/admin/users/{user_id}"),
        Some(&admin),
        None,
    )
    .await;

    let failed = app.audit(&admin, "login").await;
    let failure = failed
        .iter()
        .find(|e| e["outcome"] == "failure" && e["username"] == "subject")
        .expect("failed login");
    assert_eq!(failure["ip"], "127.0.0.1");
    assert!(
        failed
            .iter()
            .any(|e| e["outcome"] == "success" && e["actor_id"] == user_id)
    );
    // A name that is no account is often a password typed into the wrong field: failures
    // on it are recorded without it.
    let unknown: Vec<_> = failed
        .iter()
        .filter(|e| e["outcome"] == "failure" && e["actor_id"].is_null())
        .collect();
    assert!(!unknown.is_empty());
    assert!(
        unknown.iter().all(|e| e["username"].is_null()),
        "{unknown:?}"
    );
    // Three of the six attempts were over the per-address limit: one audit row, not three.
    let limited = app.audit(&admin, "rate_limit").await;
    assert_eq!(limited.len(), 1, "{limited:?}");
    let (_, all) = app
        .call("GET", "/api/admin/audit?limit=100", Some(&admin), None)
        .await;
    assert!(!all.to_string().contains("nobody-at-all"));
    for action in [
        "register",
        "password_change",
        "api_key_create",
        "api_key_revoke",
        "logout",
        "role_change",
        "disable",
        "enable",
        "delete",
        "rate_limit",
    ] {
        let events = app.audit(&admin, action).await;
        assert!(!events.is_empty(), "no {action} event");
    }
    let role = &app.audit(&admin, "role_change").await[0];
    assert_eq!(
        (role["actor_id"].as_i64(), role["target_id"].as_i64()),
        (Some(admin_id), Some(user_id))
    );
    assert_eq!(role["detail"], "role=admin");
    let deleted = &app.audit(&admin, "delete").await[0];
    assert_eq!(
        deleted["username"], "subject",
        "the record outlives the user"
    );

    // Filter by user and page through.
    let (s, page) = app
        .call(
            "GET",
            &format!("/api/admin/audit?user_id={user_id}&limit=3"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let items = page["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|e| e["actor_id"] == user_id || e["target_id"] == user_id)
    );
    assert!(
        items[0]["id"].as_i64() > items[1]["id"].as_i64(),
        "newest first"
    );
    let cursor = page["data"]["next_cursor"].as_str().unwrap();
    let (_, next) = app
        .call(
            "GET",
            &format!("/api/admin/audit?user_id={user_id}&limit=3&cursor={cursor}"),
            Some(&admin),
            None,
        )
        .await;
    assert!(next["data"]["items"][0]["id"].as_i64() < items[2]["id"].as_i64());
    let (s, b) = app
        .call("GET", "/api/admin/audit?user_id=abc", Some(&admin), None)
        .await;
    assert_error(s, &b, 400, "Invalid user_id");

    // No password ever lands in the log.
    let (_, all) = app
        .call("GET", "/api/admin/audit?limit=100", Some(&admin), None)
        .await;
    let text = all.to_string();
    for secret in [
        "wrong-secret-guess",
        "subject-password",
        "subject-new-pass",
        "guess-guess",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the audit log");
    }
}
