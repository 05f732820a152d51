//! The OpenAPI document at `/api/openapi.json` and the Swagger UI at `/api/docs/`.
//!
//! How "a route the document does not describe" is caught. Handlers registered with
//! `utoipa_axum::routes!` are in the document by construction (the macro adds the route and its
//! `#[utoipa::path]` together; a handler without that attribute does not compile). What can
//! slip past is a registration that bypasses it: `.route(…)` on an axum `Router` or on an
//! `OpenApiRouter`, `.route_service`, `.nest`, `.nest_service`. So the route list is derived
//! from the server's *source text*, independently of the document:
//!
//! - [`source_routes`] reads every `.rs` file under `crates/nanoclaw-server/src` (up to a file's
//!   `#[cfg(test)]` module, skipping whole-line comments) and collects each registration:
//!   `.route("/p", get(a).post(b))` gives `GET /p` and `POST /p`; `routes!(a, b)` gives the
//!   method and path of `a`'s and `b`'s `#[utoipa::path]`; `SwaggerUi::new("/p")` gives `GET /p`
//!   and `GET /p/`; `.route_service`, `.nest` and `.nest_service` give their path prefix. Paths
//!   may be string literals or `const NAME: &str = "…"` from the same source tree; anything
//!   the scanner cannot read is itself a test failure, so it cannot silently skip a route.
//! - [`every_registered_route_is_documented_and_every_documented_route_exists`] fetches the
//!   document from a running server and fails for every registration missing from it, then
//!   probes every documented operation on that server: none may answer the router's own 404
//!   (`Not found`) or 405, and the status it gets must be one the operation documents.
//! - [`the_scanner_sees_a_plain_route`] runs the scanner on a snippet with an undocumented
//!   `.route(…)`, to show that adding one to the source makes the first test fail.
//!
//! The only exclusion is `GET /metrics` in `src/metrics.rs`: it is served on the separate,
//! private metrics listener, never on the public port this document describes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// (METHOD, path); `*` as the method for a whole service or nested router.
type Route = (String, String);

/// Registrations outside the public router.
const NOT_PUBLIC: &[(&str, &str)] = &[("metrics.rs", "/metrics")];

const HTTP_METHODS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// The `.rs` files of the server crate's `src`, with their text prepared for scanning.
fn source_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, prepare(&text))
        })
        .collect()
}

