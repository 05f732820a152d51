//! Property test: the six file tools, run through the registry and the executor as the answer
//! loop runs them, with hostile paths the model could write (traversal, absolute paths, symlink
//! chains inside the project, unicode look-alikes, NUL bytes, backslashes, over-long names and
//! paths). Nothing outside the project is read, written or deleted, and the project root
//! itself survives. `PROPTEST_CASES` overrides the case count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use nanoclaw_agent::{ToolContext, ToolExecutor, ToolRegistry};
use nanoclaw_llm::ToolCall;
use nanoclaw_workspace::{Limits, Workspaces};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Text found only outside the project: in file contents and in file and directory names.
const MARKER: &str = "ZQXJ-SECRET";

/// A project `ws/user_1/<id>` next to: a sentinel directory beside the workspace root, another
/// project of the same user, a project of user 2, and a database-like file in the root. The
/// project holds ordinary files, unicode names and hostile symlinks.
struct Fixture {
    tmp: tempfile::TempDir,
    project: PathBuf,
    project_ino: u64,
    ctx: Arc<ToolContext>,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    let sentinel = base.join("sentinel");
    fs::create_dir_all(sentinel.join(format!("{MARKER}-dir"))).unwrap();
    fs::write(sentinel.join(format!("{MARKER}-a.txt")), MARKER).unwrap();
    fs::write(
        sentinel.join(format!("{MARKER}-dir/{MARKER}-b.py")),
        format!("print('{MARKER}')\n"),
    )
    .unwrap();
    let workspaces = Workspaces::new(&base.join("ws"), Limits::default()).unwrap();
    fs::write(base.join(format!("ws/{MARKER}.db")), MARKER).unwrap();
    let (sibling, _) = workspaces.create_project_dir(1).unwrap();
    fs::write(
        base.join("ws")
            .join(&sibling)
            .join(format!("{MARKER}-sibling.txt")),
        MARKER,
    )
    .unwrap();
    let (theirs, _) = workspaces.create_project_dir(2).unwrap();
    fs::write(
        base.join("ws")
            .join(&theirs)
            .join(format!("{MARKER}-user2.txt")),
        MARKER,
    )
    .unwrap();

    let (stored, ws) = workspaces.create_project_dir(1).unwrap();
    let project = base.join("ws").join(&stored);
    fs::create_dir_all(project.join("src/sub")).unwrap();
    fs::write(project.join("src/main.py"), "print('hello')\n").unwrap();
    fs::write(project.join("README.md"), "# readme\n").unwrap();
    fs::write(project.join("\u{e9}.txt"), "nfc\n").unwrap();
    fs::write(project.join("\u{202e}txt.exe"), "rtl\n").unwrap();
    let sibling_name = sibling.rsplit('/').next().unwrap().to_owned();
    let theirs_rel = format!("../../{theirs}");
    let links: Vec<(&str, PathBuf)> = vec![
        ("link_out_dir", sentinel.clone()),
        ("link_out_file", sentinel.join(format!("{MARKER}-a.txt"))),
        ("link_rel_up", PathBuf::from("../../../sentinel")),
        ("link_sibling", PathBuf::from(format!("../{sibling_name}"))),
        ("link_user2", PathBuf::from(theirs_rel)),
        ("link_ws", PathBuf::from("../..")),
        ("link_db", PathBuf::from(format!("../../{MARKER}.db"))),
        ("link_root", PathBuf::from("/")),
        // Dangling links outside: a write through them would create a file there.
        ("dangle", sentinel.join("created-by-attack.txt")),
        (
            "dangle_rel",
            PathBuf::from("../../../sentinel/created-by-attack.txt"),
        ),
        ("dangle_dir", sentinel.join("new-dir/x.txt")),
        // Chains: in-project links leading out in several hops, and a loop.
        ("chain1", PathBuf::from("chain2")),
        ("chain2", PathBuf::from("src/sub/chain3")),
        ("loopa", PathBuf::from("loopb")),
        ("loopb", PathBuf::from("loopa")),
        ("link_inside", PathBuf::from("src")),
        ("link_self", PathBuf::from(".")),
    ];
    for (name, target) in links {
        symlink(target, project.join(name)).unwrap();
    }
    symlink("../../link_out_dir", project.join("src/sub/chain3")).unwrap();
    symlink("../..", project.join("src/sub/up_to_root")).unwrap();
    let project_ino = fs::metadata(&project).unwrap().ino();
    let ctx = Arc::new(ToolContext {
        project_id: Some("p1".into()),
        workspace: Some(ws),
        user_id: 1,
        ..ToolContext::default()
    });
    Fixture {
        tmp,
        project,
        project_ino,
        ctx,
    }
}

