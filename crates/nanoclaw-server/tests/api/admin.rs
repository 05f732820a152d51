//! Accounts in multi mode: first admin, closed registration, the admin API, last-admin rule.

use futures::future::join_all;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn first_registrations_at_once_make_exactly_one_admin() {
    let app = spawn_app(MULTI).await;
    let results = join_all((0..8).map(|i| {
        let app = &app;
        async move {
            app.register_id(&format!("first{i}"), "first-password")
                .await
        }
    }))
    .await;
    let mut admins = 0;
    for (token, _) in &results {
        let (_, p) = app.profile(Some(token)).await;
        if p["data"]["role"] == "admin" {
            admins += 1;
        }
    }
    assert_eq!(admins, 1);
    let (later, _) = app.register_id("later", "later-password").await;
    assert_eq!(app.profile(Some(&later)).await.1["data"]["role"], "user");
}

#[tokio::test]
async fn closed_registration() {
    let app = spawn_app(&format!("{MULTI}registration: closed\n")).await;
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"username": "x1", "password": "x1-password"})),
        )
        .await;
    assert_error(s, &b, 403, "Registration is closed");
}

#[tokio::test]
async fn admin_routes_are_for_admins_only() {
    let app = spawn_app(MULTI).await;
    let (_admin, _) = app.register_id("boss", "boss-password").await;
    let (user, uid) = app.register_id("worker", "worker-password").await;
    for (method, path) in [
        ("GET", "/api/admin/users".to_owned()),
        ("POST", "/api/admin/users".to_owned()),
        ("PATCH", format!("/api/admin/users/{uid}")),
        ("DELETE", format!("/api/admin/users/{uid}")),
        ("POST", format!("/api/admin/users/{uid}/logout")),
        ("POST", format!("/api/admin/users/{uid}/reset-token")),
        ("GET", "/api/admin/audit".to_owned()),
    ] {
        let (s, b) = app.call(method, &path, Some(&user), Some(json!({}))).await;
        assert_error(s, &b, 403, "Admin access required");
        let (s, _) = app.call(method, &path, None, Some(json!({}))).await;
        assert_eq!(s, 401, "{method} {path} without a token");
    }
}

