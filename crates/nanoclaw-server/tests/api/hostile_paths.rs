//! Hostile paths against the real server (issue 13): a property test that sends generated
//! paths (traversal, absolute, symlink chains made inside the project, unicode look-alikes,
//! NUL bytes, backslashes, over-long names and paths) through every file endpoint and checks
//! after each request that nothing outside the project was read, written or deleted and that
//! the project root survives; and the model of another user reaching for a project's files
//! through the tools. `PROPTEST_CASES` overrides the case count (default 64).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::helpers::*;

/// Text found only outside the project under test: in file contents and in names.
const MARKER: &str = "ZQXJ-SECRET";

/// The server, alice's project under test, and what lies around it.
struct World {
    app: TestApp,
    token: String,
    id: String,
    /// The project's folder (canonical).
    project: PathBuf,
    project_ino: u64,
    /// The temp dir holding the workspace root, the sentinel and the data dir.
    base: PathBuf,
    /// Skipped by the snapshot: the database changes on every request.
    data_dir: PathBuf,
    sibling: String,
    theirs: String,
}

fn create_blocking(rt: &tokio::runtime::Runtime, app: &TestApp, token: &str, name: &str) -> Value {
    rt.block_on(async {
        let (s, b) = app
            .call(
                "POST",
                "/api/projects",
                Some(token),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["data"].clone()
    })
}

fn world(rt: &tokio::runtime::Runtime) -> World {
    let app = rt.block_on(spawn_app(MULTI));
    let (token, _) = rt.block_on(app.register_id("alice", "alice-password-1"));
    let (bob, _) = rt.block_on(app.register_id("bob", "bob-password-1"));
    let root = app.config.workspace_root.canonicalize().unwrap();
    let base = root.parent().unwrap().to_path_buf();
    // With PostgreSQL or MariaDB nothing has made the data folder yet.
    fs::create_dir_all(&app.config.data_dir).unwrap();
    let data_dir = app.config.data_dir.canonicalize().unwrap();
    assert!(!data_dir.starts_with(&root));

    let sentinel = base.join("sentinel");
    fs::create_dir_all(sentinel.join(format!("{MARKER}-dir"))).unwrap();
    fs::write(sentinel.join(format!("{MARKER}-a.txt")), MARKER).unwrap();
    fs::write(sentinel.join(format!("{MARKER}-img.png")), MARKER).unwrap();
    fs::write(
        sentinel.join(format!("{MARKER}-dir/{MARKER}-b.py")),
        format!("print('{MARKER}')\n"),
    )
    .unwrap();
    let sibling = create_blocking(rt, &app, &token, "sibling")["path"]
        .as_str()
        .unwrap()
        .to_owned();
    fs::write(
        root.join(&sibling).join(format!("{MARKER}-sibling.txt")),
        MARKER,
    )
    .unwrap();
    let theirs = create_blocking(rt, &app, &bob, "theirs")["path"]
        .as_str()
        .unwrap()
        .to_owned();
    fs::write(root.join(&theirs).join(format!("{MARKER}-bob.txt")), MARKER).unwrap();
    let p = create_blocking(rt, &app, &token, "under test");
    let id = p["id"].as_str().unwrap().to_owned();
    let project = root.join(p["path"].as_str().unwrap());
    let project_ino = fs::metadata(&project).unwrap().ino();
    let w = World {
        app,
        token,
        id,
        project,
        project_ino,
        base,
        data_dir,
        sibling,
        theirs,
    };
    reset(&w);
    w
}

/// Empties the project (never the folder itself) and fills it again: ordinary files, unicode
/// names and hostile symlinks.
fn reset(w: &World) {
    let p = &w.project;
    for entry in fs::read_dir(p).unwrap() {
        let path = entry.unwrap().path();
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            fs::remove_dir_all(&path).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
    fs::create_dir_all(p.join("src/sub")).unwrap();
    fs::write(p.join("src/main.py"), "print('hello')\n").unwrap();
    fs::write(p.join("README.md"), "# readme\n").unwrap();
    fs::write(p.join("\u{e9}.txt"), "nfc\n").unwrap();
    fs::write(p.join("\u{202e}txt.exe"), "rtl\n").unwrap();
    let sentinel = w.base.join("sentinel");
    let sibling = w.sibling.rsplit('/').next().unwrap();
    let links: Vec<(&str, PathBuf)> = vec![
        ("link_out_dir", sentinel.clone()),
        ("link_out_file", sentinel.join(format!("{MARKER}-a.txt"))),
        ("pic.png", sentinel.join(format!("{MARKER}-img.png"))),
        ("link_rel_up", PathBuf::from("../../../sentinel")),
        ("link_sibling", PathBuf::from(format!("../{sibling}"))),
        ("link_user2", PathBuf::from(format!("../../{}", w.theirs))),
        ("link_ws", PathBuf::from("../..")),
        ("link_root", PathBuf::from("/")),
        ("dangle", sentinel.join("created-by-attack.txt")),
        (
            "dangle_rel",
            PathBuf::from("../../../sentinel/created-by-attack.txt"),
        ),
        ("dangle_dir", sentinel.join("new-dir/x.txt")),
        ("chain1", PathBuf::from("chain2")),
        ("chain2", PathBuf::from("src/sub/chain3")),
        ("loopa", PathBuf::from("loopb")),
        ("loopb", PathBuf::from("loopa")),
        ("link_inside", PathBuf::from("src")),
        ("link_self", PathBuf::from(".")),
    ];
    for (name, target) in links {
        symlink(target, p.join(name)).unwrap();
    }
    symlink("../../link_out_dir", p.join("src/sub/chain3")).unwrap();
    symlink("../..", p.join("src/sub/up_to_root")).unwrap();
}

/// Every path outside the project and the data dir, with its kind, content or link target,
/// and mtime.
type Snapshot = BTreeMap<PathBuf, (String, Option<SystemTime>)>;

fn snapshot(w: &World) -> Snapshot {
    fn walk(dir: &Path, skip: &[&Path], out: &mut Snapshot) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if skip.contains(&path.as_path()) {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            let mtime = meta.modified().ok();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.insert(path, (format!("link {}", target.display()), mtime));
            } else if meta.is_dir() {
                out.insert(path.clone(), ("dir".into(), mtime));
                walk(&path, skip, out);
            } else {
                let content = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
                out.insert(path, (content, mtime));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        &w.base,
        &[w.project.as_path(), w.data_dir.as_path()],
        &mut out,
    );
    out
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just(String::new()),
        1 => Just("...".to_owned()),
        5 => prop::sample::select(vec![
            "src", "sub", "main.py", "README.md", "new.txt", "pic.png", "link_out_dir",
            "link_out_file", "link_rel_up", "link_sibling", "link_user2", "link_ws", "link_root",
            "dangle", "dangle_rel", "dangle_dir", "chain1", "chain2", "chain3", "loopa",
            "link_inside", "link_self", "up_to_root", "sentinel", "workspaces", "data",
            "user_1", "user_2", "etc", "passwd", "x.txt", "x.svg", "new-dir",
        ])
        .prop_map(str::to_owned),
        2 => prop::sample::select(vec![
            "\u{e9}.txt",
            "e\u{301}.txt",
            "\u{202e}txt.exe",
            "\u{ff0e}\u{ff0e}",
            "\u{2024}\u{2024}",
            "..\u{200b}",
            "\u{2215}etc",
            "%2e%2e",
            "%2F..%2F",
            "~",
            "a\0b",
            "\0",
            "..\\..\\sentinel",
            "a\\b",
            "\\",
            " ",
            ".. ",
            "?x=1",
            "#frag",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z]{1,8}",
        1 => "\\PC{1,6}",
        1 => Just("n".repeat(255)),
        1 => Just("n".repeat(256)),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Start {
    Relative,
    Dot,
    Slash,
    Project,
    Outer,
    Sentinel,
    /// Over 4096 bytes of `a/` before the tail.
    Long,
    /// Over 4096 bytes of `../` before the tail.
    LongUp,
}

#[derive(Debug, Clone)]
struct HostilePath(Start, Vec<String>, bool);

impl HostilePath {
    fn render(&self, w: &World) -> String {
        let mut tail = self.1.join("/");
        if self.2 {
            tail.push('/');
        }
        match self.0 {
            Start::Relative => tail,
            Start::Dot => format!("./{tail}"),
            Start::Slash => format!("/{tail}"),
            Start::Project => format!("{}/{tail}", w.project.display()),
            Start::Outer => format!("{}/{tail}", w.base.display()),
            Start::Sentinel => format!("{}/{tail}", w.base.join("sentinel").display()),
            Start::Long => format!("{}{tail}", "a/".repeat(2100)),
            Start::LongUp => format!("{}{tail}", "../".repeat(1400)),
        }
    }
}

fn hostile_path() -> impl Strategy<Value = HostilePath> {
    let start = prop_oneof![
        8 => Just(Start::Relative),
        1 => Just(Start::Dot),
        1 => Just(Start::Slash),
        2 => Just(Start::Project),
        1 => Just(Start::Outer),
        2 => Just(Start::Sentinel),
        1 => Just(Start::Long),
        1 => Just(Start::LongUp),
    ];
    (
        start,
        prop::collection::vec(component(), 0..6),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(s, c, t)| HostilePath(s, c, t))
}

#[derive(Debug, Clone)]
enum Op {
    Read(HostilePath),
    Write(HostilePath),
    Rename(HostilePath, HostilePath),
    Delete(HostilePath),
    Mkdir(HostilePath),
    List(HostilePath),
    Search(HostilePath),
}

fn op() -> impl Strategy<Value = Op> {
    let p = hostile_path;
    prop_oneof![
        2 => p().prop_map(Op::Read),
        2 => p().prop_map(Op::Write),
        2 => (p(), p()).prop_map(|(a, b)| Op::Rename(a, b)),
        2 => p().prop_map(Op::Delete),
        1 => p().prop_map(Op::Mkdir),
        1 => p().prop_map(Op::List),
        1 => p().prop_map(Op::Search),
    ]
}

/// The path as one URL segment: every byte but unreserved ASCII percent-encoded, `/` too, so
/// that the client cannot normalise `..` segments away before the server sees them.
fn encode(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends one request for `op`; returns `(status, body as text)` of each request made.
async fn send(w: &World, op: &Op) -> Vec<(u16, String)> {
    let app = &w.app;
    let files = format!("/api/projects/{}/files", w.id);
    let client = &app.client;
    let mut requests = Vec::new();
    match op {
        Op::Read(p) => {
            requests.push(client.get(app.url(&format!("{files}/{}", encode(&p.render(w))))));
        }
        Op::Write(p) => requests.push(
            client
                .put(app.url(&format!("{files}/{}", encode(&p.render(w)))))
                .json(&json!({"content": "pwned"})),
        ),
        Op::Rename(a, b) => requests.push(
            client
                .patch(app.url(&format!("{files}/{}", encode(&a.render(w)))))
                .json(&json!({"new_path": b.render(w)})),
        ),
        Op::Delete(p) => {
            requests.push(client.delete(app.url(&format!("{files}/{}", encode(&p.render(w))))));
        }
        Op::Mkdir(p) => requests.push(
            client
                .post(app.url(&format!("/api/projects/{}/directories", w.id)))
                .json(&json!({"path": p.render(w)})),
        ),
        Op::List(p) => {
            requests.push(client.get(app.url(&format!("{files}?path={}", encode(&p.render(w))))))
        }
        Op::Search(p) => {
            for query in [MARKER, "e"] {
                requests.push(
                    client
                        .post(app.url(&format!("/api/projects/{}/search", w.id)))
                        .json(&json!({"query": query, "path": p.render(w), "max_results": 200})),
                );
            }
        }
    }
    let mut out = Vec::new();
    for request in requests {
        let resp = request.bearer_auth(&w.token).send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        out.push((status, String::from_utf8_lossy(&bytes).into_owned()));
    }
    out
}

/// No outside data in an answer, no 5xx but the spec's own failures, and every path a listing
/// or search names resolves inside the project.
fn check_answer(w: &World, op: &Op, status: u16, body: &str) -> Result<(), TestCaseError> {
    // A search echoes its query; only what it found matters.
    let found = body.replace(&format!("\"query\":\"{MARKER}\""), "");
    prop_assert!(
        !found.contains(MARKER),
        "{:?} answered outside data ({}): {}",
        op,
        status,
        body
    );
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Ok(()); // a raw file (image) or a non-JSON 404 from the router
    };
    let data = &value["data"];
    let mut paths: Vec<&str> = Vec::new();
    for key in ["files", "directories", "results"] {
        for entry in data[key].as_array().into_iter().flatten() {
            paths.extend(entry["path"].as_str());
        }
    }
    for path in paths {
        let real = w.project.join(path).canonicalize();
        prop_assert!(
            real.as_ref().is_ok_and(|r| r.starts_with(&w.project)),
            "{:?} named {} which resolves to {:?}",
            op,
            path,
            real
        );
    }
    Ok(())
}

fn check_untouched(w: &World, before: &Snapshot, what: &str) -> Result<(), TestCaseError> {
    let after = snapshot(w);
    if &after != before {
        let changed: Vec<_> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .chain(before.keys().filter(|k| !after.contains_key(*k)))
            .collect();
        return Err(TestCaseError::fail(format!(
            "{what} changed something outside the project: {changed:?}"
        )));
    }
    let meta = fs::symlink_metadata(&w.project);
    prop_assert!(
        meta.as_ref()
            .is_ok_and(|m| m.is_dir() && m.ino() == w.project_ino),
        "{} deleted or replaced the project root: {:?}",
        what,
        meta
    );
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

#[test]
fn hostile_paths_through_the_api_touch_nothing_outside_the_project() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = world(&rt);
    let before = snapshot(&w);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 1..5), |ops| {
        reset(&w);
        for op in &ops {
            for (status, body) in rt.block_on(send(&w, op)) {
                check_answer(&w, op, status, &body)?;
            }
            check_untouched(&w, &before, &format!("{op:?}"))?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(w.app.stop());
}

/// Known attacks the generator is meant to reach, each with the answer the spec names.
#[tokio::test]
async fn known_attacks_are_refused_over_http() {
    // A World needs a runtime of its own (it blocks); these use the same shapes directly.
    let app = spawn_app(MULTI).await;
    let (t, _) = app.register_id("alice", "alice-password-1").await;
    let (s, b) = app
        .call(
            "POST",
            "/api/projects",
            Some(&t),
            Some(json!({"name": "p"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["data"]["id"].as_str().unwrap().to_owned();
    let root = app.config.workspace_root.canonicalize().unwrap();
    let project = root.join(b["data"]["path"].as_str().unwrap());
    let outside = root.parent().unwrap().join("sentinel");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret.txt"), MARKER).unwrap();
    symlink(&outside, project.join("out")).unwrap();
    symlink(outside.join("secret.txt"), project.join("leak.png")).unwrap();
    symlink(outside.join("made.txt"), project.join("dangle")).unwrap();
    let files = format!("/api/projects/{id}/files");
    let forbidden = "Invalid path: outside project directory";
    for path in [
        "..%2F..%2F..%2Fsentinel%2Fsecret.txt",
        "out%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "a%00b",
    ] {
        let (s, b) = app
            .call("GET", &format!("{files}/{path}"), Some(&t), None)
            .await;
        assert!(s == 403 || s == 400, "{path}: {s} {b}");
        assert!(!b.to_string().contains(MARKER), "{path}: {b}");
    }
    // A link to an image outside is not served raw.
    let resp = app
        .client
        .get(app.url(&format!("{files}/leak.png")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(!resp.text().await.unwrap().contains(MARKER));
    // The project root is never deleted or renamed, however it is named.
    for path in ["src%2F..", ".%2F", "%2E", "out%2F..%2F..", "a%2F..%2F"] {
        let (s, b) = app
            .call("DELETE", &format!("{files}/{path}"), Some(&t), None)
            .await;
        assert!(s == 403 || s == 400 || s == 404, "{path}: {s} {b}");
        assert!(project.is_dir(), "{path} deleted the project");
    }
    let (s, b) = app
        .call(
            "PATCH",
            &format!("{files}/src%2F.."),
            Some(&t),
            Some(json!({"new_path": "moved"})),
        )
        .await;
    assert!(s == 403 || s == 400 || s == 404, "{s} {b}");
    // A write through a link into a directory outside, or a rename to there, is refused.
    let (s, b) = app
        .call(
            "PUT",
            &format!("{files}/out%2Fmade.txt"),
            Some(&t),
            Some(json!({"content": "pwned"})),
        )
        .await;
    assert_error(s, &b, 403, forbidden);
    fs::write(project.join("mine.txt"), "mine").unwrap();
    let (s, b) = app
        .call(
            "PATCH",
            &format!("{files}/mine.txt"),
            Some(&t),
            Some(json!({"new_path": "out/mine.txt"})),
        )
        .await;
    assert_error(s, &b, 403, forbidden);
    let (s, b) = app
        .call(
            "GET",
            &format!("{files}?path=..%2F..%2F..%2Fsentinel"),
            Some(&t),
            None,
        )
        .await;
    assert_error(s, &b, 403, forbidden);
    let (s, b) = app
        .call(
            "POST",
            &format!("/api/projects/{id}/search"),
            Some(&t),
            Some(json!({"query": MARKER, "path": "out"})),
        )
        .await;
    assert_error(s, &b, 403, forbidden);
    // Whatever writing through a dangling link does, it never creates the target outside.
    let _ = app
        .call(
            "PUT",
            &format!("{files}/dangle"),
            Some(&t),
            Some(json!({"content": "pwned"})),
        )
        .await;
    assert!(!outside.join("made.txt").exists());
    assert!(!outside.join("mine.txt").exists());
    assert_eq!(
        fs::read_to_string(outside.join("secret.txt")).unwrap(),
        MARKER
    );
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    app.stop().await;
}

/// The events of a finished stream as `(name, data)`.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let mut lines = e.lines();
            let name = lines.next()?.strip_prefix("event: ")?.to_owned();
            let data = lines.next()?.strip_prefix("data: ")?;
            Some((name, serde_json::from_str(data).ok()?))
        })
        .collect()
}

/// Bob's model, working in bob's project, reaches for alice's files with every path it can
/// write, and bob names alice's project in a message body: nothing of alice's is read,
/// changed or deleted, and the model is never even asked in the second case.
#[tokio::test]
async fn another_users_files_are_out_of_reach_of_the_model() {
    // The paths depend on ids the server makes: the replies are queued once they are known.
    let mock = MockLlm::start(Script::new()).await;
    let app = spawn_app(&format!(
        "{MULTI}models:\n  - {{id: mock-model, name: Mock, api_url: '{}', api_key: test-key}}\n",
        mock.url()
    ))
    .await;
    let (alice, alice_id) = app.register_id("alice", "alice-password-1").await;
    let (bob, _) = app.register_id("bob", "bob-password-1").await;
    let mk = |token: String, name: &'static str| {
        let app = &app;
        async move {
            let (s, b) = app
                .call(
                    "POST",
                    "/api/projects",
                    Some(&token),
                    Some(json!({"name": name})),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            b["data"].clone()
        }
    };
    let theirs = mk(alice, "private").await;
    let mine = mk(bob.clone(), "mine").await;
    let alice_pid = theirs["id"].as_str().unwrap().to_owned();
    let root = app.config.workspace_root.canonicalize().unwrap();
    let alice_dir = root.join(theirs["path"].as_str().unwrap());
    fs::write(alice_dir.join("secret.txt"), "s3cret-of-alice").unwrap();
    let rel = format!("../../user_{alice_id}/{alice_pid}");
    let replace = |s: &str| {
        s.replace("ALICE_REL_ROOT", &rel)
            .replace("ALICE_REL", &format!("{rel}/secret.txt"))
            .replace(
                "ALICE_ABS",
                &alice_dir.join("secret.txt").display().to_string(),
            )
            .replace("ALICE_DIR_REL", &rel)
    };
    mock.push(Reply::tool_calls([
        ("c0", "file_read", replace("{\"path\": \"ALICE_REL\"}")),
        ("c1", "file_read", replace("{\"path\": \"ALICE_REL_ROOT\"}")),
        ("c2", "file_read", replace("{\"path\": \"ALICE_ABS\"}")),
        ("c3", "file_list", replace("{\"path\": \"ALICE_DIR_REL\"}")),
        ("c4", "file_exists", replace("{\"path\": \"ALICE_REL\"}")),
    ]));
    mock.push(Reply::tool_calls([
        (
            "c5",
            "file_write",
            replace("{\"path\": \"ALICE_REL\", \"content\": \"pwned\"}"),
        ),
        (
            "c6",
            "file_delete",
            replace("{\"path\": \"ALICE_REL_ROOT\"}"),
        ),
        (
            "c7",
            "file_mkdir",
            replace("{\"path\": \"ALICE_DIR_REL/made\"}"),
        ),
    ]));
    mock.push(Reply::text("Tried."));
    let (s, conv) = app
        .call(
            "POST",
            "/api/conversations",
            Some(&bob),
            Some(json!({"project_id": mine["id"]})),
        )
        .await;
    assert_eq!(s, 200, "{conv}");
    let conv = conv["data"]["id"].as_str().unwrap().to_owned();
    let resp = app
        .client
        .post(app.url(&format!("/api/conversations/{conv}/messages")))
        .bearer_auth(&bob)
        .json(&json!({"text": "read alice's secret", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = events(&resp.text().await.unwrap());
    assert_eq!(events.last().unwrap().0, "done", "{events:?}");
    let results: Vec<Value> = events
        .iter()
        .filter(|(n, d)| n == "process_step" && d["type"] == "tool_result")
        .map(|(_, d)| serde_json::from_str(d["content"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(results.len(), 8, "{results:?}");
    for r in &results {
        assert_eq!(r["success"], false, "{r}");
        assert!(!r.to_string().contains("s3cret"), "{r}");
    }
    assert_eq!(
        fs::read_to_string(alice_dir.join("secret.txt")).unwrap(),
        "s3cret-of-alice"
    );
    assert!(!alice_dir.join("made").exists());
    let requests = mock.bodies().len();
    // Alice's project named in bob's message body: 404 before the model is asked.
    let resp = app
        .client
        .post(app.url(&format!("/api/conversations/{conv}/messages")))
        .bearer_auth(&bob)
        .json(&json!({"text": "again", "stream": true, "project_id": alice_pid}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "Project not found", "{body}");
    assert_eq!(mock.bodies().len(), requests);
    app.stop().await;
}