/// Every path outside the project with its kind, content (files) or target (links) and mtime.
type Snapshot = BTreeMap<PathBuf, (String, Option<SystemTime>)>;

fn snapshot(f: &Fixture) -> Snapshot {
    fn walk(dir: &Path, skip: &Path, out: &mut Snapshot) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path == skip {
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
    walk(&f.tmp.path().canonicalize().unwrap(), &f.project, &mut out);
    out
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just(String::new()),
        1 => Just("...".to_owned()),
        5 => prop::sample::select(vec![
            "src", "sub", "main.py", "README.md", "new.txt", "link_out_dir", "link_out_file",
            "link_rel_up", "link_sibling", "link_user2", "link_ws", "link_db", "link_root",
            "dangle", "dangle_rel", "dangle_dir", "chain1", "chain2", "chain3", "loopa",
            "link_inside", "link_self", "up_to_root", "sentinel", "ws", "user_1", "user_2",
            "etc", "passwd", "x.txt", "new-dir",
        ])
        .prop_map(str::to_owned),
        2 => prop::sample::select(vec![
            "\u{e9}.txt",              // NFC é, exists inside
            "e\u{301}.txt",            // NFD of the same name
            "\u{202e}txt.exe",         // right-to-left override, exists inside
            "\u{ff0e}\u{ff0e}",        // fullwidth dots
            "\u{2024}\u{2024}",        // one-dot leaders
            "..\u{200b}",              // dots and a zero-width space
            "\u{2215}etc",             // division slash
            "%2e%2e",
            "%2F..%2F",
            "~",
            "$HOME",
            "a\0b",
            "\0",
            "..\\..\\sentinel",
            "a\\b",
            "\\",
            " ",
            ".. ",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z]{1,8}",
        1 => "\\PC{1,6}",
        1 => Just("n".repeat(255)),
        1 => Just("n".repeat(256)),
    ]
}

/// Where a path starts.
#[derive(Debug, Clone, Copy)]
enum Start {
    Relative,
    Dot,
    Slash,
    DoubleSlash,
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
    fn render(&self, f: &Fixture) -> String {
        let mut tail = self.1.join("/");
        if self.2 {
            tail.push('/');
        }
        let base = f.tmp.path().canonicalize().unwrap();
        match self.0 {
            Start::Relative => tail,
            Start::Dot => format!("./{tail}"),
            Start::Slash => format!("/{tail}"),
            Start::DoubleSlash => format!("//{tail}"),
            Start::Project => format!("{}/{tail}", f.project.display()),
            Start::Outer => format!("{}/{tail}", base.display()),
            Start::Sentinel => format!("{}/{tail}", base.join("sentinel").display()),
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
        1 => Just(Start::DoubleSlash),
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
    Append(HostilePath),
    Delete(HostilePath),
    Exists(HostilePath),
    Mkdir(HostilePath),
    List(HostilePath, Option<String>),
}

fn op() -> impl Strategy<Value = Op> {
    let p = hostile_path;
    let pattern = prop::collection::vec(
        prop_oneof![
            component(),
            Just("*".to_owned()),
            Just("**".to_owned()),
            Just("*.txt".to_owned()),
        ],
        1..4,
    )
    .prop_map(|parts| parts.join("/"));
    prop_oneof![
        p().prop_map(Op::Read),
        p().prop_map(Op::Write),
        p().prop_map(Op::Append),
        p().prop_map(Op::Delete),
        p().prop_map(Op::Exists),
        p().prop_map(Op::Mkdir),
        (p(), prop::option::of(pattern)).prop_map(|(a, pat)| Op::List(a, pat)),
    ]
}

/// The tool call the model would send for `op`.
fn call(f: &Fixture, op: &Op, id: usize) -> ToolCall {
    let (name, args) = match op {
        Op::Read(p) => ("file_read", json!({"path": p.render(f)})),
        Op::Write(p) => (
            "file_write",
            json!({"path": p.render(f), "content": "pwned"}),
        ),
        Op::Append(p) => (
            "file_write",
            json!({"path": p.render(f), "content": "pwned", "mode": "append"}),
        ),
        Op::Delete(p) => ("file_delete", json!({"path": p.render(f)})),
        Op::Exists(p) => ("file_exists", json!({"path": p.render(f)})),
        Op::Mkdir(p) => ("file_mkdir", json!({"path": p.render(f)})),
        Op::List(p, pattern) => {
            let mut args = json!({"path": p.render(f)});
            if let Some(pattern) = pattern {
                args["pattern"] = json!(pattern);
            }
            ("file_list", args)
        }
    };
    ToolCall {
        id: format!("call_{id}"),
        name: name.to_owned(),
        arguments: args.to_string(),
    }
}

/// Checks one result: valid JSON, no outside data in it, every listed path inside.
fn check_result(f: &Fixture, call: &ToolCall, content: &str) -> Result<(), TestCaseError> {
    let value: Value = serde_json::from_str(content)
        .map_err(|e| TestCaseError::fail(format!("{call:?}: not JSON ({e}): {content}")))?;
    // Errors echo the path as given; only what the tool found matters.
    let mut found = content.to_owned();
    if let Ok(Value::Object(args)) = serde_json::from_str::<Value>(&call.arguments) {
        for arg in args.values().filter_map(Value::as_str) {
            found = found.replace(arg, "");
        }
    }
    prop_assert!(
        !found.contains(MARKER),
        "{:?} returned outside data: {}",
        call,
        content
    );
    for key in ["files", "directories"] {
        for entry in value[key].as_array().into_iter().flatten() {
            let path = entry["path"].as_str().unwrap_or_default();
            let real = f.project.join(path).canonicalize();
            prop_assert!(
                real.as_ref().is_ok_and(|r| r.starts_with(&f.project)),
                "{:?} listed {} which resolves to {:?}",
                call,
                path,
                real
            );
        }
    }
    Ok(())
}

fn check_untouched(f: &Fixture, before: &Snapshot, what: &str) -> Result<(), TestCaseError> {
    let after = snapshot(f);
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
    let meta = fs::symlink_metadata(&f.project);
    prop_assert!(
        meta.as_ref()
            .is_ok_and(|m| m.is_dir() && m.ino() == f.project_ino),
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
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_file_tools_never_touch_anything_outside_the_project(ops in prop::collection::vec(op(), 1..5)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let f = fixture();
        let before = snapshot(&f);
        let registry = Arc::new(ToolRegistry::builtin());
        let mut executor = ToolExecutor::new(Arc::clone(&registry), 6);
        // One call per round, checked after each ...
        for (i, op) in ops.iter().enumerate() {
            let calls = [call(&f, op, i)];
            let results = runtime.block_on(executor.run_batch(&calls, &f.ctx)).unwrap();
            prop_assert_eq!(results.len(), 1);
            check_result(&f, &calls[0], &results[0].content)?;
            check_untouched(&f, &before, &format!("{op:?}"))?;
        }
        // ... then all of them at once, as one round the executor runs concurrently.
        let calls: Vec<ToolCall> = ops.iter().enumerate().map(|(i, op)| call(&f, op, i)).collect();
        let results = runtime.block_on(executor.run_batch(&calls, &f.ctx)).unwrap();
        prop_assert_eq!(results.len(), calls.len());
        for (call, result) in calls.iter().zip(&results) {
            check_result(&f, call, &result.content)?;
        }
        check_untouched(&f, &before, &format!("the batch {ops:?}"))?;
    }
}

/// The generator reaches the attacks it is meant to: a fixed set of them, checked the same way.
#[test]
fn known_attacks_are_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = fixture();
    let before = snapshot(&f);
    let registry = Arc::new(ToolRegistry::builtin());
    let mut executor = ToolExecutor::new(registry, 6);
    let sentinel = f.tmp.path().canonicalize().unwrap().join("sentinel");
    let attacks = [
        (
            "file_write",
            json!({"path": "dangle", "content": "x"}),
            false,
        ),
        (
            "file_write",
            json!({"path": "dangle_rel", "content": "x"}),
            false,
        ),
        (
            "file_write",
            json!({"path": "dangle_dir", "content": "x"}),
            false,
        ),
        (
            "file_write",
            json!({"path": "link_out_file", "content": "x"}),
            false,
        ),
        (
            "file_write",
            json!({"path": "chain1/new.txt", "content": "x"}),
            true,
        ),
        // `..` is resolved by name first: this is src/sub/x.txt, inside.
        (
            "file_write",
            json!({"path": "src/sub/up_to_root/../x.txt", "content": "x"}),
            false,
        ),
        (
            "file_read",
            json!({"path": "chain1/ZQXJ-SECRET-a.txt"}),
            true,
        ),
        (
            "file_read",
            json!({"path": "link_sibling/ZQXJ-SECRET-sibling.txt"}),
            true,
        ),
        ("file_read", json!({"path": "link_ws/ZQXJ-SECRET.db"}), true),
        (
            "file_read",
            json!({"path": format!("{}/ZQXJ-SECRET-a.txt", sentinel.display())}),
            true,
        ),
        ("file_delete", json!({"path": "."}), true),
        ("file_delete", json!({"path": "src/.."}), true),
        ("file_delete", json!({"path": ""}), true),
        ("file_delete", json!({"path": "link_self/"}), false),
        (
            "file_delete",
            json!({"path": "link_user2/ZQXJ-SECRET-user2.txt"}),
            true,
        ),
        ("file_delete", json!({"path": "src/sub/up_to_root"}), false),
        ("file_mkdir", json!({"path": "link_out_dir/made"}), true),
        ("file_mkdir", json!({"path": "../made"}), true),
        ("file_list", json!({"path": "link_rel_up"}), true),
        ("file_list", json!({"path": "src/sub/up_to_root/.."}), false),
        ("file_list", json!({"pattern": "link_out_dir/*"}), false),
        ("file_list", json!({"pattern": "**/*"}), false),
        (
            "file_exists",
            json!({"path": "link_out_dir/ZQXJ-SECRET-a.txt"}),
            true,
        ),
    ];
    // (tool, arguments, must fail): writing or deleting a link itself may replace it inside the
    // project; going through one that leads out never works.
    for (i, (name, args, must_fail)) in attacks.iter().enumerate() {
        let call = ToolCall {
            id: format!("c{i}"),
            name: (*name).to_owned(),
            arguments: args.to_string(),
        };
        let results = runtime
            .block_on(executor.run_batch(std::slice::from_ref(&call), &f.ctx))
            .unwrap();
        let content = &results[0].content;
        check_result(&f, &call, content).unwrap();
        check_untouched(&f, &before, &format!("{call:?}")).unwrap();
        if *must_fail {
            assert!(!results[0].success, "{call:?} succeeded: {content}");
        }
    }
    assert!(!sentinel.join("created-by-attack.txt").exists());
    assert!(!sentinel.join("new-dir").exists());
}
