//! Routing before authentication: 404 and 405 envelopes, CORS preflights, allowed origins.

use crate::helpers::*;

#[tokio::test]
async fn unknown_paths_are_404_not_401() {
    let app = spawn_app(MULTI).await;
    // `/` is the web interface (tests/api/ui.rs); a path that is no file and not asked for as a
    // page is a 404 envelope.
    for path in ["/api/nonexistent", "/api/models/", "/static/x.js"] {
        let (s, b) = json_of(app.get(path, None).await).await;
        assert_error(s, &b, 404, "Not found");
    }
}

#[tokio::test]
async fn wrong_methods_are_405_envelopes() {
    let app = spawn_app(MULTI).await;
    let resp = app
        .client
        .delete(app.url("/api/auth/mode"))
        .send()
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 405, "Method not allowed");
    let resp = app
        .client
        .get(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn preflights_are_answered_and_only_listed_origins_get_cors_headers() {
    let app = spawn_app(&format!(
        "{MULTI}cors_origins: [https://chat.example.com]\n"
    ))
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/auth/profile"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://chat.example.com").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://chat.example.com"
    );
    let evil = preflight("https://evil.example").await.unwrap();
    assert_eq!(evil.status(), 200, "answered, not 401");
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    let plain = spawn_app(MULTI).await;
    let resp = plain
        .client
        .get(plain.url("/api/auth/mode"))
        .header("origin", "https://chat.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "same-origin only by default"
    );
}
