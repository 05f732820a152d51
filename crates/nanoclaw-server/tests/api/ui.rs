//! The web interface served from the binary: the page, hashed assets with their caching and
//! precompressed variants, client routes, the JSON 404s kept for the API, traversal probes,
//! HEAD, the security headers, the DNS-rebinding guard, metrics labels and the OpenAPI document.
//!
//! The bodies are compared with `web/dist` on disk: the embedded files must be exactly the
//! committed build (debug builds embed too, see crate `nanoclaw-ui-assets`).

use std::io::Read;
use std::path::PathBuf;

use reqwest::header::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
form-action 'self'; object-src 'none'";

/// What a browser sends when it opens a page.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn dist(path: &str) -> Vec<u8> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../web/dist")
        .join(path);
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn index_html() -> String {
    String::from_utf8(dist("index.html")).unwrap()
}

/// Paths of the hashed files `index.html` links (`/assets/…`), scripts first.
fn linked_assets() -> Vec<String> {
    let html = index_html();
    let mut found: Vec<String> = html
        .match_indices("\"/assets/")
        .filter_map(|(at, _)| {
            let rest = &html[at + 1..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect();
    found.sort_by_key(|p| !p.ends_with(".js"));
    assert!(
        found.iter().any(|p| p.ends_with(".js")),
        "index.html links no script under /assets/: {html}"
    );
    found
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} in {h:?}"))
        .to_str()
        .unwrap()
}

fn assert_secured(h: &HeaderMap) {
    assert_eq!(header(h, "content-security-policy"), CSP);
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
    assert_eq!(header(h, "x-frame-options"), "DENY");
    assert_eq!(header(h, "referrer-policy"), "no-referrer");
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli_decompressor::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Sends `request_line` as raw HTTP/1.1 (no client normalises the path on the way) and returns
/// the status and the whole response text.
async fn raw_get(app: &TestApp, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\nAccept: {BROWSER_ACCEPT}\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {target}: {text:?}"));
    (status, text)
}

#[tokio::test]
async fn the_page_is_served_at_the_root_with_its_security_headers() {
    for mode in [MULTI, ""] {
        let app = spawn_app(mode).await;
        for path in ["/", "/index.html"] {
            let resp = get_with(&app, path, &[("accept", BROWSER_ACCEPT)]).await;
            assert_eq!(resp.status(), 200, "{path}");
            let h = resp.headers().clone();
            assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
            assert_eq!(header(&h, "cache-control"), "no-cache");
            assert!(header(&h, "etag").starts_with('"'));
            assert!(h.get("content-encoding").is_none(), "none was accepted");
            assert_secured(&h);
            assert_eq!(resp.text().await.unwrap(), index_html(), "{path}");
        }
        // Any client, not only browsers, gets the page at `/`.
        let resp = app.get("/", None).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), index_html());
        app.stop().await;
    }
}

#[tokio::test]
async fn single_mode_serves_the_page_to_loopback_names_only() {
    let app = spawn_app("").await;
    let port = app.addr.port();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let resp = get_with(&app, "/", &[("host", &host)]).await;
        assert_eq!(resp.status(), 200, "{host}");
        assert_eq!(resp.text().await.unwrap(), index_html());
    }
    // A rebinding page on another name must not read the UI (nor, through it, the API).
    let resp = get_with(&app, "/", &[("host", "evil.example")]).await;
    let (s, b) = json_of(resp).await;
    assert_error(s, &b, 403, "Host not allowed");
    app.stop().await;
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_precompressed() {
    let app = spawn_app(MULTI).await;
    for path in linked_assets() {
        let on_disk = dist(path.trim_start_matches('/'));
        let plain = get_with(&app, &path, &[]).await;
        assert_eq!(plain.status(), 200, "{path}");
        let h = plain.headers().clone();
        let expected_type = if path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else if path.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            header(&h, "content-type")
        };
        assert_eq!(header(&h, "content-type"), expected_type, "{path}");
        assert_eq!(
            header(&h, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert!(h.get("content-encoding").is_none());
        assert_secured(&h);
        let identity_tag = header(&h, "etag").to_owned();
        assert_eq!(plain.bytes().await.unwrap().as_ref(), on_disk, "{path}");
        if on_disk.len() < 1024 {
            continue;
        }
        assert_eq!(header(&h, "vary"), "Accept-Encoding");

        let mut tags = vec![identity_tag.clone()];
        for (accept, coding) in [
            ("gzip", "gzip"),
            ("br", "br"),
            ("gzip, deflate, br, zstd", "br"),
            ("br;q=0, gzip", "gzip"),
            ("br;q=0.5, gzip;q=0.9", "gzip"),
        ] {
            let resp = get_with(&app, &path, &[("accept-encoding", accept)]).await;
            assert_eq!(resp.status(), 200);
            let h = resp.headers().clone();
            assert_eq!(header(&h, "content-encoding"), coding, "{accept}");
            assert_eq!(header(&h, "vary"), "Accept-Encoding");
            assert_eq!(
                header(&h, "cache-control"),
                "public, max-age=31536000, immutable"
            );
            let packed = resp.bytes().await.unwrap();
            assert!(packed.len() < on_disk.len(), "{path} {coding}");
            assert_eq!(
                header(&h, "content-length"),
                packed.len().to_string(),
                "{path} {coding}"
            );
            let unpacked = match coding {
                "gzip" => gunzip(&packed),
                _ => unbrotli(&packed),
            };
            assert_eq!(unpacked, on_disk, "{path} {coding}");
            tags.push(header(&h, "etag").to_owned());
        }
        // One tag per representation.
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), 3, "{tags:?}");

        // Revalidation: the tag the client holds (in any spelling) answers 304 without a body.
        for held in [
            identity_tag.clone(),
            format!("W/{identity_tag}"),
            format!("\"nope\", {identity_tag}"),
        ] {
            let resp = get_with(&app, &path, &[("if-none-match", &held)]).await;
            assert_eq!(resp.status(), 304, "{held}");
            let h = resp.headers().clone();
            assert_eq!(header(&h, "etag"), identity_tag);
            assert_eq!(
                header(&h, "cache-control"),
                "public, max-age=31536000, immutable"
            );
            assert!(resp.bytes().await.unwrap().is_empty());
        }
        let resp = get_with(
            &app,
            &path,
            &[("if-none-match", "\"0123\""), ("accept-encoding", "gzip")],
        )
        .await;
        assert_eq!(resp.status(), 200, "a stale tag gets the file");
        assert_eq!(gunzip(&resp.bytes().await.unwrap()), on_disk);
    }
    app.stop().await;
}

