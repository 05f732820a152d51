//! Multi-user mode: register, login, profile and the token check (spec auth.md §2, §4, §5).

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn mode_is_public_and_profile_needs_a_token() {
    let app = spawn_app(MULTI).await;
    let (status, body) = json_of(app.get("/api/auth/mode", None).await).await;
    assert_eq!(
        (status.as_u16(), &body["data"]["mode"]),
        (200, &json!("multi"))
    );
    let (status, body) = app.profile(None).await;
    assert_error(status, &body, 401, "Unauthorized - please login");
}

#[tokio::test]
async fn authorization_header_must_be_exactly_bearer() {
    let app = spawn_app(MULTI).await;
    let token = app.register("alice", "correct horse").await;
    let (status, _) = app.profile(Some(&token)).await;
    assert_eq!(status, 200);
    for header in [
        format!("bearer {token}"),
        format!("Token {token}"),
        format!("Bearer  {token}"),
        token.clone(),
    ] {
        let resp = app
            .client
            .get(app.url("/api/auth/profile"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(resp).await;
        assert_error(status, &body, 401, "Unauthorized - please login");
    }
}

#[tokio::test]
async fn register_checks_in_the_spec_order() {
    let app = spawn_app(MULTI).await;
    let cases = [
        (json!({}), 400, "Username and password are required"),
        (
            json!({"username": "   ", "password": "longenough"}),
            400,
            "Username and password are required",
        ),
        (
            json!({"username": "bob", "password": ""}),
            400,
            "Username and password are required",
        ),
        // length before password rules
        (
            json!({"username": "b", "password": "x"}),
            400,
            "Username must be 2-50 characters",
        ),
        (
            json!({"username": "b".repeat(51), "password": "longenough"}),
            400,
            "Username must be 2-50 characters",
        ),
        (
            json!({"username": "bob", "password": "short77"}),
            400,
            "Password must be at least 8 characters",
        ),
        // password before email
        (
            json!({"username": "bob", "password": "short", "email": "nope"}),
            400,
            "Password must be at least 8 characters",
        ),
        (
            json!({"username": "bob", "password": "longenough", "email": "nope"}),
            400,
            "Invalid email format",
        ),
    ];
    for (body, status, message) in cases {
        let (s, b) = json_of(app.post("/api/auth/register", &body).await).await;
        assert_error(s, &b, status, message);
    }
    let (s, b) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "  bob  ", "password": "longenough", "email": " bob@example.com "}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let user = &b["data"]["user"];
    assert_eq!(
        (
            user["username"].as_str(),
            user["email"].as_str(),
            user["role"].as_str()
        ),
        (Some("bob"), Some("bob@example.com"), Some("admin")),
        "the first account while no admin exists is the admin"
    );
    assert!(user["last_login_at"].is_null());
    assert!(b["data"]["token"].is_string());

    let (s, b) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "bob", "password": "longenough", "email": "bob@example.com"}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 409, "Username 'bob' already exists");
    let (s, b) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "bob2", "password": "longenough", "email": "bob@example.com"}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 409, "Email already registered");
    // Unicode code points, inner spaces, exactly 50 characters are fine.
    for name in ["日本", "a b", &"x".repeat(50)] {
        app.register(name, "longenough").await;
    }
}

#[tokio::test]
async fn password_min_length_is_configurable_and_named() {
    let app = spawn_app(&format!("{MULTI}password_min_length: 12\n")).await;
    let (s, b) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "bob", "password": "elevenchars"}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 400, "Password must be at least 12 characters");
}

#[tokio::test]
async fn login_rules() {
    let app = spawn_app(MULTI).await;
    app.register("carol", "carol-password").await;
    for body in [
        json!({}),
        json!({"username": "carol"}),
        json!({"username": " ", "password": "x"}),
        json!({"username": "carol", "password": ""}),
    ] {
        let (s, b) = json_of(app.post("/api/auth/login", &body).await).await;
        assert_error(s, &b, 400, "Username and password are required");
    }
    let (s, b) = app.login("nobody", "whatever-pass").await;
    assert_error(s, &b, 401, "Invalid username or password");
    let (s, b) = app.login("carol", "wrong-password").await;
    assert_error(s, &b, 401, "Invalid username or password");
    let (s, b) = app.login("Carol", "carol-password").await;
    assert_error(s, &b, 401, "Invalid username or password");
    let (s, b) = app.login(" carol ", "carol-password").await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["data"]["user"]["last_login_at"].is_string(),
        "login sets last_login_at: {b}"
    );
    let token = b["data"]["token"].as_str().unwrap();
    let (s, p) = app.profile(Some(token)).await;
    assert_eq!(
        (s.as_u16(), p["data"]["username"].as_str()),
        (200, Some("carol"))
    );
}

