//! The search backends against fake SearXNG, Brave and Tavily servers on 127.0.0.1: the
//! requests they send (query, count, region, key) and the results they return.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use nanoclaw_fetch::{Backend, Hit, SearchSettings, Searcher};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Seen {
    query: Option<String>,
    headers: HashMap<String, String>,
    body: Option<Value>,
}

type Shared = Arc<Mutex<Seen>>;

fn record(seen: &Shared, query: Option<String>, headers: &HeaderMap, body: Option<Value>) {
    let mut s = seen.lock().unwrap();
    s.query = query;
    s.headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    s.body = body;
}

async fn fake() -> (String, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route(
            "/searx/search",
            get(
                |State(seen): State<Shared>, RawQuery(q): RawQuery, headers: HeaderMap| async move {
                    record(&seen, q, &headers, None);
                    axum::Json(json!({"results": [
                        {"title": "One", "url": "https://one.example/", "content": "first <b>hit</b>"},
                        {"title": "No URL", "content": "skipped"},
                        {"title": "Two", "url": "https://two.example/", "content": "second"},
                        {"title": "Three", "url": "https://three.example/", "content": "third"}
                    ]}))
                },
            ),
        )
        .route(
            "/brave",
            get(
                |State(seen): State<Shared>, RawQuery(q): RawQuery, headers: HeaderMap| async move {
                    record(&seen, q, &headers, None);
                    axum::Json(json!({"web": {"results": [
                        {"title": "<strong>Rust</strong> lang", "url": "https://rust-lang.org/", "description": "A <strong>language</strong>"}
                    ]}}))
                },
            ),
        )
        .route(
            "/tavily",
            post(
                |State(seen): State<Shared>, headers: HeaderMap, axum::Json(body): axum::Json<Value>| async move {
                    record(&seen, None, &headers, Some(body));
                    axum::Json(json!({"results": [
                        {"title": "T", "url": "https://t.example/", "content": "tavily says"}
                    ]}))
                },
            ),
        )
        .route(
            "/down",
            get(|| async { (StatusCode::BAD_GATEWAY, "upstream down").into_response() }),
        )
        .route("/html", get(|| async { "<html>not json</html>" }))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn searcher(backend: Backend, url: &str, key: Option<&str>, region: Option<&str>) -> Searcher {
    Searcher::new(SearchSettings {
        backend,
        url: url.parse().unwrap(),
        api_key: key.map(str::to_owned),
        region: region.map(str::to_owned),
        timeout: Duration::from_secs(10),
        user_agent: "nanoclaw-test".into(),
    })
    .unwrap()
}

async fn run(s: &Searcher, q: &str, n: usize) -> Result<Vec<Hit>, String> {
    s.search(q, n, &CancellationToken::new()).await
}

#[tokio::test]
async fn searxng_gets_query_format_and_language() {
    let (base, seen) = fake().await;
    let s = searcher(
        Backend::Searxng,
        &format!("{base}/searx/"),
        None,
        Some("en-US"),
    );
    let hits = run(&s, "rust & ssrf", 2).await.unwrap();
    assert_eq!(
        hits,
        vec![
            Hit {
                title: "One".into(),
                url: "https://one.example/".into(),
                snippet: "first <b>hit</b>".into()
            },
            Hit {
                title: "Two".into(),
                url: "https://two.example/".into(),
                snippet: "second".into()
            },
        ]
    );
    let q = seen.lock().unwrap().query.clone().unwrap();
    assert_eq!(q, "q=rust+%26+ssrf&format=json&language=en-US");
}

#[tokio::test]
async fn brave_sends_its_key_count_and_country_and_loses_the_markup() {
    let (base, seen) = fake().await;
    let s = searcher(
        Backend::Brave,
        &format!("{base}/brave"),
        Some("brave-key"),
        Some("us"),
    );
    let hits = run(&s, "rust", 3).await.unwrap();
    assert_eq!(
        hits,
        vec![Hit {
            title: "Rust lang".into(),
            url: "https://rust-lang.org/".into(),
            snippet: "A language".into()
        }]
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.query.as_deref(), Some("q=rust&count=3&country=us"));
    assert_eq!(seen.headers["x-subscription-token"], "brave-key");
}

#[tokio::test]
async fn tavily_posts_with_a_bearer_key() {
    let (base, seen) = fake().await;
    let s = searcher(
        Backend::Tavily,
        &format!("{base}/tavily"),
        Some("tvly-key"),
        None,
    );
    let hits = run(&s, "news", 4).await.unwrap();
    assert_eq!(hits[0].snippet, "tavily says");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.headers["authorization"], "Bearer tvly-key");
    assert_eq!(seen.body, Some(json!({"query": "news", "max_results": 4})));
}

#[tokio::test]
async fn backend_failures_are_errors_without_the_key() {
    let (base, _) = fake().await;
    let down = searcher(
        Backend::Brave,
        &format!("{base}/down"),
        Some("secret-key"),
        None,
    );
    let e = run(&down, "x", 5).await.unwrap_err();
    assert_eq!(e, "Search backend answered HTTP 502");
    let html = searcher(
        Backend::Brave,
        &format!("{base}/html"),
        Some("secret-key"),
        None,
    );
    let e = run(&html, "x", 5).await.unwrap_err();
    assert!(e.contains("not JSON"), "{e}");
    let closed = searcher(Backend::Searxng, "http://127.0.0.1:9/", None, None);
    let e = run(&closed, "x", 5).await.unwrap_err();
    assert!(e.starts_with("Search backend unreachable"), "{e}");
    assert!(!format!("{:?}", down).contains("secret-key"));
}

#[test]
fn only_http_backends_are_accepted() {
    let err = Searcher::new(SearchSettings {
        backend: Backend::Searxng,
        url: "file:///etc/passwd".parse().unwrap(),
        api_key: None,
        region: None,
        timeout: Duration::from_secs(1),
        user_agent: "t".into(),
    })
    .unwrap_err();
    assert!(err.contains("http"), "{err}");
}