#[tokio::test]
async fn the_page_is_revalidated_and_compressed_too() {
    let app = spawn_app(MULTI).await;
    let first = get_with(&app, "/", &[("accept-encoding", "br")]).await;
    let h = first.headers().clone();
    let packed = first.bytes().await.unwrap();
    assert_eq!(unbrotli(&packed), index_html().as_bytes());
    let tag = header(&h, "etag");
    let again = get_with(
        &app,
        "/",
        &[("if-none-match", tag), ("accept-encoding", "br")],
    )
    .await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(again.headers(), "cache-control"), "no-cache");
    assert_secured(again.headers());
    app.stop().await;
}

#[tokio::test]
async fn client_routes_fall_back_to_the_page() {
    let app = spawn_app(MULTI).await;
    for path in [
        "/some/client/route",
        "/chat/12",
        "/projects/3/files/src/main.rs",
        "/admin/users?page=2",
        "/c/%C3%A9t%C3%A9",
    ] {
        let resp = get_with(&app, path, &[("accept", BROWSER_ACCEPT)]).await;
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers().clone();
        assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&h, "cache-control"), "no-cache");
        assert!(header(&h, "vary").contains("Accept"), "{path}");
        assert_secured(&h);
        assert_eq!(resp.text().await.unwrap(), index_html(), "{path}");
    }
    // A client that does not ask for HTML (a script, curl, a missing image) gets a 404.
    for accept in ["*/*", "application/json", "image/avif,image/webp,*/*"] {
        let resp = get_with(&app, "/some/client/route", &[("accept", accept)]).await;
        let (s, b) = json_of(resp).await;
        assert_error(s, &b, 404, "Not found");
    }
    app.stop().await;
}

#[tokio::test]
async fn api_paths_and_missing_assets_are_404s_not_the_page() {
    let app = spawn_app(MULTI).await;
    for path in [
        "/api/nope",
        "/api",
        "/api/",
        "/api/conversations/1/nothing",
        "/assets/missing.js",
        "/assets/",
        "/assets/nested/missing.css",
    ] {
        let resp = get_with(&app, path, &[("accept", BROWSER_ACCEPT)]).await;
        let ct = header(resp.headers(), "content-type").to_owned();
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        let (s, b) = json_of(resp).await;
        assert_error(s, &b, 404, "Not found");
    }
    // Writes never reach the interface.
    for path in ["/", "/index.html", "/some/client/route"] {
        let resp = app
            .client
            .post(app.url(path))
            .header("accept", BROWSER_ACCEPT)
            .body("x")
            .send()
            .await
            .unwrap();
        let (s, b) = json_of(resp).await;
        assert_error(s, &b, 404, "Not found");
    }
    app.stop().await;
}

