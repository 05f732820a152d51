//! The six file tools: result shapes, hostile arguments, and the loop offering them only with
//! a workspace (against the scripted mock model).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::symlink;
use std::sync::Arc;
use std::time::Duration;

use nanoclaw_agent::{
    Agent, AgentSettings, AnswerRequest, CancellationToken, End, StepKind, ToolContext,
    ToolRegistry,
};
use nanoclaw_llm::{Client, ClientSettings, Endpoint, Message};
use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use nanoclaw_workspace::{Limits, Workspace, Workspaces};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

struct Project {
    tmp: tempfile::TempDir,
    ws: Workspace,
}

/// A project with `src/main.py`, and beside the workspace root a `secret.txt` that a
/// symlink inside the project points to.
fn project() -> Project {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "TOP-SECRET").unwrap();
    let workspaces = Workspaces::new(&tmp.path().join("ws"), Limits::default()).unwrap();
    let (_, ws) = workspaces.create_project_dir(1).unwrap();
    ws.write("src/main.py", b"print('hi')\r\nx = 1\r\n")
        .unwrap();
    let abs = tmp.path().join("ws").join(ws.stored_path());
    symlink(tmp.path().join("secret.txt"), abs.join("leak")).unwrap();
    symlink(tmp.path(), abs.join("out")).unwrap();
    Project { tmp, ws }
}

fn ctx(ws: Option<Workspace>) -> ToolContext {
    ToolContext {
        model: "m".into(),
        max_tokens: 100,
        temperature: 0.0,
        project_id: Some("p1".into()),
        workspace: ws,
        user_id: 1,
        cancel: CancellationToken::new(),
        hooks: Default::default(),
    }
}

async fn call(name: &str, args: Value, ctx: &ToolContext) -> Value {
    let registry = ToolRegistry::builtin();
    let tool = registry.get(name).unwrap();
    let args: Map<String, Value> = args.as_object().unwrap().clone();
    tool.run(args, ctx).await.unwrap()
}

fn failed(v: &Value) -> &str {
    assert_eq!(v["success"], json!(false), "{v}");
    v["error"].as_str().unwrap()
}

#[tokio::test]
async fn success_shapes() {
    let p = project();
    let c = ctx(Some(p.ws.clone()));
    assert_eq!(
        call("file_read", json!({"path": "src/main.py"}), &c).await,
        json!({"success": true, "content": "print('hi')\nx = 1\n", "size": 18, "path": "src/main.py"})
    );
    assert_eq!(
        call(
            "file_write",
            json!({"path": "a/b.txt", "content": "héllo"}),
            &c
        )
        .await,
        json!({"success": true, "size": 5, "path": "a/b.txt", "mode": "write"})
    );
    assert_eq!(
        call(
            "file_write",
            json!({"path": "a/b.txt", "content": "!", "mode": "append"}),
            &c
        )
        .await,
        json!({"success": true, "size": 1, "path": "a/b.txt", "mode": "append"})
    );
    assert_eq!(
        call("file_read", json!({"path": "./a/b.txt"}), &c).await["content"],
        json!("héllo!")
    );
    // Another encoding, both ways.
    call(
        "file_write",
        json!({"path": "gbk.txt", "content": "中文", "encoding": "gbk"}),
        &c,
    )
    .await;
    assert_eq!(
        p.ws.read_bytes("gbk.txt", 100).unwrap(),
        [0xd6, 0xd0, 0xce, 0xc4]
    );
    assert_eq!(
        call(
            "file_read",
            json!({"path": "gbk.txt", "encoding": "GBK"}),
            &c
        )
        .await["content"],
        json!("中文")
    );
    assert_eq!(
        call("file_exists", json!({"path": "a/b.txt"}), &c).await,
        json!({"exists": true, "type": "file", "path": "a/b.txt", "size": 7})
    );
    assert_eq!(
        call("file_exists", json!({"path": "a"}), &c).await,
        json!({"exists": true, "type": "directory", "path": "a"})
    );
    assert_eq!(
        call("file_exists", json!({"path": "nope"}), &c).await,
        json!({"exists": false, "path": "nope"})
    );
    assert_eq!(
        call("file_mkdir", json!({"path": "d/e"}), &c).await,
        json!({"success": true, "path": "d/e", "created": true})
    );
    assert_eq!(
        call("file_mkdir", json!({"path": "d/e"}), &c).await,
        json!({"success": true, "path": "d/e", "created": false})
    );
    assert_eq!(
        call("file_list", json!({}), &c).await,
        json!({"success": true, "path": ".",
               "files": [{"name": "gbk.txt", "size": 4, "path": "gbk.txt"}],
               "directories": [{"name": "a", "path": "a"}, {"name": "d", "path": "d"}, {"name": "src", "path": "src"}],
               "total_files": 1, "total_dirs": 3})
    );
    assert_eq!(
        call("file_list", json!({"path": ".", "pattern": "**/*.py"}), &c).await["files"],
        json!([{"name": "main.py", "size": 20, "path": "src/main.py"}])
    );
    assert_eq!(
        call("file_delete", json!({"path": "a/b.txt"}), &c).await,
        json!({"success": true, "path": "a/b.txt"})
    );
}

