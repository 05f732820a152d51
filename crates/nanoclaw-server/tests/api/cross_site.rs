//! Cross-site requests: only JSON bodies are read (415 otherwise), state-changing requests
//! from foreign origins are refused (403), single mode's Host check refuses missing, repeated
//! and malformed `Host` values, and bad path parameters get the JSON envelope.

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const PASSWORD: &str = "plum-Kettle-41-orbit";

/// POST `body` with an explicit Content-Type (and optional extra headers).
async fn post_typed(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (reqwest::StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body.to_owned());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    json_of(req.send().await.unwrap()).await
}

/// A JSON request with extra headers.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> (reqwest::StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path)).json(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    json_of(req.send().await.unwrap()).await
}

fn usernames(list: &Value) -> Vec<String> {
    list["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bodies_not_declared_as_json_are_415_and_create_nothing() {
    let app = spawn_app(MULTI).await;
    let creds = format!(r#"{{"username":"mallory","password":"{PASSWORD}"}}"#);
    for (path, content_type, body) in [
        ("/api/auth/register", "text/plain", creds.as_str()),
        (
            "/api/auth/register",
            "text/plain;charset=UTF-8",
            creds.as_str(),
        ),
        (
            "/api/auth/register",
            "application/x-www-form-urlencoded",
            "username=mallory&password=plum-Kettle-41-orbit",
        ),
        (
            "/api/auth/register",
            "multipart/form-data; boundary=x",
            creds.as_str(),
        ),
        ("/api/auth/login", "text/plain", creds.as_str()),
        (
            "/api/auth/login",
            "application/x-www-form-urlencoded",
            "username=mallory",
        ),
    ] {
        let (s, b) = post_typed(&app, path, content_type, body, &[]).await;
        assert_error(s, &b, 415, "Content-Type must be application/json");
    }
    // No Content-Type at all, with a body: also 415.
    let resp = app
        .client
        .post(app.url("/api/auth/register"))
        .body(creds.clone())
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 415, "Content-Type must be application/json");
    // Nothing was created: the name is still free, and nobody can log in with it.
    let (s, _) = app.login("mallory", PASSWORD).await;
    assert_eq!(s, 401);

    // JSON, `…+json` and parameters are fine; an empty body without a type is still `{}`.
    for content_type in [
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/merge-patch+json",
    ] {
        let (s, b) = post_typed(&app, "/api/auth/login", content_type, &creds, &[]).await;
        assert_error(s, &b, 401, "Invalid username or password");
    }
    let (s, b) = post_typed(&app, "/api/auth/register", "Application/JSON", &creds, &[]).await;
    assert_eq!(s, 200, "{b}");
    let resp = app
        .client
        .post(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "an empty body is read as {{}}");
    app.stop().await;
}

#[tokio::test]
async fn in_single_mode_a_cross_site_post_cannot_create_a_user() {
    let app = spawn_app("").await;
    let body =
        |name: &str| format!(r#"{{"username":"{name}","password":"{PASSWORD}","role":"admin"}}"#);
    // What a form or a no-cors fetch on any web page can send, with and without its Origin.
    let (s, b) = post_typed(&app, "/api/admin/users", "text/plain", &body("evil"), &[]).await;
    assert_error(s, &b, 415, "Content-Type must be application/json");
    let page = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let (s, b) = post_typed(
        &app,
        "/api/admin/users",
        "text/plain",
        &body("evil2"),
        &page,
    )
    .await;
    assert_error(s, &b, 403, "Cross-site request refused");
    // The same request as JSON, from no page at all, does create a user.
    let (s, b) = post_typed(
        &app,
        "/api/admin/users",
        "application/json",
        &body("control"),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, list) = app
        .call("GET", "/api/admin/users?limit=100", None, None)
        .await;
    assert_eq!(s, 200, "{list}");
    let names = usernames(&list);
    assert!(names.contains(&"control".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("evil")), "{names:?}");
    app.stop().await;
}

#[tokio::test]
async fn foreign_origins_are_refused_in_every_mode() {
    for config in ["", MULTI] {
        let app = spawn_app(config).await;
        let multi = config == MULTI;
        if multi {
            app.register("alice", PASSWORD).await;
        }
        let creds = json!({"username": "alice", "password": PASSWORD});
        let own = format!("http://127.0.0.1:{}", app.addr.port());
        let login = |headers: &'static [(&'static str, &'static str)]| {
            send(&app, Method::POST, "/api/auth/login", &creds, headers)
        };
        for headers in [
            &[("origin", "https://evil.example")][..],
            &[("origin", "null")],
            &[("origin", "http://127.0.0.1.evil.example")],
            &[("sec-fetch-site", "cross-site")],
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "same-site"),
            ],
        ] {
            let (s, b) = login(headers).await;
            assert_error(s, &b, 403, "Cross-site request refused");
        }
        // The other state-changing methods too (refused before authentication).
        for method in [Method::PATCH, Method::DELETE, Method::PUT] {
            let (s, b) = send(
                &app,
                method.clone(),
                "/api/auth/profile",
                &json!({}),
                &[("origin", "https://evil.example")],
            )
            .await;
            assert_error(s, &b, 403, "Cross-site request refused");
        }
        // The same-origin page, and callers that are no page at all, are served.
        let (s, b) = send(
            &app,
            Method::POST,
            "/api/auth/login",
            &creds,
            &[("origin", &own)],
        )
        .await;
        assert_eq!(s, 200, "{config:?} {b}");
        let (s, b) = send(
            &app,
            Method::POST,
            "/api/auth/login",
            &creds,
            &[("origin", &own), ("sec-fetch-site", "same-origin")],
        )
        .await;
        assert_eq!(s, 200, "{config:?} {b}");
        let (s, b) = login(&[]).await;
        assert_eq!(s, 200, "{config:?} {b}");
        // Reads are not state-changing.
        let resp = app
            .client
            .get(app.url("/api/auth/mode"))
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        app.stop().await;
    }
}