#[tokio::test]
async fn traversal_probes_reach_nothing_outside_the_embedded_files() {
    let app = spawn_app(MULTI).await;
    let workspace_manifest = String::from_utf8(dist("../../Cargo.toml")).unwrap();
    for target in [
        "/../../Cargo.toml",
        "/..%2f..%2fCargo.toml",
        "/..%2F..%2FCargo.toml",
        "/%2e%2e/%2e%2e/Cargo.toml",
        "/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/assets/..%2f..%2f..%2fCargo.toml",
        "/assets/%2e%2e/index.html",
        "/assets/../index.html",
        "/./index.html",
        "/..%5c..%5cCargo.toml",
        "/..\\..\\Cargo.toml",
        "/index.html%00.js",
        "/assets/x.js%00",
        "/%00",
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/Cargo.toml",
        "/a%0d%0aSet-Cookie:%20x=1",
    ] {
        let (status, text) = raw_get(&app, target).await;
        assert!(
            status == 400 || status == 404,
            "{target} answered {status}: {text}"
        );
        assert!(!text.contains("<html"), "{target} answered the page");
        assert!(!text.contains("[workspace]"), "{target}");
        assert!(
            !text.to_ascii_lowercase().contains("set-cookie"),
            "{target}"
        );
    }
    assert!(
        workspace_manifest.contains("[workspace]"),
        "the probed file is real"
    );
    app.stop().await;
}

#[tokio::test]
async fn head_gives_the_headers_of_get_without_a_body() {
    let app = spawn_app(MULTI).await;
    let script = linked_assets().remove(0);
    for (path, accept_encoding) in [("/", ""), ("/", "br"), (script.as_str(), "gzip")] {
        let get = get_with(&app, path, &[("accept-encoding", accept_encoding)]).await;
        let get_headers = get.headers().clone();
        let body = get.bytes().await.unwrap();
        let head = app
            .client
            .head(app.url(path))
            .header("accept-encoding", accept_encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "{path}");
        let h = head.headers().clone();
        for name in [
            "content-type",
            "etag",
            "cache-control",
            "content-security-policy",
        ] {
            assert_eq!(
                header(&h, name),
                header(&get_headers, name),
                "{path} {name}"
            );
        }
        assert_eq!(header(&h, "content-length"), body.len().to_string());
        assert_eq!(
            h.get("content-encoding"),
            get_headers.get("content-encoding")
        );
        assert!(head.bytes().await.unwrap().is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn interface_requests_are_labelled_by_route_in_metrics() {
    let app = spawn_app(&format!("{MULTI}metrics_addr: 127.0.0.1:0\n")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = listener.local_addr().unwrap();
    tokio::spawn(nanoclaw_server::metrics::serve(listener, app.store.clone()));

    let script = linked_assets().remove(0);
    assert_eq!(get_with(&app, &script, &[]).await.status(), 200);
    let client_route = "/ui-metrics-probe/client/route";
    let resp = get_with(&app, client_route, &[("accept", BROWSER_ACCEPT)]).await;
    assert_eq!(resp.status(), 200);
    let missing = "/assets/ui-metrics-probe-missing.js";
    assert_eq!(get_with(&app, missing, &[]).await.status(), 404);

    let text = http_get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let has = |labels: &[&str]| {
        text.lines().any(|l| {
            l.starts_with("nanoclaw_http_requests_total{") && labels.iter().all(|x| l.contains(x))
        })
    };
    assert!(
        has(&[r#"route="/assets/{*file}""#, r#"status="200""#]),
        "{text}"
    );
    assert!(
        has(&[r#"route="/assets/{*file}""#, r#"status="404""#]),
        "{text}"
    );
    assert!(has(&[r#"route="/{*ui}""#, r#"status="200""#]), "{text}");
    for raw in [script.as_str(), client_route, missing] {
        assert!(!text.contains(raw), "raw path {raw} became a label");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_interface_is_not_in_the_openapi_document() {
    let app = spawn_app(MULTI).await;
    let (status, doc) = json_of(app.get("/api/openapi.json", None).await).await;
    assert_eq!(status, 200);
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().any(|p| p.starts_with("/api/")), "{paths:?}");
    for path in paths {
        assert!(
            path.starts_with("/api/") || matches!(path.as_str(), "/healthz" | "/readyz"),
            "{path} is documented"
        );
    }
    app.stop().await;
}
