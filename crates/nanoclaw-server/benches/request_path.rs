//! In-process cost of one request through the whole router (middleware, auth, handler,
//! envelope), without sockets: what nanoclaw adds per request, free of the kernel's loopback
//! TCP time and of the machine's noise that dominate `bench/run`.
//!
//! `cargo bench -p nanoclaw-server --bench request_path` prints nanoseconds per request
//! (median of several batches) for a fixed-JSON axum router (the same ceiling as
//! `bench/reference`) and for nanoclaw's public, authenticated and single-mode routes, and
//! each route's cost as a multiple of the reference's. The cases take turns, one batch each
//! per round, and the multiple is the median of the rounds' own multiples: this machine's
//! speed drifts from minute to minute, and a round is short enough for the drift to cancel.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use nanoclaw_core::Config;
use nanoclaw_server::{app, http};
use std::convert::Infallible;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

const BATCH: u32 = 5_000;
const ROUNDS: usize = 15;

/// A request to measure: a name, the service and the request.
type Case<'a> = (&'static str, &'a Svc, Box<dyn Fn() -> Request<Body> + 'a>);

/// Reference and nanoclaw behind the same box, so both pay the same for it.
type Svc = BoxCloneSyncService<Request<Body>, Response, Infallible>;

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

    let cases: Vec<Case<'_>> = vec![
        ("reference GET /", &reference, Box::new(|| get("/", None))),
        (
            "multi GET mode",
            &multi,
            Box::new(|| get("/api/auth/mode", None)),
        ),
        (
            "multi GET profile",
            &multi,
            Box::new(|| get("/api/auth/profile", Some(&bearer))),
        ),
        (
            "single GET profile",
            &single,
            Box::new(|| get("/api/auth/profile", None)),
        ),
    ];
    report(&selected(cases)).await;
}

/// `cargo bench --bench request_path -- profile`: the reference and the cases whose name
/// contains an argument.
fn selected(cases: Vec<Case<'_>>) -> Vec<Case<'_>> {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    cases
        .into_iter()
        .enumerate()
        .filter(|(i, (name, _, _))| {
            *i == 0 || filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()))
        })
        .map(|(_, case)| case)
        .collect()
}

async fn nanoclaw(base: &std::path::Path, name: &str, extra: &str) -> (Svc, app::BackgroundTasks) {
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
    (BoxCloneSyncService::new(http::service(state)), tasks)
}

fn reference_router() -> Svc {
    let body = Bytes::from_static(br#"{"code":0,"data":{"id":1,"username":"reference","email":null,"avatar":null,"role":"admin","is_active":true,"created_at":"2025-01-01T00:00:00.000000+00:00","last_login_at":"2025-01-01T00:00:00.000000+00:00"}}"#);
    BoxCloneSyncService::new(Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    }))
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

async fn send(router: &Svc, req: Request<Body>) -> (StatusCode, Bytes) {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

async fn register(router: &Svc) -> String {
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

async fn report(cases: &[Case<'_>]) {
    for (name, router, make) in cases {
        let (status, body) = send(router, make()).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body:?}");
    }
    // ns/request per case (outer) and round (inner).
    let mut samples = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for _ in 0..ROUNDS {
        for ((_, router, make), row) in cases.iter().zip(&mut samples) {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(send(router, make()).await);
            }
            row.push((start.elapsed() / BATCH).as_secs_f64() * 1e9);
        }
    }
    println!(
        "{:<22} {:>10} {:>12}",
        "request", "ns/request", "x reference"
    );
    let reference = &samples[0];
    for ((name, _, _), row) in cases.iter().zip(&samples) {
        let multiples: Vec<f64> = row.iter().zip(reference).map(|(ns, r)| ns / r).collect();
        println!(
            "{name:<22} {:>10.0} {:>12.2}",
            median(row.clone()),
            median(multiples)
        );
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