#[tokio::test]
async fn listed_and_loopback_origins() {
    let login = |app: &TestApp, origin: &'static str| {
        let creds = json!({"username": "alice", "password": PASSWORD});
        let app_url = app.url("/api/auth/login");
        let client = app.client.clone();
        async move {
            let resp = client
                .post(app_url)
                .json(&creds)
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            json_of(resp).await
        }
    };
    // Single mode: a local development front end needs no configuration.
    let single = spawn_app("cors_origins: [https://chat.example.com]\n").await;
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:8080",
        "http://[::1]:4000",
        "http://app.localhost:3000",
        "https://chat.example.com",
    ] {
        let (s, b) = login(&single, origin).await;
        assert_eq!(s, 200, "{origin}: {b}");
    }
    for origin in ["http://[::1]evil.example", "http://localhost.evil.example"] {
        let (s, b) = login(&single, origin).await;
        assert_error(s, &b, 403, "Cross-site request refused");
    }
    single.stop().await;

    // Multi mode: only the own origin and the listed ones.
    let multi = spawn_app(&format!(
        "{MULTI}cors_origins: ['http://localhost:5173', 'https://chat.example.com/']\n"
    ))
    .await;
    multi.register("alice", PASSWORD).await;
    for origin in ["http://localhost:5173", "https://chat.example.com"] {
        let (s, b) = login(&multi, origin).await;
        assert_eq!(s, 200, "{origin}: {b}");
    }
    // Listed is the operator's choice, even from another site.
    let (s, b) = send(
        &multi,
        Method::POST,
        "/api/auth/login",
        &json!({"username": "alice", "password": PASSWORD}),
        &[
            ("origin", "http://localhost:5173"),
            ("sec-fetch-site", "cross-site"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    for origin in [
        "http://localhost:5174",
        "http://127.0.0.1:8080",
        "https://evil.example",
    ] {
        let (s, b) = login(&multi, origin).await;
        assert_error(s, &b, 403, "Cross-site request refused");
    }
    multi.stop().await;
}

/// Sends `request` as raw bytes; returns the status code and the body.
async fn raw(app: &TestApp, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {reply:?}"));
    let body = reply
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn single_mode_refuses_missing_repeated_and_malformed_host() {
    let app = spawn_app("").await;
    let port = app.addr.port();
    let (s, _) = raw(
        &app,
        &format!(
            "GET /api/auth/mode HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(s, 200, "the raw client itself works");
    for request in [
        "GET /api/auth/mode HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned(),
        "GET /api/auth/mode HTTP/1.0\r\n\r\n".to_owned(),
        format!(
            "GET /api/auth/mode HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET /api/auth/mode HTTP/1.1\r\nHost: localhost:{port}\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET http://evil.example/api/auth/mode HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
    ] {
        let (s, body) = raw(&app, &request).await;
        assert_eq!(s, 403, "{request:?}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["message"], "Host not allowed", "{request:?}");
    }
    for host in [
        "[::1]evil.example",
        "[::1]:80evil",
        "localhost:80:80",
        "localhost:",
        "localhost:http",
    ] {
        let resp = app
            .client
            .get(app.url("/api/auth/mode"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        let (s, b) = json_of(resp).await;
        assert_error(s, &b, 403, "Host not allowed");
    }
    // The health probes stay exempt.
    let (s, _) = raw(&app, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert_eq!(s, 200);
    app.stop().await;
}

#[tokio::test]
async fn path_parameters_that_are_not_utf8_get_the_json_envelope() {
    let app = spawn_app("").await;
    for (method, path) in [
        ("DELETE", "/api/auth/sessions/%FF"),
        ("DELETE", "/api/auth/api-keys/%C3%28"),
        ("PATCH", "/api/admin/users/%FF"),
        ("DELETE", "/api/admin/users/%FE%FF"),
        ("POST", "/api/admin/users/%FF/logout"),
    ] {
        let (s, b) = app.call(method, path, None, Some(json!({}))).await;
        assert_error(s, &b, 400, "Invalid path parameter");
    }
    // A user id that is UTF-8 but no number stays a 404, as before.
    for (method, path) in [
        ("DELETE", "/api/admin/users/abc"),
        ("PATCH", "/api/admin/users/1x"),
    ] {
        let (s, b) = app.call(method, path, None, Some(json!({}))).await;
        assert_error(s, &b, 404, "User not found");
    }
    app.stop().await;
}