/// Drops whole-line comments and everything from the first `#[cfg(test)]` on (unit tests sit
/// at the end of a file and may build throw-away routers).
fn prepare(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `const NAME: &str = "value";` anywhere in `files`.
fn string_consts(files: &[(PathBuf, String)]) -> BTreeMap<String, String> {
    let mut consts = BTreeMap::new();
    for (_, text) in files {
        for (i, _) in text.match_indices("const ") {
            let rest = &text[i + "const ".len()..];
            let Some((name, rest)) = rest.split_once(':') else {
                continue;
            };
            let Some(rest) = rest.trim_start().strip_prefix("&str") else {
                continue;
            };
            let Some(rest) = rest.trim_start().strip_prefix('=') else {
                continue;
            };
            if let Some(value) = string_literal(rest) {
                consts.insert(name.trim().to_owned(), value);
            }
        }
    }
    consts
}

/// The leading `"…"` of `s` (no escapes in route paths).
fn string_literal(s: &str) -> Option<String> {
    let s = s.trim_start().strip_prefix('"')?;
    s.split_once('"').map(|(lit, _)| lit.to_owned())
}

/// A path argument: a literal or a known string const (also `module::NAME`).
fn path_arg(arg: &str, consts: &BTreeMap<String, String>) -> Option<String> {
    let arg = arg.trim();
    if arg.starts_with('"') {
        return string_literal(arg);
    }
    let name = arg.rsplit("::").next()?;
    consts.get(name).cloned()
}

/// The text between the `(` at `open` and its matching `)`, skipping string literals.
fn balanced(text: &str, open: usize) -> Option<&str> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in text[open..].char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[open + 1..open + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits call arguments at top-level commas.
fn args(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut in_str) = (0i32, 0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' | '[' | '{' | '<' if !in_str => depth += 1,
            ')' | ']' | '}' | '>' if !in_str => depth -= 1,
            ',' if !in_str && depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|a| !a.trim().is_empty()).collect()
}

/// HTTP methods a method-router expression such as `get(a).post(b)` or
/// `axum::routing::patch(c)` routes.
fn methods_of(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expr[start..i];
            let called = expr[i..].trim_start().starts_with('(');
            let method = word.strip_suffix("_service").unwrap_or(word);
            if called && HTTP_METHODS.contains(&method) {
                found.push(method.to_ascii_uppercase());
            } else if called && matches!(word, "any" | "on" | "any_service" | "on_service") {
                found.push("*".to_owned());
            }
        } else {
            i += 1;
        }
    }
    found
}

/// The method and path of `fn handler`'s `#[utoipa::path(method, path = "…")]`.
fn utoipa_path_of(
    handler: &str,
    files: &[(PathBuf, String)],
    consts: &BTreeMap<String, String>,
) -> Result<Vec<Route>, String> {
    for (_, text) in files {
        let Some(at) = [format!("async fn {handler}("), format!("fn {handler}(")]
            .iter()
            .find_map(|needle| text.find(needle.as_str()))
        else {
            continue;
        };
        let Some(attr) = text[..at].rfind("#[utoipa::path(") else {
            continue;
        };
        let open = attr + "#[utoipa::path".len();
        let inner = balanced(text, open).ok_or("unbalanced #[utoipa::path]")?;
        // The attribute must belong to this function, not to an earlier one.
        if text[open + inner.len()..at].contains("fn ") {
            continue;
        }
        let parts = args(inner);
        let first = parts.first().map(|p| p.trim()).unwrap_or_default();
        let methods: Vec<String> = match first.strip_prefix("method") {
            Some(list) => list
                .trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace())
                .split(',')
                .map(|m| m.trim().to_ascii_uppercase())
                .collect(),
            None => vec![first.to_ascii_uppercase()],
        };
        let path = parts
            .iter()
            .find_map(|p| p.trim().strip_prefix("path"))
            .and_then(|p| p.trim_start().strip_prefix('='))
            .and_then(|p| path_arg(p, consts))
            .ok_or_else(|| format!("no readable path in #[utoipa::path] of {handler}"))?;
        // axum's catch-all `{*rest}` is documented as the parameter `{rest}`.
        let path = path.replace("{*", "{");
        return Ok(methods.into_iter().map(|m| (m, path.clone())).collect());
    }
    Err(format!("no #[utoipa::path] found for handler `{handler}`"))
}

