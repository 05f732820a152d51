//! In-process cost of one request through the whole router (middleware, auth, handler,
//! envelope), without sockets: what nanoclaw adds per request, free of the kernel's loopback
//! TCP time and of the machine's noise that dominate `bench/run`.
//!
//! `cargo bench -p nanoclaw-server --bench request_path` prints nanoseconds per request
//! (median of several batches) for a fixed-JSON axum router (the same ceiling as
//! `bench/reference`) and for nanoclaw's public, authenticated and single-mode routes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use nanoclaw_core::Config;
use nanoclaw_server::{app, http};
use tower::ServiceExt;

const BATCH: u32 = 20_000;
const BATCHES: usize = 7;

fn main() {
    // The production subscriber: its per-request span is part of the path measured.
    nanoclaw_server::logging::init(nanoclaw_core::config::LogFormat::Json);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reference = reference_router();
    let (multi, _multi_tasks) = nanoclaw(dir.path(), "multi", "auth_mode: multi\n").await;
    let (single, _single_tasks) = nanoclaw(dir.path(), "single", "").await;
    let token = register(&multi).await;
    let bearer = format!("Bearer {token}");

    println!("{:<22} {:>10}", "request", "ns/request");
    report("reference GET /", &reference, || get("/", None)).await;
    report("multi GET mode", &multi, || get("/api/auth/mode", None)).await;
    report("multi GET profile", &multi, || {
        get("/api/auth/profile", Some(&bearer))
    })
    .await;
    report("single GET profile", &single, || {
        get("/api/auth/profile", None)
    })
    .await;
}

async fn nanoclaw(
    base: &std::path::Path,
    name: &str,
    extra: &str,
) -> (Router, app::BackgroundTasks) {
    let root = base.join(name);
    let yaml = format!(
        "jwt_secret: bench-only-jwt-secret-0123456789abcdefghijklmnop\nlogin_rate_limit: 0\n{extra}"
    );
    let config = Config::from_parts(Some(&yaml), "config.yml", Vec::new(), |_| None, &root)
        .expect("config")
        .config;
    std::fs::create_dir_all(&root).expect("dir");
    let state = app::build_state(config).await.expect("state");
    let tasks = app::BackgroundTasks::start(&state);
    (http::router(state), tasks)
}

fn reference_router() -> Router {
    let body = Bytes::from_static(br#"{"code":0,"data":{"id":1,"username":"reference","email":null,"avatar":null,"role":"admin","is_active":true,"created_at":"2025-01-01T00:00:00.000000+00:00","last_login_at":"2025-01-01T00:00:00.000000+00:00"}}"#);
    Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    })
}

fn get(path: &str, bearer: Option<&str>) -> Request<Body> {
    let mut req = Request::get(path).header(header::HOST, "127.0.0.1:8000");
    if let Some(b) = bearer {
        req = req.header(header::AUTHORIZATION, b);
    }
    let mut req = req.body(Body::empty()).expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    req
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, Bytes) {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

async fn register(router: &Router) -> String {
    let mut req = Request::post("/api/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"username":"bench","password":"bench-password-123"}"#,
        ))
        .expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let (status, body) = send(router, req).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
    value["data"]["token"].as_str().expect("token").to_owned()
}

async fn report(name: &str, router: &Router, make: impl Fn() -> Request<Body>) {
    // `cargo bench --bench request_path -- profile`: only the cases whose name contains it.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
        return;
    }
    let (status, body) = send(router, make()).await;
    assert_eq!(status, StatusCode::OK, "{name}: {body:?}");
    let mut samples = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(send(router, make()).await);
        }
        samples.push(start.elapsed() / BATCH);
    }
    samples.sort();
    let median: Duration = samples[BATCHES / 2];
    println!("{name:<22} {:>10}", median.as_nanos());
}
