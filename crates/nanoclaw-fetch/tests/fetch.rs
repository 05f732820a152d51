//! The guarded fetcher against real HTTP servers on 127.0.0.1: the attacks (private targets
//! by every spelling, redirects into private space, port-exact allow-lists, endless bodies,
//! stalled pages) and the features (extraction, caps, batches of at most 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream;
use nanoclaw_fetch::{AllowRule, Extract, FetchSettings, Fetcher, Policy};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const PAGE: &str = r##"<!doctype html><html><head><title>Test page</title>
<meta name="description" content="A page for tests"><script>var leaked = "script text";</script></head>
<body><nav><a href="/nav">Navigation</a></nav><h1>Welcome</h1><p>First <em>paragraph</em>.</p>
<a href="/other">Other page</a> <a href="#frag">frag</a></body></html>"##;

#[derive(Default)]
struct Gauge {
    in_flight: AtomicUsize,
    max: AtomicUsize,
    arrivals: AtomicUsize,
    gate: Notify,
}

struct Server {
    addr: SocketAddr,
    gauge: Arc<Gauge>,
}

async fn serve(other: Option<SocketAddr>) -> Server {
    let gauge = Arc::new(Gauge::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let other = other.unwrap_or(addr);
    let app = Router::new()
        .route("/page", get(|| async { html(PAGE) }))
        .route(
            "/redirect/{n}",
            get(|Path(n): Path<u32>| async move {
                let to = if n == 0 {
                    "/page".to_owned()
                } else {
                    format!("/redirect/{}", n - 1)
                };
                redirect(&to)
            }),
        )
        .route(
            "/to-private",
            get(|| async { redirect("http://10.0.0.1/") }),
        )
        .route(
            "/to-metadata",
            get(|| async { redirect("http://169.254.169.254/latest/meta-data/") }),
        )
        .route(
            "/to-other-port",
            get(move || async move { redirect(&format!("http://{other}/page")) }),
        )
        .route(
            "/to-localhost",
            get(
                move || async move { redirect(&format!("http://localhost:{}/page", other.port())) },
            ),
        )
        .route("/to-file", get(|| async { redirect("file:///etc/passwd") }))
        .route(
            "/endless",
            get(|| async {
                // Never ends: only a reader that stops at its cap returns.
                let chunk = bytes_of(&"<p>lorem ipsum dolor sit amet</p>\n".repeat(2000));
                let body = stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
                with_type("text/html", Body::from_stream(body))
            }),
        )
        .route(
            "/long-text",
            get(|| async { html(&format!("<p>{}</p>", "é".repeat(50_000))) }),
        )
        .route(
            "/stalled",
            get(|| async {
                let first = stream::once(async { Ok::<_, std::io::Error>(bytes_of("<p>start")) });
                with_type(
                    "text/html",
                    Body::from_stream(first.chain(stream::pending())),
                )
            }),
        )
        .route(
            "/image",
            get(|| async { with_type("image/png", Body::from(vec![0x89u8, b'P', b'N', b'G'])) }),
        )
        .route(
            "/json",
            get(|| async { with_type("application/json", Body::from(r#"{"a": 1}"#)) }),
        )
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such page") }),
        )
        .route("/held/{i}", get(held))
        .with_state(gauge.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { addr, gauge }
}

use futures_util::StreamExt as _;

fn bytes_of(s: &str) -> axum::body::Bytes {
    axum::body::Bytes::from(s.to_owned())
}

fn html(s: &str) -> Response {
    with_type("text/html; charset=utf-8", Body::from(s.to_owned()))
}

fn with_type(ct: &str, body: Body) -> Response {
    ([(header::CONTENT_TYPE, ct.to_owned())], body).into_response()
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_owned())]).into_response()
}

/// Holds each request until 5 are in flight at once (or the 10th has arrived), recording the
/// most in flight: a batch running more than 5 at once shows up as a maximum above 5, one
/// running fewer never gets its first five released (and times out).
async fn held(State(g): State<Arc<Gauge>>, Path(_i): Path<u32>) -> Response {
    let notified = g.gate.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    let now = g.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    g.max.fetch_max(now, Ordering::SeqCst);
    let arrived = g.arrivals.fetch_add(1, Ordering::SeqCst) + 1;
    if now >= 5 || arrived >= 10 {
        g.gate.notify_waiters();
    } else {
        notified.await;
    }
    g.in_flight.fetch_sub(1, Ordering::SeqCst);
    html("<p>held</p>")
}

fn settings(allow: &[AllowRule]) -> FetchSettings {
    FetchSettings {
        policy: Policy {
            allow: allow.to_vec(),
        },
        timeout: Duration::from_secs(10),
        ..FetchSettings::default()
    }
}

fn allow_exactly(addr: SocketAddr) -> AllowRule {
    AllowRule {
        net: addr.ip().into(),
        port: Some(addr.port()),
    }
}

async fn page(fetcher: &Fetcher, url: &str, extract: Extract) -> Value {
    fetcher
        .page_result(url, extract, &CancellationToken::new())
        .await
}

fn error_of(v: &Value) -> &str {
    v.get("error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected an error, got {v}"))
}

#[tokio::test]
async fn private_targets_are_refused_by_every_spelling() {
    let server = serve(None).await;
    let port = server.addr.port();
    let fetcher = Fetcher::new(settings(&[]));
    for (url, why) in [
        (format!("http://127.0.0.1:{port}/page"), "loopback"),
        (format!("http://[::1]:{port}/page"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{port}/page"), "loopback"),
        (format!("http://0x7f000001:{port}/page"), "loopback"),
        (format!("http://2130706433:{port}/page"), "loopback"),
        (format!("http://017700000001:{port}/page"), "loopback"),
        (format!("http://127.1:{port}/page"), "loopback"),
        (format!("http://0.0.0.0:{port}/page"), "unspecified"),
        (format!("http://localhost:{port}/page"), "loopback"),
        ("http://10.0.0.1/".to_owned(), "private"),
        ("http://192.168.1.1/".to_owned(), "private"),
        ("http://100.64.0.1/".to_owned(), "CGNAT"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "metadata",
        ),
        ("http://[fd00:ec2::254]/".to_owned(), "metadata"),
        ("http://[fe80::1]/".to_owned(), "link-local"),
        ("http://[64:ff9b::a00:1]/".to_owned(), "private"),
        ("http://224.0.0.1/".to_owned(), "multicast"),
    ] {
        let result = page(&fetcher, &url, Extract::Text).await;
        let error = error_of(&result);
        assert!(error.starts_with("Refused: "), "{url}: {error}");
        assert!(error.contains(why), "{url}: {error}");
        assert_eq!(result["url"], url.as_str());
    }
    // Nothing reached the server.
    assert_eq!(server.gauge.arrivals.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn schemes_and_credentials_are_refused() {
    let fetcher = Fetcher::new(settings(&[]));
    for (url, expected) in [
        ("file:///etc/passwd", "Only http and https"),
        ("ftp://example.com/x", "Only http and https"),
        ("gopher://127.0.0.1:25/", "Only http and https"),
        ("http://user:pw@example.com/", "user name or password"),
        ("not a url", "Invalid URL"),
    ] {
        let result = page(&fetcher, url, Extract::Text).await;
        assert!(error_of(&result).contains(expected), "{url}: {result}");
    }
}

#[tokio::test]
async fn allow_list_admits_exactly_the_listed_socket() {
    let other = serve(None).await;
    let server = serve(Some(other.addr)).await;
    let fetcher = Fetcher::new(settings(&[allow_exactly(server.addr)]));
    let base = format!("http://{}", server.addr);

    let ok = page(&fetcher, &format!("{base}/page"), Extract::Text).await;
    assert_eq!(
        ok["text"], "Welcome\nFirst paragraph.\nOther page frag",
        "{ok}"
    );
    assert!(!ok["text"].as_str().unwrap().contains("script text"));

    // The same address on another port is still refused, directly and through a redirect.
    let direct = page(
        &fetcher,
        &format!("http://{}/page", other.addr),
        Extract::Text,
    )
    .await;
    assert!(error_of(&direct).contains("loopback"), "{direct}");
    for (path, why) in [
        ("/to-other-port", "loopback"),
        ("/to-private", "10.0.0.1 is a private address"),
        (
            "/to-metadata",
            "169.254.169.254 is a cloud metadata address",
        ),
        ("/to-localhost", "loopback"),
        ("/to-file", "Only http and https"),
    ] {
        let result = page(&fetcher, &format!("{base}{path}"), Extract::Text).await;
        assert!(error_of(&result).contains(why), "{path}: {result}");
    }
    assert_eq!(other.gauge.arrivals.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirects_are_followed_at_most_five_times() {
    let server = serve(None).await;
    let fetcher = Fetcher::new(settings(&[allow_exactly(server.addr)]));
    let base = format!("http://{}", server.addr);

    let five = page(&fetcher, &format!("{base}/redirect/4"), Extract::Structured).await;
    assert_eq!(five["title"], "Test page", "{five}");
    assert_eq!(five["final_url"], format!("{base}/page"));

    let six = page(&fetcher, &format!("{base}/redirect/5"), Extract::Text).await;
    assert_eq!(error_of(&six), "Too many redirects (more than 5)");
}

#[tokio::test]
async fn extract_types_shape_the_result() {
    let server = serve(None).await;
    let fetcher = Fetcher::new(settings(&[allow_exactly(server.addr)]));
    let url = format!("http://{}/page", server.addr);

    let links = page(&fetcher, &url, Extract::Links).await;
    let expected = serde_json::json!([
        {"text": "Navigation", "href": format!("http://{}/nav", server.addr)},
        {"text": "Other page", "href": format!("http://{}/other", server.addr)},
    ]);
    assert_eq!(links["links"], expected, "{links}");
    assert_eq!(links["url"], url.as_str());

    let s = page(&fetcher, &url, Extract::Structured).await;
    assert_eq!(s["title"], "Test page");
    assert_eq!(s["description"], "A page for tests");
    assert_eq!(s["links"], expected);
    assert!(s["text"].as_str().unwrap().starts_with("Welcome"));

    let missing = page(
        &fetcher,
        &format!("http://{}/missing", server.addr),
        Extract::Text,
    )
    .await;
    assert_eq!(error_of(&missing), "HTTP 404 Not Found");
}

#[tokio::test]
async fn content_types_other_than_html_and_text_are_refused() {
    let server = serve(None).await;
    let fetcher = Fetcher::new(settings(&[allow_exactly(server.addr)]));
    let image = page(
        &fetcher,
        &format!("http://{}/image", server.addr),
        Extract::Text,
    )
    .await;
    assert!(
        error_of(&image).contains("Unsupported content type: image/png"),
        "{image}"
    );
    let json = page(
        &fetcher,
        &format!("http://{}/json", server.addr),
        Extract::Text,
    )
    .await;
    assert_eq!(json["text"], r#"{"a": 1}"#);
    assert_eq!(json["content_type"], "application/json");
}

#[tokio::test]
async fn an_endless_page_is_read_up_to_the_byte_cap() {
    let server = serve(None).await;
    let fetcher = Fetcher::new(settings(&[allow_exactly(server.addr)]));
    let url = format!("http://{}/endless", server.addr);
    let fetched = fetcher
        .fetch(&url, &CancellationToken::new())
        .await
        .unwrap();
    assert!(fetched.cut);
    assert_eq!(fetched.body.len(), 2 * 1024 * 1024);

    let result = page(&fetcher, &url, Extract::Text).await;
    assert_eq!(result["truncated"], true, "{}", result["note"]);
    assert_eq!(result["text"].as_str().unwrap().chars().count(), 20_000);
    let note = result["note"].as_str().unwrap();
    assert!(note.contains("2097152 bytes"), "{note}");
    assert!(note.contains("text truncated to 20000"), "{note}");
}

#[tokio::test]
async fn long_text_is_cut_to_max_chars_with_a_note() {
    let server = serve(None).await;
    let fetcher = Fetcher::new(settings(&[allow_exactly(server.addr)]));
    let result = page(
        &fetcher,
        &format!("http://{}/long-text", server.addr),
        Extract::Text,
    )
    .await;
    let text = result["text"].as_str().unwrap();
    assert_eq!(text.chars().count(), 20_000);
    assert!(text.chars().all(|c| c == 'é'));
    assert_eq!(result["truncated"], true);
    assert_eq!(
        result["note"],
        "text truncated to 20000 of 50000 characters"
    );
}

#[tokio::test]
async fn a_stalled_page_times_out() {
    let server = serve(None).await;
    let fetcher = Fetcher::new(FetchSettings {
        timeout: Duration::from_millis(300),
        ..settings(&[allow_exactly(server.addr)])
    });
    let result = page(
        &fetcher,
        &format!("http://{}/stalled", server.addr),
        Extract::Text,
    )
    .await;
    assert!(error_of(&result).starts_with("Timed out"), "{result}");
}

#[tokio::test]
async fn cancellation_stops_a_fetch() {
    let server = serve(None).await;
    let fetcher = Fetcher::new(settings(&[allow_exactly(server.addr)]));
    let cancel = CancellationToken::new();
    let url = format!("http://{}/stalled", server.addr);
    let task = {
        let fetcher = fetcher.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { fetcher.page_result(&url, Extract::Text, &cancel).await })
    };
    cancel.cancel();
    let result = task.await.unwrap();
    assert_eq!(error_of(&result), "Cancelled");
}

#[tokio::test]
async fn a_batch_runs_five_at_a_time_in_order() {
    let server = serve(None).await;
    let fetcher = Fetcher::new(settings(&[allow_exactly(server.addr)]));
    let mut urls: Vec<String> = (0..10)
        .map(|i| format!("http://{}/held/{i}", server.addr))
        .collect();
    let result = fetcher
        .batch_result(&urls, Extract::Text, &CancellationToken::new())
        .await;
    assert_eq!(result["total"], 10);
    for (i, r) in result["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(r["text"], "held", "{r}");
        assert_eq!(r["url"], urls[i].as_str());
    }
    assert_eq!(server.gauge.max.load(Ordering::SeqCst), 5);

    urls.push(urls[0].clone());
    let too_many = fetcher
        .batch_result(&urls, Extract::Text, &CancellationToken::new())
        .await;
    assert_eq!(too_many["error"], "Maximum 10 pages can be fetched at once");
}
