//! Operations over HTTP: health and readiness, request ids.

use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_are_public_in_both_modes() {
    for yaml in ["", MULTI] {
        let app = spawn_app(yaml).await;
        let (s, b) = json_of(app.get("/healthz", None).await).await;
        assert_eq!(
            (s.as_u16(), b),
            (200, json!({"code": 0, "data": {"status": "ok"}}))
        );
        let (s, b) = json_of(app.get("/readyz", None).await).await;
        assert_eq!(
            (s.as_u16(), b),
            (200, json!({"code": 0, "data": {"status": "ready"}}))
        );
        let head = app.client.head(app.url("/healthz")).send().await.unwrap();
        assert_eq!(head.status(), 200);
        app.stop().await;
    }
}

#[tokio::test]
async fn readyz_is_503_without_the_database_or_with_pending_migrations() {
    let app = spawn_app(MULTI).await;
    let url = match app.config.database_target() {
        nanoclaw_core::config::DatabaseTarget::SqliteFile(path) => {
            format!("sqlite://{}", path.display())
        }
        nanoclaw_core::config::DatabaseTarget::Url(url) => url.expose().to_owned(),
    };
    let db = Database::connect(url).await.unwrap();
    db.execute_unprepared(
        "DELETE FROM seaql_migrations WHERE version = 'm20261127_000001_nanoclaw_schema'",
    )
    .await
    .unwrap();
    db.close().await.unwrap();
    let (s, b) = json_of(app.get("/readyz", None).await).await;
    assert_error(s, &b, 503, "Service temporarily unavailable");

    // The pool is shared with the server: closing it is the database going away.
    app.store.clone().close().await;
    let (s, b) = json_of(app.get("/readyz", None).await).await;
    assert_error(s, &b, 503, "Service temporarily unavailable");
    // Liveness never asks the database.
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn request_ids_are_kept_when_well_formed_and_generated_otherwise() {
    let app = spawn_app(MULTI).await;
    let id_of = |resp: &reqwest::Response| {
        resp.headers()
            .get("x-request-id")
            .expect("x-request-id on every response")
            .to_str()
            .unwrap()
            .to_owned()
    };
    let send = |id: Option<&str>, path: &str| {
        let mut req = app.client.get(app.url(path));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };

    for (id, path) in [
        ("req-42.a_B", "/api/models"),
        ("x", "/no/such/route"),
        (&"a".repeat(128), "/healthz"),
    ] {
        let resp = send(Some(id), path).await.unwrap();
        assert_eq!(id_of(&resp), id, "{path}");
    }

    let generated = |v: &str| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit());
    let long = "a".repeat(300);
    for bad in ["has spaces", "slash/ed", long.as_str(), "a\"b"] {
        let resp = send(Some(bad), "/api/models").await.unwrap();
        let id = id_of(&resp);
        assert!(generated(&id), "{bad:?} replaced by {id:?}");
    }
    // Two ids at once are one too many.
    let resp = app
        .client
        .get(app.url("/api/models"))
        .header("x-request-id", "one")
        .header("x-request-id", "two")
        .send()
        .await
        .unwrap();
    assert!(generated(&id_of(&resp)));

    let a = id_of(&send(None, "/api/models").await.unwrap());
    let b = id_of(&send(None, "/api/models").await.unwrap());
    assert!(generated(&a) && generated(&b), "{a} {b}");
    assert_ne!(a, b);

    // Errors from the auth layer carry it too.
    let resp = send(Some("auth-fail-1"), "/api/auth/profile")
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(id_of(&resp), "auth-fail-1");
}

#[tokio::test]
async fn allowed_origins_may_send_and_read_request_ids() {
    let app = spawn_app(&format!(
        "{MULTI}cors_origins: [https://chat.example.com]\n"
    ))
    .await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/models"))
        .header("origin", "https://chat.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-request-id")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allowed.contains("x-request-id"), "{allowed}");
    let resp = app
        .client
        .get(app.url("/api/models"))
        .header("origin", "https://chat.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-expose-headers"],
        "x-request-id"
    );
}