#[tokio::test]
async fn failure_shapes() {
    let p = project();
    let c = ctx(Some(p.ws.clone()));
    let none = ctx(None);
    for tool in [
        "file_read",
        "file_write",
        "file_delete",
        "file_list",
        "file_exists",
        "file_mkdir",
    ] {
        let out = call(tool, json!({"path": "x", "content": "y"}), &none).await;
        assert_eq!(failed(&out), "project_id is required for file operations");
    }
    assert_eq!(
        failed(&call("file_read", json!({"path": "nope"}), &c).await),
        "File not found: nope"
    );
    assert_eq!(
        failed(&call("file_read", json!({"path": "src"}), &c).await),
        "Path is not a file: src"
    );
    assert_eq!(
        failed(&call("file_read", json!({}), &c).await),
        "Missing required argument: 'path'"
    );
    assert_eq!(
        failed(&call("file_read", json!({"path": 3}), &c).await),
        "Argument 'path' must be a string"
    );
    assert_eq!(
        failed(
            &call(
                "file_read",
                json!({"path": "src/main.py", "encoding": "klingon"}),
                &c
            )
            .await
        ),
        "unknown encoding: klingon"
    );
    p.ws.write("bin", &[0xff, 0xfe, 0]).unwrap();
    assert!(
        failed(&call("file_read", json!({"path": "bin"}), &c).await)
            .starts_with("'utf-8' codec can't decode byte 0xff in position 0")
    );
    assert_eq!(
        failed(&call("file_write", json!({"path": "x"}), &c).await),
        "Missing required argument: 'content'"
    );
    assert_eq!(
        failed(&call("file_write", json!({"path": "src", "content": ""}), &c).await),
        "Is a directory: src"
    );
    assert_eq!(
        failed(&call("file_write", json!({"path": ".", "content": ""}), &c).await),
        "Path '.' is the project root itself"
    );
    assert_eq!(
        failed(&call("file_delete", json!({"path": "src"}), &c).await),
        "Path is not a file: src"
    );
    assert_eq!(
        failed(&call("file_delete", json!({"path": "nope"}), &c).await),
        "File not found: nope"
    );
    assert_eq!(
        failed(&call("file_list", json!({"path": "nope"}), &c).await),
        "Directory not found: nope"
    );
    assert_eq!(
        failed(&call("file_list", json!({"path": "src/main.py"}), &c).await),
        "Path is not a directory: src/main.py"
    );
    assert_eq!(
        failed(&call("file_mkdir", json!({"path": "src/main.py"}), &c).await),
        "File exists: src/main.py"
    );
}

#[tokio::test]
async fn hostile_arguments_are_refused() {
    let p = project();
    let c = ctx(Some(p.ws.clone()));
    let secret = p.tmp.path().join("secret.txt");
    let abs_secret = secret.display().to_string();
    for path in [
        "../../../secret.txt",
        "/etc/passwd",
        abs_secret.as_str(),
        "leak",
        "out/secret.txt",
        "out",
    ] {
        for (tool, extra) in [
            ("file_read", json!({})),
            ("file_write", json!({"content": "pwned"})),
            ("file_write", json!({"content": "pwned", "mode": "append"})),
            ("file_delete", json!({})),
            ("file_exists", json!({})),
            ("file_mkdir", json!({})),
            ("file_list", json!({})),
        ] {
            let mut args = extra.clone();
            args["path"] = json!(path);
            let out = call(tool, args, &c).await;
            let error = failed(&out);
            assert!(
                error == format!("Path '{path}' is outside project directory")
                    // Deleting or overwriting the link itself stays inside the project.
                    || (path == "leak" || path == "out") && matches!(tool, "file_delete" | "file_write" | "file_mkdir"),
                "{tool} {path}: {error}"
            );
            assert!(
                !out.to_string().contains("TOP-SECRET"),
                "{tool} {path}: {out}"
            );
        }
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "TOP-SECRET");
    }
    let out = call("file_list", json!({"pattern": "../*"}), &c).await;
    assert_eq!(failed(&out), "Pattern '../*' is outside project directory");
    let out = call("file_list", json!({"path": "out", "pattern": "*"}), &c).await;
    assert_eq!(failed(&out), "Path 'out' is outside project directory");
    // A `project_id` the model writes is not declared, so the executor strips it; the tools
    // never read one anyway: the workspace comes from the context only.
    let out = call(
        "file_read",
        json!({"path": "src/main.py", "project_id": "other"}),
        &c,
    )
    .await;
    assert_eq!(out["success"], json!(true));
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "TOP-SECRET");
}

