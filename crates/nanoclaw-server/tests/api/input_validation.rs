//! Bad input gets a 400 (or 413) envelope, never a panic, an HTML page or a 500.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn wrong_json_types_are_400_with_the_field_named() {
    let app = spawn_app(MULTI).await;
    let cases = [
        (
            "/api/auth/register",
            json!({"username": 123, "password": "longenough"}),
            "Field 'username' must be a string",
        ),
        (
            "/api/auth/register",
            json!({"username": "bob", "password": ["x"]}),
            "Field 'password' must be a string",
        ),
        (
            "/api/auth/register",
            json!({"username": "bob", "password": "longenough", "email": null}),
            "Field 'email' must be a string",
        ),
        (
            "/api/auth/login",
            json!({"username": {"a": 1}, "password": "x"}),
            "Field 'username' must be a string",
        ),
        (
            "/api/auth/login",
            json!({"username": "bob", "password": 12345678}),
            "Field 'password' must be a string",
        ),
    ];
    for (path, body, message) in cases {
        let (s, b) = json_of(app.post(path, &body).await).await;
        assert_error(s, &b, 400, message);
    }
    let token = app.register("typed", "typed-password").await;
    for (body, message) in [
        (
            json!({"avatar": 5}),
            "Field 'avatar' must be a string or null",
        ),
        (json!({"email": null}), "Field 'email' must be a string"),
        (json!({"email": 1}), "Field 'email' must be a string"),
        (
            json!({"password": true}),
            "Field 'password' must be a string",
        ),
        (
            json!({"password": "typed-new-password", "current_password": 1}),
            "Field 'current_password' must be a string",
        ),
    ] {
        let (s, b) = json_of(app.patch_profile(Some(&token), &body).await).await;
        assert_error(s, &b, 400, message);
    }
    // avatar: null clears the avatar
    let (s, b) = json_of(
        app.patch_profile(Some(&token), &json!({"avatar": null}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn non_object_and_malformed_bodies_are_400() {
    let app = spawn_app(MULTI).await;
    for path in ["/api/auth/login", "/api/auth/register"] {
        for (raw, message) in [
            ("[\"a\"]", "Request body must be a JSON object"),
            ("\"text\"", "Request body must be a JSON object"),
            ("null", "Request body must be a JSON object"),
            ("{", "Request body must be valid JSON"),
            ("username=bob&password=x", "Request body must be valid JSON"),
        ] {
            let (s, b) = json_of(app.post_raw(path, raw).await).await;
            assert_error(s, &b, 400, message);
        }
        // An empty body is read as {} like the original.
        let (s, b) = json_of(app.post_raw(path, "").await).await;
        assert_error(s, &b, 400, "Username and password are required");
    }
}

#[tokio::test]
async fn over_long_fields_are_400() {
    let app = spawn_app(MULTI).await;
    let long_email = format!("{}@x.io", "e".repeat(116));
    assert_eq!(long_email.len(), 121);
    let (s, b) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "bob", "password": "longenough", "email": long_email}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 400, "Email must be at most 120 characters");
    let (s, b) = json_of(
        app.post(
            "/api/auth/register",
            &json!({"username": "bob", "password": "p".repeat(1025)}),
        )
        .await,
    )
    .await;
    assert_error(s, &b, 400, "Password must be at most 1024 characters");
    // 128 characters and more are accepted, never truncated.
    let long_password = "correct horse ".repeat(20);
    let token = app.register("long", &long_password).await;
    assert_eq!(app.login("long", &long_password).await.0, 200);
    assert_eq!(
        app.login("long", &long_password[..long_password.len() - 1])
            .await
            .0,
        401
    );
    let (s, b) = json_of(
        app.patch_profile(Some(&token), &json!({"avatar": "a".repeat(513)}))
            .await,
    )
    .await;
    assert_error(s, &b, 400, "Avatar must be at most 512 characters");
    let (s, b) = json_of(
        app.patch_profile(Some(&token), &json!({"avatar": "a".repeat(512)}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn oversized_bodies_are_413_in_the_envelope() {
    let app = spawn_app(MULTI).await;
    let huge = json!({"username": "bob", "password": "x".repeat(64 * 1024)}).to_string();
    let (s, b) = json_of(app.post_raw("/api/auth/login", huge.clone()).await).await;
    assert_error(s, &b, 413, "Request body too large");
    let (s, b) = json_of(app.post_raw("/api/auth/register", huge.clone()).await).await;
    assert_error(s, &b, 413, "Request body too large");
    // The admin routes read their bodies under the same limit.
    let (admin, _) = app.register_id("chief", "chief-password").await;
    let huge_user = json!({"username": "made", "password": "x".repeat(64 * 1024)});
    let (s, b) = app
        .call("POST", "/api/admin/users", Some(&admin), Some(huge_user))
        .await;
    assert_error(s, &b, 413, "Request body too large");
}

#[tokio::test]
async fn bad_input_in_single_mode_is_also_400() {
    let app = spawn_app("").await;
    let (s, b) = json_of(app.patch_profile(None, &json!({"email": 5})).await).await;
    assert_error(s, &b, 400, "Field 'email' must be a string");
    let resp = app
        .client
        .patch(app.url("/api/auth/profile"))
        .header("content-type", "application/json")
        .body("[1]")
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 400, "Request body must be a JSON object");
}