/// Every registration in `text` (a prepared source file). Errors name what could not be read.
fn scan(
    text: &str,
    files: &[(PathBuf, String)],
    consts: &BTreeMap<String, String>,
) -> Result<Vec<Route>, Vec<String>> {
    let mut routes = Vec::new();
    let mut errors = Vec::new();
    let calls = [
        ".route(",
        ".route_service(",
        ".nest(",
        ".nest_service(",
        "routes!(",
        "SwaggerUi::new(",
    ];
    for call in calls {
        for (i, _) in text.match_indices(call) {
            let open = i + call.len() - 1;
            let Some(inner) = balanced(text, open) else {
                errors.push(format!("unbalanced {call}"));
                continue;
            };
            let parts = args(inner);
            let shown = inner.split_whitespace().collect::<Vec<_>>().join(" ");
            match call {
                "routes!(" => {
                    for handler in parts {
                        let name = handler.trim().rsplit("::").next().unwrap_or_default();
                        match utoipa_path_of(name, files, consts) {
                            Ok(found) => routes.extend(found),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                "SwaggerUi::new(" => match parts.first().and_then(|p| path_arg(p, consts)) {
                    Some(p) => {
                        routes.push(("GET".into(), p.clone()));
                        routes.push(("GET".into(), format!("{p}/")));
                    }
                    None => errors.push(format!("cannot read the path of SwaggerUi::new({shown})")),
                },
                ".route(" => {
                    let path = parts.first().and_then(|p| path_arg(p, consts));
                    let methods = parts.get(1).map(|m| methods_of(m)).unwrap_or_default();
                    match path {
                        Some(p) if !methods.is_empty() => {
                            routes.extend(methods.into_iter().map(|m| (m, p.clone())));
                        }
                        _ => errors.push(format!(
                            "cannot read the path or the methods of .route({shown}); use a \
                             literal path and get(…)/post(…)/… so this test can check it"
                        )),
                    }
                }
                _ => match parts.first().and_then(|p| path_arg(p, consts)) {
                    Some(p) => routes.push(("*".into(), p)),
                    None => errors.push(format!("cannot read the path of {call}{shown})")),
                },
            }
        }
    }
    if errors.is_empty() {
        Ok(routes)
    } else {
        Err(errors)
    }
}

/// Every public route registered in the server's source.
fn source_routes() -> BTreeSet<Route> {
    let files = source_files();
    let consts = string_consts(&files);
    let mut all = BTreeSet::new();
    let mut errors = Vec::new();
    for (file, text) in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        match scan(text, &files, &consts) {
            Ok(routes) => all.extend(
                routes
                    .into_iter()
                    .filter(|(_, p)| !NOT_PUBLIC.contains(&(name.as_str(), p.as_str()))),
            ),
            Err(e) => errors.extend(e.into_iter().map(|e| format!("{}: {e}", file.display()))),
        }
    }
    assert!(errors.is_empty(), "unreadable registrations:\n{errors:#?}");
    all
}

/// (METHOD, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<Route> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if HTTP_METHODS.contains(&method.as_str()) {
                ops.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    ops
}

async fn fetch_doc(app: &TestApp) -> Value {
    let resp = app.get("/api/openapi.json", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.unwrap()
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[test]
fn the_scanner_sees_a_plain_route() {
    let files = source_files();
    let consts = string_consts(&files);
    let snippet = prepare(
        "pub fn router() -> Router<AppState> {\n    Router::new()\n        \
         .route(\"/api/undocumented\", get(a).post(b))\n        \
         .route(\"/api/x/{id}\", axum::routing::delete(c))\n}\n",
    );
    let found: BTreeSet<Route> = scan(&snippet, &files, &consts)
        .unwrap()
        .into_iter()
        .collect();
    let expected: BTreeSet<Route> = [
        ("GET", "/api/undocumented"),
        ("POST", "/api/undocumented"),
        ("DELETE", "/api/x/{id}"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    assert_eq!(found, expected);
    // A path the scanner cannot read is an error, not a skipped route.
    assert!(scan(".route(&some_path, get(a))", &files, &consts).is_err());
}

#[tokio::test]
async fn every_registered_route_is_documented_and_every_documented_route_exists() {
    let in_source = source_routes();
    // Guards against a scanner that finds nothing and so passes vacuously.
    for known in [
        ("POST", "/api/auth/login"),
        ("PATCH", "/api/admin/users/{id}"),
        ("GET", "/healthz"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/docs/"),
    ] {
        let known = (known.0.to_owned(), known.1.to_owned());
        assert!(in_source.contains(&known), "scanner missed {known:?}");
    }

    let app = spawn_app(MULTI).await;
    let doc = fetch_doc(&app).await;
    let in_doc = documented(&doc);
    let missing: Vec<&Route> = in_source
        .iter()
        .filter(|(method, path)| {
            if method == "*" {
                !in_doc.iter().any(|(_, p)| p.starts_with(path.as_str()))
            } else {
                !in_doc.contains(&(method.clone(), path.clone()))
            }
        })
        .collect();
    assert!(
        missing.is_empty(),
        "registered in src/ but not in /api/openapi.json: {missing:#?}"
    );

    // Every documented operation exists on the server, and what an anonymous request gets is
    // one of its documented replies.
    let client = no_redirects();
    for (method, path) in &in_doc {
        let concrete = path
            .replace("{id}", "1")
            .replace("{message_id}", "1")
            .replace("{filepath}", "dir/a.txt");
        assert!(!concrete.contains('{'), "unknown path parameter in {path}");
        let resp = client
            .request(method.parse().unwrap(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if status == StatusCode::NOT_FOUND {
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_ne!(
                body["message"], "Not found",
                "{method} {path} is documented but not routed"
            );
        }
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(
            op["responses"].get(status.as_str()).is_some(),
            "{method} {path} answered {status}, which it does not document"
        );
    }
    app.stop().await;
}

/// `value` against `schema` (the subset of JSON Schema the document uses): types, required
/// and undocumented properties, array items, `$ref`.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "dangling {r}");
        return check(doc, target, value, at, errors);
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let integer_as_number = actual == "integer" && types.contains(&"number");
    if !types.contains(&actual) && !integer_as_number {
        errors.push(format!("{at}: {actual} where the document says {types:?}"));
        return;
    }
    match value {
        Value::Object(map) => {
            for required in schema["required"].as_array().into_iter().flatten() {
                let key = required.as_str().unwrap();
                if !map.contains_key(key) {
                    errors.push(format!("{at}.{key}: required but missing"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (key, v) in map {
                match props.and_then(|p| p.get(key)) {
                    Some(s) => check(doc, s, v, &format!("{at}.{key}"), errors),
                    None if schema.get("additionalProperties").is_none() && props.is_some() => {
                        errors.push(format!("{at}.{key}: not in the document"));
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check(doc, &schema["items"], item, &format!("{at}[{i}]"), errors);
            }
        }
        _ => {}
    }
}

/// Path parameters that take the rest of the URL, `/` included (axum's `{*name}`).
const CATCH_ALL: &[&str] = &["{filepath}"];

/// The documented path that `path` (query string allowed) is an instance of.
fn template_of(doc: &Value, path: &str) -> String {
    let path = path.split('?').next().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    let matches = |t: &str| {
        let ts: Vec<&str> = t.split('/').collect();
        let rest = ts.last().is_some_and(|l| CATCH_ALL.contains(l));
        let fixed = if rest { ts.len() - 1 } else { ts.len() };
        let length_ok = if rest {
            segments.len() > fixed
        } else {
            segments.len() == fixed
        };
        length_ok
            && ts[..fixed]
                .iter()
                .zip(&segments)
                .all(|(t, s)| t == s || t.starts_with('{'))
    };
    // A template without a catch-all wins over one with it.
    let mut found: Vec<&String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|t| matches(t))
        .collect();
    found.sort_by_key(|t| CATCH_ALL.iter().any(|c| t.ends_with(c)));
    found
        .first()
        .map(|t| (*t).clone())
        .unwrap_or_else(|| panic!("{path} is not documented"))
}

#[tokio::test]
async fn replies_match_their_documented_schemas() {
    let app = spawn_app(&format!(
        "{MULTI}models:\n  - {{id: m1, name: Model One, api_url: 'https://llm.example/v1', api_key: k}}\n"
    ))
    .await;
    let doc = fetch_doc(&app).await;
    let mut errors = Vec::new();
    let mut seen: BTreeSet<Route> = BTreeSet::new();
    // One request: its status must be documented and its reply must match that schema.
    let mut call = async |method: &str, path: &str, token: Option<&str>, body: Option<Value>| {
        let (status, reply) = app.call(method, path, token, body).await;
        let template = template_of(&doc, path);
        let response =
            &doc["paths"][&template][method.to_ascii_lowercase()]["responses"][status.as_str()];
        assert!(
            !response.is_null(),
            "{method} {path}: {status} is not documented ({reply})"
        );
        let schema = &response["content"]["application/json"]["schema"];
        let at = format!("{method} {template} {status}");
        check(&doc, schema, &reply, &at, &mut errors);
        if status.is_success() {
            seen.insert((method.to_owned(), template));
        }
        reply
    };

    call("GET", "/healthz", None, None).await;
    call("GET", "/readyz", None, None).await;
    call("GET", "/api/auth/mode", None, None).await;
    call("GET", "/api/models", None, None).await;
    call("GET", "/api/tools", None, None).await;
    call("GET", "/api/auth/profile", None, None).await;
    let creds = json!({"username": "root", "password": "root-password-1"});
    let reply = call("POST", "/api/auth/register", None, Some(creds.clone())).await;
    let admin = reply["data"]["token"].as_str().unwrap().to_owned();
    let t = Some(admin.as_str());
    // A second session, to end below.
    call("POST", "/api/auth/login", None, Some(creds)).await;
    call("GET", "/api/auth/profile", t, None).await;
    let avatar = json!({"avatar": "a.png"});
    call("PATCH", "/api/auth/profile", t, Some(avatar)).await;
    let reply = call("GET", "/api/auth/sessions", t, None).await;
    let sessions = reply["data"].as_array().unwrap();
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    let other = other["id"].as_str().unwrap().to_owned();
    call("DELETE", &format!("/api/auth/sessions/{other}"), t, None).await;

    let key = json!({"name": "ci", "expires_in_days": 7, "current_password": "root-password-1"});
    let reply = call("POST", "/api/auth/api-keys", t, Some(key)).await;
    let key_id = reply["data"]["id"].as_str().unwrap().to_owned();
    call("GET", "/api/auth/api-keys", t, None).await;
    call("DELETE", &format!("/api/auth/api-keys/{key_id}"), t, None).await;

    let bob = json!({"username": "bob", "password": "bob-password-1", "email": "b@example.com"});
    let reply = call("POST", "/api/admin/users", t, Some(bob)).await;
    let bob = reply["data"]["id"].as_i64().unwrap();
    call("GET", "/api/admin/users?limit=1", t, None).await;
    let patch = json!({"role": "user", "is_active": true});
    call("PATCH", &format!("/api/admin/users/{bob}"), t, Some(patch)).await;
    let reply = call(
        "POST",
        &format!("/api/admin/users/{bob}/reset-token"),
        t,
        None,
    )
    .await;
    let reset = json!({"token": reply["data"]["token"], "new_password": "bob-password-2"});
    call("POST", "/api/auth/reset-password", None, Some(reset)).await;
    call("POST", &format!("/api/admin/users/{bob}/logout"), t, None).await;
    call("GET", "/api/admin/audit?limit=2", t, None).await;
    call("DELETE", &format!("/api/admin/users/{bob}"), t, None).await;
    call("DELETE", "/api/admin/users/9999", t, None).await;

    let reply = call("POST", "/api/auth/refresh", t, None).await;
    let refreshed = reply["data"]["token"].as_str().unwrap().to_owned();
    let t = Some(refreshed.as_str());
    let conv = json!({"title": "新对话", "model": "m1", "temperature": 0.5, "project_id": null});
    let reply = call("POST", "/api/conversations", t, Some(conv)).await;
    let conv_id = reply["data"]["id"].as_str().unwrap().to_owned();
    call("GET", "/api/conversations?limit=5", t, None).await;
    call("GET", &format!("/api/conversations/{conv_id}"), t, None).await;
    let patch =
        json!({"system_prompt": "Be brief.", "max_tokens": 1024, "thinking_enabled": false});
    call(
        "PATCH",
        &format!("/api/conversations/{conv_id}"),
        t,
        Some(patch),
    )
    .await;
    call(
        "GET",
        &format!("/api/conversations/{conv_id}/messages"),
        t,
        None,
    )
    .await;
    call(
        "DELETE",
        &format!("/api/conversations/{conv_id}/messages/temp_1"),
        t,
        None,
    )
    .await;
    call("GET", "/api/stats/tokens", t, None).await;
    call("GET", "/api/stats/tokens?period=monthly", t, None).await;
    call("DELETE", &format!("/api/conversations/{conv_id}"), t, None).await;

    let reply = call("POST", "/api/projects", t, Some(json!({"name": "P"}))).await;
    let p = reply["data"]["id"].as_str().unwrap().to_owned();
    call("GET", "/api/projects?limit=5", t, None).await;
    call("GET", &format!("/api/projects/{p}"), t, None).await;
    let patch = json!({"name": "Q", "description": "d"});
    call("PUT", &format!("/api/projects/{p}"), t, Some(patch)).await;
    let content = json!({"content": "hello\n"});
    call(
        "PUT",
        &format!("/api/projects/{p}/files/src/a.txt"),
        t,
        Some(content),
    )
    .await;
    call("GET", &format!("/api/projects/{p}/files?path=src"), t, None).await;
    call(
        "GET",
        &format!("/api/projects/{p}/files/src/a.txt"),
        t,
        None,
    )
    .await;
    let search = json!({"query": "hello", "max_results": 5});
    call(
        "POST",
        &format!("/api/projects/{p}/search"),
        t,
        Some(search),
    )
    .await;
    let dir = json!({"path": "docs"});
    call(
        "POST",
        &format!("/api/projects/{p}/directories"),
        t,
        Some(dir),
    )
    .await;
    let to = json!({"new_path": "docs/a.txt"});
    call(
        "PATCH",
        &format!("/api/projects/{p}/files/src/a.txt"),
        t,
        Some(to),
    )
    .await;
    call(
        "DELETE",
        &format!("/api/projects/{p}/files/docs/a.txt"),
        t,
        None,
    )
    .await;
    call("DELETE", &format!("/api/projects/{p}"), t, None).await;
    call(
        "POST",
        "/api/auth/logout",
        Some(&refreshed),
        Some(json!({"all": true})),
    )
    .await;
    // The folder upload is multipart, so it is sent by hand (with a new session: the one
    // above has logged out everywhere).
    let (status, login) = app.login("root", "root-password-1").await;
    assert_eq!(status, 200, "{login}");
    let token = login["data"]["token"].as_str().unwrap().to_owned();
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"Top/a.txt\"\r\n\r\nhi\r\n--{boundary}--\r\n"
    );
    let resp = app
        .client
        .post(app.url("/api/projects/upload"))
        .bearer_auth(&token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, reply) = json_of(resp).await;
    assert_eq!(status, 200, "{reply}");
    let schema = &doc["paths"]["/api/projects/upload"]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    check(
        &doc,
        schema,
        &reply,
        "POST /api/projects/upload 200",
        &mut errors,
    );
    seen.insert(("POST".to_owned(), "/api/projects/upload".to_owned()));

    assert!(
        errors.is_empty(),
        "replies that differ from the document:\n{errors:#?}"
    );

    // Every JSON operation has been checked here, so a new one needs a line above. (The two
    // event-stream operations are checked in chat.rs, event by event.)
    let json_ops: BTreeSet<Route> = documented(&doc)
        .into_iter()
        .filter(|(_, p)| !p.starts_with("/api/docs") && p != "/api/openapi.json")
        .filter(|(m, p)| {
            doc["paths"][p][m.to_ascii_lowercase()]["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_none()
        })
        .collect();
    let unchecked: Vec<&Route> = json_ops.difference(&seen).collect();
    assert!(
        unchecked.is_empty(),
        "no successful reply checked for {unchecked:#?}"
    );
    app.stop().await;
}

/// The UI page: HTML whose scripts and styles are all served here, which loads
/// `/api/openapi.json` and names no other host.
async fn check_swagger_ui(app: &TestApp, token: Option<&str>) {
    let client = no_redirects();
    let resp = client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "/api/docs/");

    let resp = app.get("/api/docs/", token).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            assets.push(part.split('"').next().unwrap().to_owned());
        }
    }
    assert!(
        assets.iter().any(|a| a.ends_with("swagger-initializer.js")),
        "{html}"
    );
    let mut texts = vec![("index.html".to_owned(), html.clone())];
    for asset in &assets {
        assert!(
            !asset.contains("//") && !asset.contains(':'),
            "the page loads {asset} from elsewhere"
        );
        let resp = app
            .get(
                &format!("/api/docs/{}", asset.trim_start_matches("./")),
                token,
            )
            .await;
        assert_eq!(resp.status(), 200, "{asset}");
        if asset.ends_with("initializer.js") {
            texts.push((asset.clone(), resp.text().await.unwrap()));
        }
    }
    let initializer = &texts[1].1;
    assert!(
        initializer.contains("\"url\": \"/api/openapi.json\""),
        "{initializer}"
    );
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "the UI would send the document to an online validator: {initializer}"
    );
    for (name, text) in &texts {
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{name} names an external URL:\n{text}"
        );
    }
    // Unknown files below the UI are the usual 404 envelope.
    let (s, b) = json_of(app.get("/api/docs/nope.js", token).await).await;
    assert_error(s, &b, 404, "Not found");
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_in_multi_mode() {
    let app = spawn_app(MULTI).await;
    check_swagger_ui(&app, None).await;
    app.stop().await;
}

#[tokio::test]
async fn docs_are_public_in_single_mode_even_with_a_single_token() {
    let app = spawn_app("single_token: a-very-long-single-token\n").await;
    // Other routes need the token here ...
    let (s, _) = json_of(app.get("/api/auth/profile", None).await).await;
    assert_eq!(s, 401);
    // ... the document and the UI do not.
    let doc = fetch_doc(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    check_swagger_ui(&app, None).await;
    // They live with the API, behind the Host check that guards single mode.
    let (s, b) = json_of(
        app.client
            .get(app.url("/api/openapi.json"))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &b, 403, "Host not allowed");
    app.stop().await;
}

#[tokio::test]
async fn the_document_describes_auth_envelopes_and_the_missing_stream() {
    let app = spawn_app(MULTI).await;
    let doc = fetch_doc(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let public: BTreeSet<Route> = [
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/register"),
        ("GET", "/api/auth/mode"),
        ("POST", "/api/auth/reset-password"),
        ("GET", "/api/models"),
        ("GET", "/api/tools"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/api/openapi.json"),
        ("GET", "/api/docs"),
        ("GET", "/api/docs/"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    for (method, path) in documented(&doc) {
        let op = &doc["paths"][&path][method.to_ascii_lowercase()];
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(
            secured,
            !public.contains(&(method.clone(), path.clone())),
            "security of {method} {path}"
        );
        if secured {
            assert!(op["responses"].get("401").is_some(), "{method} {path}");
        }
    }
    let error = &doc["components"]["schemas"]["ErrorEnvelope"];
    assert_eq!(error["required"], json!(["code", "message"]));
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(description.contains("text/event-stream"));
    for path in [
        "/api/conversations/{id}/messages",
        "/api/conversations/{id}/regenerate/{message_id}",
    ] {
        let ok = &doc["paths"][path]["post"]["responses"]["200"]["content"];
        assert!(ok.get("text/event-stream").is_some(), "{path}: {ok}");
    }
    app.stop().await;
}