fn agent() -> Agent {
    let client = Client::new(ClientSettings {
        max_retries: 0,
        ..ClientSettings::default()
    })
    .unwrap();
    let settings = AgentSettings {
        max_iterations: 6,
        tool_max_workers: 4,
        coalesce: Duration::ZERO,
    };
    Agent::new(client, Arc::new(ToolRegistry::builtin()), settings)
}

fn request(mock: &MockLlm, workspace: Option<Workspace>) -> AnswerRequest {
    AnswerRequest {
        endpoint: Endpoint {
            model: "mock-model".into(),
            api_url: mock.url(),
            api_key: "sk-test".into(),
            include_usage: true,
        },
        model: "mock".into(),
        history: vec![Message::system("SYS"), Message::user("work on files")],
        temperature: 0.7,
        max_tokens: 1000,
        thinking: false,
        tools_enabled: true,
        project_id: workspace.as_ref().map(|_| "p1".to_owned()),
        workspace,
        user_id: 1,
    }
}

async fn answer(agent: &Agent, request: AnswerRequest) -> nanoclaw_agent::AnswerOutcome {
    let (tx, mut rx) = mpsc::channel(64);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        agent.run_answer(request, tx, CancellationToken::new()),
    )
    .await
    .expect("the answer finished");
    drain.await.unwrap();
    outcome
}

fn offered(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn file_tools_are_offered_only_with_a_workspace() {
    let p = project();
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::text("no project"))
            .reply(Reply::text("with project")),
    )
    .await;
    let agent = agent();
    answer(&agent, request(&mock, None)).await;
    answer(&agent, request(&mock, Some(p.ws.clone()))).await;
    let bodies = mock.bodies();
    const FILE_TOOLS: [&str; 6] = [
        "file_read",
        "file_write",
        "file_delete",
        "file_list",
        "file_exists",
        "file_mkdir",
    ];
    // Without a project: every tool but the file tools.
    let without = offered(&bodies[0]);
    assert!(without.contains(&"calculator".to_owned()), "{without:?}");
    assert!(
        !without.iter().any(|n| n.starts_with("file_")),
        "{without:?}"
    );
    // With one: the file tools too, in registration order.
    let with = offered(&bodies[1]);
    let files: Vec<&str> = with
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("file_"))
        .collect();
    assert_eq!(files, FILE_TOOLS);
    assert_eq!(with.len(), without.len() + 6);
    // The catalog lists them regardless.
    assert_eq!(agent.registry().catalog_json()["total"], json!(with.len()));
}

#[tokio::test]
async fn a_read_after_a_write_in_the_same_answer_sees_the_new_content() {
    let p = project();
    let write = |id: &str, text: &str| {
        Reply::tool_calls([(
            id.to_owned(),
            "file_write".to_owned(),
            json!({"path": "notes.txt", "content": text, "project_id": "someone-else"}).to_string(),
        )])
    };
    let read = |id: &str| {
        Reply::tool_calls([(
            id.to_owned(),
            "file_read".to_owned(),
            r#"{"path": "notes.txt"}"#.to_owned(),
        )])
    };
    let mock = MockLlm::start(
        Script::new()
            .reply(write("w1", "first"))
            .reply(read("r1"))
            .reply(write("w2", "second"))
            .reply(read("r2"))
            .reply(Reply::tool_calls([(
                "bad".to_owned(),
                "file_read".to_owned(),
                r#"{"path": "../../../secret.txt"}"#.to_owned(),
            )]))
            .reply(Reply::text("done")),
    )
    .await;
    let outcome = answer(&agent(), request(&mock, Some(p.ws.clone()))).await;
    assert_eq!(outcome.end, End::Completed);
    let results: Vec<Value> = outcome
        .steps
        .iter()
        .filter_map(|s| match &*s.kind {
            StepKind::ToolResult { content, .. } => Some(serde_json::from_str(content).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 5);
    assert_eq!(results[1]["data"]["content"], json!("first"));
    assert_eq!(results[3]["data"]["content"], json!("second"));
    assert!(
        results[..4]
            .iter()
            .all(|r| r["success"] == json!(true) && r.get("cached").is_none())
    );
    // A failed tool is reported as failed at the top level.
    assert_eq!(results[4]["success"], json!(false));
    assert_eq!(
        results[4]["error"],
        json!("Path '../../../secret.txt' is outside project directory")
    );
    assert_eq!(outcome.tool_calls[4]["success"], json!(false));
    assert!(
        matches!(p.ws.read("notes.txt").unwrap(), nanoclaw_workspace::FileData::Text { content, .. } if content == "second")
    );
}