#[tokio::test]
async fn users_list_is_cursor_paginated() {
    let app = spawn_app(MULTI).await;
    let (admin, _) = app.register_id("admin0", "admin0-password").await;
    for i in 1..=4 {
        app.register_id(&format!("user{i}"), "user-password").await;
    }
    let (s, p1) = app
        .call("GET", "/api/admin/users?limit=2", Some(&admin), None)
        .await;
    assert_eq!(s, 200, "{p1}");
    let names = |p: &serde_json::Value| -> Vec<String> {
        p["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&p1), ["admin0", "user1"]);
    assert_eq!(p1["data"]["has_more"], true);
    let cursor = p1["data"]["next_cursor"].as_str().unwrap().to_owned();
    let (_, p2) = app
        .call(
            "GET",
            &format!("/api/admin/users?limit=2&cursor={cursor}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(names(&p2), ["user2", "user3"]);
    let cursor = p2["data"]["next_cursor"].as_str().unwrap().to_owned();
    let (_, p3) = app
        .call(
            "GET",
            &format!("/api/admin/users?limit=2&cursor={cursor}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(names(&p3), ["user4"]);
    assert_eq!(p3["data"]["has_more"], false);
    assert!(p3["data"]["next_cursor"].is_null());
    let (s, b) = app
        .call("GET", "/api/admin/users?limit=abc", Some(&admin), None)
        .await;
    assert_error(s, &b, 400, "Invalid limit: must be a whole number");
    let (s, b) = app
        .call("GET", "/api/admin/users?cursor=zz", Some(&admin), None)
        .await;
    assert_error(s, &b, 400, "Invalid cursor");
    let (_, clamped) = app
        .call("GET", "/api/admin/users?limit=0", Some(&admin), None)
        .await;
    assert_eq!(names(&clamped).len(), 1);
}

#[tokio::test]
async fn admin_creates_updates_and_deletes_users() {
    let app = spawn_app(MULTI).await;
    let (admin, _) = app.register_id("chief", "chief-password").await;
    let (s, b) = app
        .call("POST", "/api/admin/users", Some(&admin), Some(json!({"username": "made", "password": "made-password", "email": "m@x.io", "role": "admin"})))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["data"]["role"].as_str(), b["data"]["email"].as_str()),
        (Some("admin"), Some("m@x.io"))
    );
    let made = b["data"]["id"].as_i64().unwrap();
    let (s, b) = app
        .call(
            "POST",
            "/api/admin/users",
            Some(&admin),
            Some(json!({"username": "bad", "password": "bad-password", "role": "root"})),
        )
        .await;
    assert_error(s, &b, 400, "Role must be 'admin' or 'user'");
    let (s, b) = app
        .call(
            "POST",
            "/api/admin/users",
            Some(&admin),
            Some(json!({"username": "made", "password": "made-password"})),
        )
        .await;
    assert_error(s, &b, 409, "Username 'made' already exists");

    let (s, b) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{made}"),
            Some(&admin),
            Some(json!({"role": "user", "email": "new@x.io"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["data"]["role"].as_str(), b["data"]["email"].as_str()),
        (Some("user"), Some("new@x.io"))
    );
    let (s, b) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{made}"),
            Some(&admin),
            Some(json!({"is_active": "no"})),
        )
        .await;
    assert_error(s, &b, 400, "Field 'is_active' must be a boolean");
    let (s, b) = app
        .call(
            "PATCH",
            "/api/admin/users/99999",
            Some(&admin),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_error(s, &b, 404, "User not found");
    let (s, b) = app
        .call(
            "PATCH",
            "/api/admin/users/abc",
            Some(&admin),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_error(s, &b, 404, "User not found");

    // Deleting removes the account, its data and its workspace directory.
    let workspace = app.config.workspace_root.join(format!("user_{made}"));
    std::fs::create_dir_all(workspace.join("proj")).unwrap();
    std::fs::write(workspace.join("proj/file.txt"), "x").unwrap();
    let (s, b) = app
        .call(
            "DELETE",
            &format!("/api/admin/users/{made}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (s.as_u16(), &b),
        (200, &json!({"code": 0, "message": "deleted"}))
    );
    assert!(!workspace.exists());
    assert!(app.store.user_by_id(made).await.unwrap().is_none());
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/admin/users/{made}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_last_active_admin_stays() {
    let app = spawn_app(MULTI).await;
    let (admin, admin_id) = app.register_id("solo", "solo-password").await;
    for body in [json!({"role": "user"}), json!({"is_active": false})] {
        let (s, b) = app
            .call(
                "PATCH",
                &format!("/api/admin/users/{admin_id}"),
                Some(&admin),
                Some(body),
            )
            .await;
        assert_error(
            s,
            &b,
            409,
            "The last active admin cannot be demoted, disabled or deleted",
        );
    }
    let (s, b) = app
        .call(
            "DELETE",
            &format!("/api/admin/users/{admin_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_error(
        s,
        &b,
        409,
        "The last active admin cannot be demoted, disabled or deleted",
    );
    // With a second admin, the first may step down.
    let (_, other) = app.register_id("second", "second-password").await;
    let (s, _) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{other}"),
            Some(&admin),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .call(
            "PATCH",
            &format!("/api/admin/users/{admin_id}"),
            Some(&admin),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn concurrent_demotions_leave_one_admin() {
    let app = spawn_app(MULTI).await;
    let (t1, id1) = app.register_id("adm1", "adm1-password").await;
    let (_, id2) = app.register_id("adm2", "adm2-password").await;
    app.call(
        "PATCH",
        &format!("/api/admin/users/{id2}"),
        Some(&t1),
        Some(json!({"role": "admin"})),
    )
    .await;
    let (_, b) = app.login("adm2", "adm2-password").await;
    let t2 = b["data"]["token"].as_str().unwrap().to_owned();
    let (p1, p2) = (
        format!("/api/admin/users/{id2}"),
        format!("/api/admin/users/{id1}"),
    );
    let (r1, r2) = tokio::join!(
        app.call("PATCH", &p1, Some(&t1), Some(json!({"role": "user"}))),
        app.call("PATCH", &p2, Some(&t2), Some(json!({"role": "user"}))),
    );
    let mut codes = [r1.0.as_u16(), r2.0.as_u16()];
    codes.sort_unstable();
    // Either one demotion wins and the other hits the last-admin rule, or the second request
    // comes from someone who is no longer an admin (403).
    assert!(codes == [200, 409] || codes == [200, 403], "{r1:?} {r2:?}");
    assert!(app.store.any_active_admin().await.unwrap());
}

#[tokio::test]
async fn disabling_or_repasswording_ends_sessions_and_keys_at_once() {
    let app = spawn_app(MULTI).await;
    let (admin, _) = app.register_id("root1", "root1-password").await;
    for change in [
        json!({"is_active": false}),
        json!({"password": "brand-new-password"}),
    ] {
        let name = format!(
            "victim{}",
            if change.get("password").is_some() {
                "p"
            } else {
                "d"
            }
        );
        let (token, id) = app.register_id(&name, "victim-password").await;
        let (_, key) = app
            .call(
                "POST",
                "/api/auth/api-keys",
                Some(&token),
                Some(json!({"name": "ci", "current_password": "victim-password"})),
            )
            .await;
        let key = key["data"]["key"].as_str().unwrap().to_owned();
        assert_eq!(app.profile(Some(&key)).await.0, 200);
        let (s, b) = app
            .call(
                "PATCH",
                &format!("/api/admin/users/{id}"),
                Some(&admin),
                Some(change.clone()),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(app.profile(Some(&token)).await.0, 401, "{change}");
        assert_eq!(app.profile(Some(&key)).await.0, 401, "{change}");
    }
    let (s, b) = app.login("victimd", "victim-password").await;
    assert_error(s, &b, 403, "Account is disabled");
    assert_eq!(app.login("victimp", "brand-new-password").await.0, 200);
}

#[tokio::test]
async fn admin_logout_and_password_reset() {
    let app = spawn_app(MULTI).await;
    let (admin, _) = app.register_id("keeper", "keeper-password").await;
    let (token, id) = app.register_id("forgetful", "forgetful-password").await;
    let (s, _) = app
        .call(
            "POST",
            &format!("/api/admin/users/{id}/logout"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.profile(Some(&token)).await.0, 401);

    let (_, b) = app.login("forgetful", "forgetful-password").await;
    let session = b["data"]["token"].as_str().unwrap().to_owned();
    let (s, b) = app
        .call(
            "POST",
            &format!("/api/admin/users/{id}/reset-token"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let reset = b["data"]["token"].as_str().unwrap().to_owned();
    assert!(reset.starts_with("ncr_"));
    assert!(b["data"]["expires_at"].is_string());
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/reset-password",
            None,
            Some(json!({"token": reset, "new_password": "after-reset-password"})),
        )
        .await;
    assert_eq!((s.as_u16(), b["code"].as_i64()), (200, Some(0)), "{b}");
    assert_eq!(app.profile(Some(&session)).await.0, 401, "sessions end");
    assert_eq!(app.login("forgetful", "forgetful-password").await.0, 401);
    assert_eq!(app.login("forgetful", "after-reset-password").await.0, 200);
    // Single use.
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/reset-password",
            None,
            Some(json!({"token": reset, "new_password": "another-password-1"})),
        )
        .await;
    assert_error(s, &b, 400, "Invalid or expired reset token");
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/reset-password",
            None,
            Some(json!({"token": "ncr_nope", "new_password": "another-password-1"})),
        )
        .await;
    assert_error(s, &b, 400, "Invalid or expired reset token");
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/reset-password",
            None,
            Some(json!({"token": 5})),
        )
        .await;
    assert_error(s, &b, 400, "Field 'token' must be a string");
}

#[tokio::test]
async fn password_strength_is_checked_by_default() {
    let app = spawn_app("auth_mode: multi\njwt_secret: integration-test-secret-0123456789abcdef\nlogin_rate_limit: 0\n").await;
    for weak in ["password1", "12345678", "qwertyuiop"] {
        let (s, b) = app
            .call(
                "POST",
                "/api/auth/register",
                None,
                Some(json!({"username": "weakling", "password": weak})),
            )
            .await;
        assert_error(
            s,
            &b,
            400,
            "Password is too easy to guess; use a longer phrase or less common words",
        );
    }
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"username": "weakling", "password": "weakling123"})),
        )
        .await;
    assert_eq!(s, 400, "a password made of the username is guessable: {b}");
    let long = "Purple-Kettle-Orbit-".repeat(7);
    assert!(long.chars().count() >= 128);
    let (s, b) = app
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"username": "strong", "password": long})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(app.login("strong", &long).await.0, 200);
}