#[tokio::test]
async fn disabled_accounts_cannot_log_in_and_lose_their_tokens() {
    let app = spawn_app(MULTI).await;
    let token = app.register("dave", "dave-password").await;
    let id = app
        .store
        .user_by_username("dave")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(app.store.set_user_active(id, false).await.unwrap());
    let (s, b) = app.profile(Some(&token)).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    let (s, b) = app.login("dave", "dave-password").await;
    assert_error(s, &b, 403, "Account is disabled");
    // The disabled state is only revealed to someone who knows the password.
    let (s, b) = app.login("dave", "not-dave-password").await;
    assert_error(s, &b, 401, "Invalid username or password");
}

#[tokio::test]
async fn last_seen_is_set_by_the_first_request_then_debounced() {
    let app = spawn_app(MULTI).await;
    let token = app.register("erin", "erin-password").await;
    let (_, first) = app.profile(Some(&token)).await;
    // The request that sets it answers with it, as nanoClaw does.
    let stored = app
        .store
        .user_by_username("erin")
        .await
        .unwrap()
        .unwrap()
        .last_login_at;
    let seen = stored.expect("first authenticated request sets last_login_at");
    let (_, second) = app.profile(Some(&token)).await;
    let (_, third) = app.profile(Some(&token)).await;
    assert!(first["data"]["last_login_at"].is_string(), "{first}");
    assert_eq!(
        first["data"]["last_login_at"],
        second["data"]["last_login_at"]
    );
    assert_eq!(
        second["data"]["last_login_at"],
        third["data"]["last_login_at"]
    );
    assert_eq!(
        app.store
            .user_by_username("erin")
            .await
            .unwrap()
            .unwrap()
            .last_login_at,
        Some(seen)
    );
}

#[tokio::test]
async fn profile_patch_rules_and_nothing_saved_on_failure() {
    let app = spawn_app(MULTI).await;
    let (_, b) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "frank", "password": "frank-password", "email": "frank@x.io"}),
        )
        .await,
    )
    .await;
    let token = b["data"]["token"].as_str().unwrap().to_owned();
    let (s, b) = json_of(
        app.patch_profile(
            Some(&token),
            &json!({"avatar": "https://img/a.png", "email": "  "}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["avatar"], "https://img/a.png");
    assert!(b["data"]["email"].is_null(), "empty email clears it");

    let token2 = app.register("gina", "gina-password").await;
    let (s, b) = json_of(
        app.patch_profile(Some(&token2), &json!({"email": "g@x.io"}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Conflict on email: the avatar in the same request must not be saved.
    let (s, b) = json_of(
        app.patch_profile(
            Some(&token),
            &json!({"email": "g@x.io", "avatar": "changed"}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 409, "Email already registered");
    // A short password fails after email and avatar were checked: nothing saved either.
    let (s, b) = json_of(
        app.patch_profile(
            Some(&token),
            &json!({"avatar": "changed", "password": "short"}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 400, "Password must be at least 8 characters");
    let (_, p) = app.profile(Some(&token)).await;
    assert_eq!(p["data"]["avatar"], "https://img/a.png");
    // Setting one's own current e-mail again is not a conflict.
    let (s, _) = json_of(
        app.patch_profile(Some(&token2), &json!({"email": "g@x.io"}))
            .await,
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_ends_other_sessions() {
    let app = spawn_app(MULTI).await;
    let token = app.register("hank", "hank-password").await;
    let (_, b) = app.login("hank", "hank-password").await;
    let second_token = b["data"]["token"].as_str().unwrap().to_owned();

    let (s, b) = json_of(
        app.patch_profile(Some(&token), &json!({"password": "hank-new-password"}))
            .await,
    )
    .await;
    assert_error(s, &b, 400, "Current password is required");
    let (s, b) = json_of(
        app.patch_profile(
            Some(&token),
            &json!({"password": "hank-new-password", "current_password": "wrong-one"}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 401, "Current password is incorrect");
    assert_eq!(
        app.profile(Some(&second_token)).await.0,
        200,
        "failed attempts change nothing"
    );

    let (s, b) = json_of(
        app.patch_profile(
            Some(&token),
            &json!({"password": "hank-new-password", "current_password": "hank-password"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["username"], "hank");
    assert_eq!(
        app.profile(Some(&token)).await.0,
        401,
        "the token of the old password version ends too"
    );
    let fresh = b["data"]["token"].as_str().unwrap();
    assert_eq!(
        app.profile(Some(fresh)).await.0,
        200,
        "the session that changed it goes on with the fresh token"
    );
    let (s, b) = app.profile(Some(&second_token)).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
    let (s, _) = app.login("hank", "hank-password").await;
    assert_eq!(s, 401);
    let (s, b) = app.login("hank", "hank-new-password").await;
    assert_eq!(s, 200, "{b}");
    let fresh = b["data"]["token"].as_str().unwrap();
    assert_eq!(app.profile(Some(fresh)).await.0, 200);
}

#[tokio::test]
async fn tokens_of_missing_users_are_refused() {
    let app = spawn_app(MULTI).await;
    let token = app.register("ivan", "ivan-password").await;
    app.stop().await;
    // A different database with the same secret has no user with that id.
    let other = spawn_app(MULTI).await;
    let (s, b) = other.profile(Some(&token)).await;
    assert_error(s, &b, 401, "Unauthorized - please login");
}
