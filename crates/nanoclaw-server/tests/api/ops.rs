//! Operations over HTTP: health and readiness, request ids, Prometheus metrics on their own
//! listener.

use std::net::SocketAddr;

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

/// Serves the exporter of `app` on a fresh loopback port.
async fn spawn_metrics(app: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(nanoclaw_server::metrics::serve(listener, app.store.clone()));
    addr
}

/// The value of the first sample line of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_only() {
    let app = spawn_app(
        "auth_mode: multi\njwt_secret: integration-test-secret-0123456789abcdef\n\
         login_rate_limit: 2\nmetrics_addr: 127.0.0.1:0\n",
    )
    .await;
    let metrics = spawn_metrics(&app).await;

    for _ in 0..3 {
        assert_eq!(app.get("/api/models", None).await.status(), 200);
    }
    assert_eq!(app.get("/no/such/route", None).await.status(), 404);
    let other = TestApp::client_from("127.0.0.2");
    let resp = other
        .post(app.url("/api/auth/register"))
        .json(&json!({"username": "metered", "password": "metered-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.login("metered", "wrong-password").await.0, 401);
    assert_eq!(app.login("metered", "metered-password").await.0, 200);
    assert_eq!(app.login("metered", "metered-password").await.0, 429);

    // The public port has no /metrics.
    let (s, b) = json_of(app.get("/metrics", None).await).await;
    assert_error(s, &b, 404, "Not found");

    let resp = http_get(format!("http://{metrics}/metrics")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    let models = [
        r#"method="GET""#,
        r#"route="/api/models""#,
        r#"status="200""#,
    ];
    assert!(
        sample(&text, "nanoclaw_http_requests_total", &models).unwrap() >= 3.0,
        "{text}"
    );
    let bucket = [&models[..], &[r#"le="+Inf""#]].concat();
    assert!(
        sample(
            &text,
            "nanoclaw_http_request_duration_seconds_bucket",
            &bucket
        )
        .unwrap()
            >= 3.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "nanoclaw_http_request_duration_seconds_count",
            &models
        )
        .is_some()
    );
    let unmatched = [r#"route="unmatched""#, r#"status="404""#];
    assert!(sample(&text, "nanoclaw_http_requests_total", &unmatched).unwrap() >= 1.0);
    assert!(
        !text.contains("/no/such/route"),
        "raw paths are never labels"
    );
    let login = [
        r#"route="/api/auth/login""#,
        r#"method="POST""#,
        r#"status="429""#,
    ];
    assert!(sample(&text, "nanoclaw_http_requests_total", &login).unwrap() >= 1.0);
    assert!(sample(&text, "nanoclaw_http_requests_in_flight", &[]).is_some());
    // Counters are process-wide; other tests may add to them.
    assert!(sample(&text, "nanoclaw_logins_total", &[r#"outcome="success""#]).unwrap() >= 1.0);
    assert!(sample(&text, "nanoclaw_logins_total", &[r#"outcome="failure""#]).unwrap() >= 1.0);
    assert!(sample(&text, "nanoclaw_rate_limit_trips_total", &[]).unwrap() >= 1.0);
    assert!(sample(&text, "nanoclaw_db_pool_connections", &[r#"state="idle""#]).is_some());
    assert!(
        sample(
            &text,
            "nanoclaw_db_pool_connections",
            &[r#"state="in_use""#]
        )
        .is_some()
    );
    assert!(sample(&text, "nanoclaw_db_pool_max_connections", &[]).unwrap() >= 1.0);
    assert!(text.contains("# TYPE nanoclaw_http_request_duration_seconds histogram"));

    // The exporter serves nothing else.
    let resp = http_get(format!("http://{metrics}/api/models"))
        .await
        .unwrap();
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 404, "Not found");
}

#[tokio::test]
async fn a_streamed_answer_is_counted_in_the_chat_metrics() {
    use nanoclaw_mock_llm::{MockLlm, Reply, Script};
    let mock = MockLlm::start(
        Script::new().reply(
            Reply::text("Counted, every word.")
                .split_every(5)
                .usage(7, 4),
        ),
    )
    .await;
    // A model id of this test's own: the recorder is shared by every test of the process.
    let app = crate::chat::chat_app_with_model(&mock, "metered-model", "").await;
    let metrics = spawn_metrics(&app).await;
    let scrape = || async {
        let resp = http_get(format!("http://{metrics}/metrics")).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    };
    // The first scrape answers once the exporter (and its recorder) is installed.
    let before = scrape().await;
    let model = r#"model="metered-model""#;
    assert_eq!(
        sample(&before, "nanoclaw_llm_first_token_seconds_count", &[model]),
        None
    );

    let token = app.register("meter", "meter-password").await;
    let id = crate::chat::conversation(&app, &token, json!({"model": "metered-model"})).await;
    let (s, events, _) = crate::chat::send(&app, &token, &id, "Count me").await;
    assert_eq!(s, 200);
    assert_eq!(events.last().unwrap().0, "done", "{events:?}");

    let text = scrape().await;
    assert_eq!(
        sample(&text, "nanoclaw_llm_first_token_seconds_count", &[model]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "nanoclaw_llm_answer_duration_seconds_count",
            &[model, r#"outcome="completed""#]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "nanoclaw_llm_tokens_total",
            &[model, r#"kind="prompt""#]
        ),
        Some(7.0)
    );
    assert_eq!(
        sample(
            &text,
            "nanoclaw_llm_tokens_total",
            &[model, r#"kind="completion""#]
        ),
        Some(4.0)
    );
    assert!(sample(&text, "nanoclaw_chat_streams_open", &[]).is_some());
}
