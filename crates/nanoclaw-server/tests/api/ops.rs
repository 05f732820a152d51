//! Operations over HTTP: health and readiness.

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
