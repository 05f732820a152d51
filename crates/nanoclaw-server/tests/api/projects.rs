//! Projects and their files over HTTP (api.md §6): every endpoint's success and error shapes,
//! folders that never come from user text, uploads that cannot escape, raw-file headers,
//! limits and the quota, and another user's project as a 404 everywhere.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A multipart body by hand: `(field, filename, bytes)` parts.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "nanoclaw-test-boundary-7c1f";
    let mut body = Vec::new();
    for (field, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{field}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &TestApp,
    token: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> (StatusCode, Value) {
    let (ct, body) = multipart(parts);
    json_of(
        app.client
            .post(app.url("/api/projects/upload"))
            .bearer_auth(token)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn create(app: &TestApp, token: &str, name: &str) -> Value {
    let (s, b) = app
        .call(
            "POST",
            "/api/projects",
            Some(token),
            Some(json!({"name": name, "description": "d"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["data"].clone()
}

async fn put(
    app: &TestApp,
    token: &str,
    id: &str,
    path: &str,
    content: &str,
) -> (StatusCode, Value) {
    app.call(
        "PUT",
        &format!("/api/projects/{id}/files/{path}"),
        Some(token),
        Some(json!({"content": content})),
    )
    .await
}

fn root(app: &TestApp) -> PathBuf {
    app.config.workspace_root.clone()
}

/// Every file below `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn projects_are_created_listed_read_updated_and_deleted() {
    let app = spawn_app(MULTI).await;
    let (t, uid) = app.register_id("alice", "alice-password-1").await;
    let t = t.as_str();

    let p = create(&app, t, "  Algo Lab ").await;
    let id = p["id"].as_str().unwrap().to_owned();
    assert!(is_uuid(&id));
    assert_eq!(p["name"], "Algo Lab");
    assert_eq!(p["description"], "d");
    let path = p["path"].as_str().unwrap();
    assert_eq!(
        path,
        format!("user_{uid}/{id}"),
        "folder never from the name"
    );
    assert!(root(&app).join(path).is_dir());
    assert!(p["created_at"].as_str().unwrap().ends_with('Z'));

    // Errors of create.
    for (body, msg) in [
        (json!({}), "No data provided"),
        (json!({"name": "   "}), "Project name is required"),
        (
            json!({"name": "Algo Lab"}),
            "Project 'Algo Lab' already exists",
        ),
    ] {
        let (s, b) = app.call("POST", "/api/projects", Some(t), Some(body)).await;
        assert_error(s, &b, 400, msg);
    }
    for body in [
        json!({"name": 5}),
        json!({"name": "a\u{7}b"}),
        json!({"name": "x".repeat(256)}),
    ] {
        let (s, b) = app.call("POST", "/api/projects", Some(t), Some(body)).await;
        assert_eq!(s, 400, "{b}");
    }

    // A conversation bound to it, and files, for the detail and the delete.
    let (s, b) = app
        .call(
            "POST",
            "/api/conversations",
            Some(t),
            Some(json!({"project_id": id})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let conv = b["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(put(&app, t, &id, "src/main.py", "print(1)\n").await.0, 200);
    assert_eq!(put(&app, t, &id, ".hidden", "x").await.0, 200);

    let (s, b) = app
        .call("GET", &format!("/api/projects/{id}"), Some(t), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let d = &b["data"];
    assert_eq!(d["conversation_count"], 1);
    assert_eq!(
        d["stats"],
        json!({"files": 2, "directories": 1, "total_size": 10})
    );
    assert!(d.get("absolute_path").is_none(), "no server paths: {d}");

    // List with pagination and total.
    for i in 0..3 {
        create(&app, t, &format!("p{i}")).await;
    }
    let (s, b) = app
        .call("GET", "/api/projects?limit=2", Some(t), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["total"], 4);
    assert_eq!(b["data"]["has_more"], true);
    assert_eq!(b["data"]["items"].as_array().unwrap().len(), 2);
    let item = &b["data"]["items"][0];
    for key in [
        "id",
        "name",
        "path",
        "description",
        "created_at",
        "updated_at",
        "conversation_count",
    ] {
        assert!(item.get(key).is_some(), "{key}: {item}");
    }
    let cursor = b["data"]["next_cursor"].as_str().unwrap().to_owned();
    let (_, b2) = app
        .call(
            "GET",
            &format!("/api/projects?limit=2&cursor={cursor}"),
            Some(t),
            None,
        )
        .await;
    assert_eq!(b2["data"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(b2["data"]["has_more"], false);
    let (s, b) = app
        .call("GET", "/api/projects?cursor=nope", Some(t), None)
        .await;
    assert_error(s, &b, 400, "Invalid cursor");
    let (s, b) = app
        .call("GET", "/api/projects?limit=abc", Some(t), None)
        .await;
    assert_eq!(s, 400, "{b}");

    // Update.
    let (s, b) = app
        .call(
            "PUT",
            &format!("/api/projects/{id}"),
            Some(t),
            Some(json!({"name": "Renamed", "description": ""})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["name"], "Renamed");
    assert_eq!(b["data"]["description"], "");
    let keys: Vec<&String> = b["data"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{b}");
    for (body, msg) in [
        (json!({}), "No data provided"),
        (json!({"name": " "}), "Project name cannot be empty"),
        (json!({"name": "p0"}), "Project 'p0' already exists"),
    ] {
        let (s, b) = app
            .call("PUT", &format!("/api/projects/{id}"), Some(t), Some(body))
            .await;
        assert_error(s, &b, 400, msg);
    }
    let (s, b) = app
        .call(
            "PUT",
            "/api/projects/nope",
            Some(t),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_error(s, &b, 404, "Project not found");

    // Delete: folder, row, conversations.
    let (s, b) = app
        .call("DELETE", &format!("/api/projects/{id}"), Some(t), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["message"], "Project deleted successfully");
    assert!(!root(&app).join(format!("user_{uid}/{id}")).exists());
    let (s, b) = app
        .call("GET", &format!("/api/conversations/{conv}"), Some(t), None)
        .await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = app
        .call("DELETE", &format!("/api/projects/{id}"), Some(t), None)
        .await;
    assert_error(s, &b, 404, "Project not found");
    app.stop().await;
}

#[tokio::test]
async fn a_hostile_project_name_is_only_a_label() {
    let app = spawn_app(MULTI).await;
    let (t, uid) = app.register_id("alice", "alice-password-1").await;
    let t = t.as_str();
    std::fs::create_dir_all(root(&app).join("canary")).unwrap();
    std::fs::write(root(&app).join("canary/keep.txt"), "keep").unwrap();
    for name in ["zz/../..", "../escape", "/etc", "..", "a/.."] {
        let p = create(&app, t, name).await;
        let id = p["id"].as_str().unwrap();
        assert_eq!(p["name"], name);
        assert_eq!(p["path"], format!("user_{uid}/{id}"));
        // Its listing is its own (empty) folder, not the workspace root.
        let (s, b) = app
            .call("GET", &format!("/api/projects/{id}/files"), Some(t), None)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["total_files"], 0, "{b}");
        assert_eq!(b["data"]["total_dirs"], 0, "{b}");
        assert_eq!(put(&app, t, id, "f.txt", name).await.0, 200);
        assert!(root(&app).join(format!("user_{uid}/{id}/f.txt")).is_file());
        let (s, _) = app
            .call("DELETE", &format!("/api/projects/{id}"), Some(t), None)
            .await;
        assert_eq!(s, 200);
    }
    assert!(!root(&app).parent().unwrap().join("escape").exists());
    assert_eq!(tree(&root(&app).join("canary")), ["keep.txt"]);
    assert!(root(&app).join(format!("user_{uid}")).is_dir());
    app.stop().await;
}

#[tokio::test]
async fn files_are_listed_read_written_moved_searched_and_deleted() {
    let app = spawn_app(MULTI).await;
    let (t, _) = app.register_id("alice", "alice-password-1").await;
    let t = t.as_str();
    let id = create(&app, t, "files").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/api/projects/{id}");

    // Write.
    let (s, b) = put(
        &app,
        t,
        &id,
        "src/main.py",
        "def f():\n    return 'Hello'\n",
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["data"],
        json!({"name": "main.py", "path": "src/main.py", "size": 28})
    );
    let (s, b) = app
        .call(
            "PUT",
            &format!("{base}/files/a.txt"),
            Some(t),
            Some(json!({})),
        )
        .await;
    assert_error(s, &b, 400, "Missing 'content' in request body");
    let (s, b) = app
        .call(
            "PUT",
            &format!("{base}/files/a.txt"),
            Some(t),
            Some(json!({"content": 1})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    put(&app, t, &id, "README.md", "hello world\r\nHELLO again\n").await;
    put(&app, t, &id, ".secret", "hello hidden").await;

    // List.
    let (s, b) = app
        .call("GET", &format!("{base}/files"), Some(t), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let d = &b["data"];
    assert_eq!(d["project_id"], id.as_str());
    assert_eq!(d["current_path"], "/");
    assert_eq!(
        d["files"],
        json!([{"name": "README.md", "path": "README.md", "size": 25, "extension": ".md"}])
    );
    assert_eq!(d["directories"], json!([{"name": "src", "path": "src"}]));
    assert_eq!(
        (d["total_files"].as_u64(), d["total_dirs"].as_u64()),
        (Some(1), Some(1))
    );
    let (s, b) = app
        .call("GET", &format!("{base}/files?path=src"), Some(t), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["current_path"], "src");
    assert_eq!(b["data"]["files"][0]["path"], "src/main.py");
    for (q, status, msg) in [
        ("?path=nope", 404, "Directory not found"),
        ("?path=README.md", 400, "Path is not a directory"),
        (
            "?path=../..",
            403,
            "Invalid path: outside project directory",
        ),
        ("?path=/etc", 403, "Invalid path: outside project directory"),
    ] {
        let (s, b) = app
            .call("GET", &format!("{base}/files{q}"), Some(t), None)
            .await;
        assert_error(s, &b, status, msg);
    }

    // Read.
    let (s, b) = app
        .call("GET", &format!("{base}/files/src/main.py"), Some(t), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["data"],
        json!({"name": "main.py", "path": "src/main.py", "size": 28, "extension": ".py",
               "content": "def f():\n    return 'Hello'\n"})
    );
    // Line endings come back as stored, so a save writes the same bytes.
    let (_, b) = app
        .call("GET", &format!("{base}/files/README.md"), Some(t), None)
        .await;
    assert_eq!(b["data"]["content"], "hello world\r\nHELLO again\n");
    for (p, status, msg) in [
        ("nope.txt", 404, "File not found"),
        ("src", 400, "Path is not a file"),
        (
            "a%2F..%2F..%2F..%2Fetc%2Fpasswd",
            403,
            "Invalid path: outside project directory",
        ),
        (
            "%2Fetc%2Fpasswd",
            403,
            "Invalid path: outside project directory",
        ),
    ] {
        let (s, b) = app
            .call("GET", &format!("{base}/files/{p}"), Some(t), None)
            .await;
        assert_error(s, &b, status, msg);
    }
    let (s, b) = put(&app, t, &id, "a%2F..%2F..%2Fx.txt", "x").await;
    assert_error(s, &b, 403, "Invalid path: outside project directory");

    // Rename / move.
    let (s, b) = app
        .call(
            "PATCH",
            &format!("{base}/files/src/main.py"),
            Some(t),
            Some(json!({"new_path": "lib/app.py"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"], json!({"name": "app.py", "path": "lib/app.py"}));
    for (p, body, status, msg) in [
        (
            "a.txt",
            json!({}),
            400,
            "Missing 'new_path' in request body",
        ),
        ("nope", json!({"new_path": "x"}), 404, "File not found"),
        (
            "README.md",
            json!({"new_path": "lib/app.py"}),
            400,
            "Destination already exists",
        ),
        (
            "README.md",
            json!({"new_path": "../../x"}),
            403,
            "Invalid path: outside project directory",
        ),
    ] {
        let (s, b) = app
            .call("PATCH", &format!("{base}/files/{p}"), Some(t), Some(body))
            .await;
        assert_error(s, &b, status, msg);
    }
    // The root itself is never a rename source.
    let (s, b) = app
        .call(
            "PATCH",
            &format!("{base}/files/lib%2F.."),
            Some(t),
            Some(json!({"new_path": "x"})),
        )
        .await;
    assert_eq!(s, 400, "{b}");

    // Directories.
    let (s, b) = app
        .call(
            "POST",
            &format!("{base}/directories"),
            Some(t),
            Some(json!({"path": "a/b/c"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"], json!({"path": "a/b/c"}));
    let (s, b) = app
        .call(
            "POST",
            &format!("{base}/directories"),
            Some(t),
            Some(json!({"path": "a/b/c"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = app
        .call(
            "POST",
            &format!("{base}/directories"),
            Some(t),
            Some(json!({"path": ""})),
        )
        .await;
    assert_eq!(b["data"]["path"], ".");
    for (body, status, msg) in [
        (json!({}), 400, "Missing 'path' in request body"),
        (
            json!({"path": "README.md"}),
            400,
            "Directory already exists",
        ),
        (
            json!({"path": "../../x"}),
            403,
            "Invalid path: outside project directory",
        ),
    ] {
        let (s, b) = app
            .call("POST", &format!("{base}/directories"), Some(t), Some(body))
            .await;
        assert_error(s, &b, status, msg);
    }

    // Search.
    let (s, b) = app
        .call(
            "POST",
            &format!("{base}/search"),
            Some(t),
            Some(json!({"query": "hello"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let d = &b["data"];
    assert_eq!(d["query"], "hello");
    let paths: Vec<&str> = d["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["README.md", "lib/app.py"], "{d}");
    assert_eq!(d["total_matches"], 2);
    assert_eq!(
        d["results"][0]["matches"],
        json!([{"line": 1, "content": "hello world"}, {"line": 2, "content": "HELLO again"}])
    );
    let (_, b) = app
        .call(
            "POST",
            &format!("{base}/search"),
            Some(t),
            Some(json!({"query": "HELLO", "case_sensitive": true, "max_results": 5})),
        )
        .await;
    assert_eq!(b["data"]["total_matches"], 1, "{b}");
    let (_, b) = app
        .call(
            "POST",
            &format!("{base}/search"),
            Some(t),
            Some(json!({"query": "hello", "path": "lib"})),
        )
        .await;
    assert_eq!(b["data"]["results"][0]["path"], "lib/app.py", "{b}");
    for (body, status, msg) in [
        (json!({}), 400, "Missing 'query' in request body"),
        (
            json!({"query": "x", "max_results": "5"}),
            400,
            "Field 'max_results' must be a whole number",
        ),
        (
            json!({"query": "x", "path": "nope"}),
            404,
            "Directory not found",
        ),
        (
            json!({"query": "x", "path": "../.."}),
            403,
            "Invalid path: outside project directory",
        ),
    ] {
        let (s, b) = app
            .call("POST", &format!("{base}/search"), Some(t), Some(body))
            .await;
        assert_error(s, &b, status, msg);
    }

    // Delete: never the root; files and directories.
    let (s, b) = app
        .call("DELETE", &format!("{base}/files/lib%2F.."), Some(t), None)
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = app
        .call("DELETE", &format!("{base}/files/README.md"), Some(t), None)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["message"], "Deleted 'README.md'");
    let (s, _) = app
        .call("DELETE", &format!("{base}/files/a"), Some(t), None)
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .call("DELETE", &format!("{base}/files/README.md"), Some(t), None)
        .await;
    assert_error(s, &b, 404, "File not found");
    let (s, b) = app
        .call(
            "DELETE",
            &format!("{base}/files/..%2F..%2Fx"),
            Some(t),
            None,
        )
        .await;
    assert_error(s, &b, 403, "Invalid path: outside project directory");
    let (_, b) = app
        .call("GET", &format!("{base}/files"), Some(t), None)
        .await;
    assert_eq!(b["data"]["total_files"], 0, "{b}");
    // `src` stays, empty, after its file moved out.
    assert_eq!(
        b["data"]["directories"],
        json!([{"name": "lib", "path": "lib"}, {"name": "src", "path": "src"}])
    );
    app.stop().await;
}

#[tokio::test]
async fn raw_files_are_never_active_content() {
    let app = spawn_app(MULTI).await;
    let (t, uid) = app.register_id("alice", "alice-password-1").await;
    let id = create(&app, &t, "raw").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = root(&app).join(format!("user_{uid}/{id}"));
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    std::fs::write(dir.join("pic.png"), png).unwrap();
    std::fs::write(
        dir.join("logo.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    )
    .unwrap();
    std::fs::write(dir.join("page.html"), "<script>alert(1)</script>").unwrap();
    std::fs::write(dir.join("blob.bin"), b"\xff\xfe\x00\x01").unwrap();
    let get = async |path: &str| {
        app.client
            .get(app.url(&format!("/api/projects/{id}/files/{path}")))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
    };
    let check_safe = |r: &reqwest::Response| {
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["content-security-policy"], "sandbox");
    };

    let r = get("pic.png").await;
    assert_eq!(r.status(), 200);
    check_safe(&r);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), png);

    let r = get("logo.svg").await;
    assert_eq!(r.status(), 200);
    check_safe(&r);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );

    // HTML reads as JSON text; asked raw, it is an octet-stream download.
    let (s, b) = json_of(get("page.html").await).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"]["content"], "<script>alert(1)</script>");
    let r = get("page.html?raw=1").await;
    assert_eq!(r.status(), 200);
    check_safe(&r);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );

    // Other binary files: 400 as JSON, an attachment when asked raw.
    let (s, b) = json_of(get("blob.bin").await).await;
    assert_error(s, &b, 400, "Binary file, cannot preview as text");
    let r = get("blob.bin?raw=1").await;
    check_safe(&r);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"\xff\xfe\x00\x01");

    // Over 5 MiB is not previewed.
    std::fs::write(dir.join("big.txt"), vec![b'a'; 5 * 1024 * 1024 + 1]).unwrap();
    let (s, b) = json_of(get("big.txt").await).await;
    assert_error(s, &b, 400, "File too large (max 5 MB)");
    app.stop().await;
}

#[tokio::test]
async fn folder_uploads_stream_in_and_cannot_escape() {
    let app = spawn_app(MULTI).await;
    let (t, uid) = app.register_id("alice", "alice-password-1").await;
    let t = t.as_str();
    let user_dir = root(&app).join(format!("user_{uid}"));

    let big = vec![b'x'; 300_000];
    let (s, b) = upload(
        &app,
        t,
        &[
            ("description", None, b"uploaded"),
            ("files", Some("AlgoLab/src/main.py"), b"print('hi')\n"),
            ("files", Some("AlgoLab/README.md"), b"# Algo\n"),
            ("files", Some("AlgoLab/data/big.bin"), &big),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let d = &b["data"];
    assert_eq!(d["name"], "AlgoLab");
    assert_eq!(d["description"], "uploaded");
    assert_eq!(
        d["stats"],
        json!({"files": 3, "directories": 2, "size": 12 + 7 + 300_000})
    );
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["path"], format!("user_{uid}/{id}"));
    assert_eq!(
        tree(&user_dir.join(id)),
        ["README.md", "data/big.bin", "src/main.py"]
    );
    let (_, b) = app
        .call(
            "GET",
            &format!("/api/projects/{id}/files/src/main.py"),
            Some(t),
            None,
        )
        .await;
    assert_eq!(b["data"]["content"], "print('hi')\n");

    // A form name wins; a taken one is refused before anything is written.
    let (s, b) = upload(
        &app,
        t,
        &[("name", None, b"Named"), ("files", Some("X/a.txt"), b"a")],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["name"], "Named");
    let before = tree(&user_dir);
    let (s, b) = upload(
        &app,
        t,
        &[("name", None, b"Named"), ("files", Some("X/a.txt"), b"a")],
    )
    .await;
    assert_error(s, &b, 400, "Project 'Named' already exists");
    // ... also when the name comes after the files.
    let (s, b) = upload(
        &app,
        t,
        &[("files", Some("X/a.txt"), b"a"), ("name", None, b"Named")],
    )
    .await;
    assert_error(s, &b, 400, "Project 'Named' already exists");
    assert_eq!(tree(&user_dir), before, "a refused upload leaves nothing");

    // Hostile names: refused whole, nothing written anywhere.
    let outside = root(&app).parent().unwrap().join("escaped.txt");
    for name in [
        "X/../../../escaped.txt",
        "X/../../../../../../../../tmp/nanoclaw-escaped.txt",
        "/tmp/nanoclaw-abs.txt",
        "X/a/../../b.txt",
        "X//b.txt",
    ] {
        let (s, b) = upload(
            &app,
            t,
            &[
                ("files", Some("X/ok.txt"), b"ok"),
                ("files", Some(name), b"evil"),
            ],
        )
        .await;
        assert_eq!(s, 400, "{name}: {b}");
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid file name in upload"),
            "{b}"
        );
    }
    assert!(!outside.exists());
    assert!(!Path::new("/tmp/nanoclaw-escaped.txt").exists());
    assert!(!Path::new("/tmp/nanoclaw-abs.txt").exists());
    assert_eq!(tree(&user_dir), before);

    // No files.
    let (s, b) = upload(&app, t, &[("name", None, b"Empty")]).await;
    assert_error(s, &b, 400, "No files uploaded");
    let (s, b) = upload(&app, t, &[("files", Some(""), b"x")]).await;
    assert_error(s, &b, 400, "No files uploaded");
    // Not multipart at all.
    let (s, b) = app
        .call("POST", "/api/projects/upload", Some(t), Some(json!({})))
        .await;
    assert_eq!(s, 400, "{b}");
    app.stop().await;
}

#[tokio::test]
async fn limits_and_the_quota_are_413s() {
    let app = spawn_app(&format!(
        "{MULTI}upload_max_files: 2\nupload_max_bytes: 4096\nfile_max_bytes: 2048\nuser_quota_bytes: 6000\n"
    ))
    .await;
    let (t, uid) = app.register_id("alice", "alice-password-1").await;
    let t = t.as_str();
    let user_dir = root(&app).join(format!("user_{uid}"));
    let kib = vec![b'k'; 1024];
    let big = vec![b'b'; 2049];

    let (s, b) = upload(
        &app,
        t,
        &[
            ("files", Some("X/1"), b"1"),
            ("files", Some("X/2"), b"2"),
            ("files", Some("X/3"), b"3"),
        ],
    )
    .await;
    assert_error(s, &b, 413, "Too many files (max 2)");
    let (s, b) = upload(&app, t, &[("files", Some("X/big"), &big)]).await;
    assert_error(s, &b, 413, "File too large: 'X/big' (max 2048 bytes)");
    let (s, b) = upload(
        &app,
        t,
        &[
            ("files", Some("X/a"), &[b'a'; 2048]),
            ("files", Some("X/b"), &[b'b'; 2049][..2048]),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = upload(
        &app,
        t,
        &[
            ("files", Some("X/a"), &[b'a'; 2048]),
            ("files", Some("X/b"), &[b'b'; 2048]),
        ],
    )
    .await;
    // 4096 bytes exactly is allowed by the upload limit, but not by the quota left (6000 - 4096).
    assert_error(s, &b, 413, "Workspace quota exceeded");
    let id = create(&app, t, "writes").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, b) = put(&app, t, &id, "big.txt", &"b".repeat(2049)).await;
    assert_eq!(s, 413, "{b}");
    let (s, b) = put(
        &app,
        t,
        &id,
        "ok.txt",
        &String::from_utf8(kib.clone()).unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // 4096 + 1024 used; 1024 more passes the file limit but not the quota.
    let (s, b) = put(&app, t, &id, "more.txt", &String::from_utf8(kib).unwrap()).await;
    assert_eq!(s, 413, "{b}");
    assert_eq!(b["message"], "Workspace quota exceeded");
    assert!(!user_dir.join(format!("{id}/more.txt")).exists());
    app.stop().await;
}

#[tokio::test]
async fn another_users_project_is_not_found_everywhere() {
    let app = spawn_app(MULTI).await;
    let (alice, _) = app.register_id("alice", "alice-password-1").await;
    let (bob, _) = app.register_id("bob", "bob-password-1").await;
    let id = create(&app, &alice, "private").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(put(&app, &alice, &id, "secret.txt", "s3cret").await.0, 200);
    let b = Some(bob.as_str());
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/projects/{id}"), None),
        (
            "PUT",
            format!("/api/projects/{id}"),
            Some(json!({"name": "mine"})),
        ),
        ("DELETE", format!("/api/projects/{id}"), None),
        ("GET", format!("/api/projects/{id}/files"), None),
        ("GET", format!("/api/projects/{id}/files/secret.txt"), None),
        (
            "PUT",
            format!("/api/projects/{id}/files/secret.txt"),
            Some(json!({"content": "x"})),
        ),
        (
            "PATCH",
            format!("/api/projects/{id}/files/secret.txt"),
            Some(json!({"new_path": "y"})),
        ),
        (
            "DELETE",
            format!("/api/projects/{id}/files/secret.txt"),
            None,
        ),
        (
            "POST",
            format!("/api/projects/{id}/directories"),
            Some(json!({"path": "d"})),
        ),
        (
            "POST",
            format!("/api/projects/{id}/search"),
            Some(json!({"query": "s3cret"})),
        ),
        (
            "POST",
            "/api/conversations".to_owned(),
            Some(json!({"project_id": id})),
        ),
    ];
    for (method, path, body) in calls {
        let (s, r) = app.call(method, &path, b, body).await;
        assert_error(s, &r, 404, "Project not found");
    }
    let (s, r) = app.call("GET", "/api/projects", b, None).await;
    assert_eq!(s, 200);
    assert_eq!(r["data"]["total"], 0);
    let (s, r) = app
        .call("GET", &format!("/api/projects?cursor={id}"), b, None)
        .await;
    assert_error(s, &r, 400, "Invalid cursor");
    // Nothing of alice's changed.
    let (_, r) = app
        .call(
            "GET",
            &format!("/api/projects/{id}/files/secret.txt"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r["data"]["content"], "s3cret");
    let (_, r) = app
        .call("GET", &format!("/api/projects/{id}"), Some(&alice), None)
        .await;
    assert_eq!(r["data"]["name"], "private");
    // Anonymous: 401.
    let (s, _) = app.call("GET", "/api/projects", None, None).await;
    assert_eq!(s, 401);
    app.stop().await;
}
