//! `execute_python` through the server: listed by `GET /api/tools` with the spec's schema, and
//! chats where the scripted model runs code and the result shows as a `tool_result` step.

use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use serde_json::{Value, json};

use crate::chat::{chat_app, conversation, send};
use crate::helpers::*;

fn bwrap_installed() -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("bwrap").is_file()))
        .unwrap_or(false)
}

/// The tool results of a finished stream, parsed from the `tool_result` steps.
fn tool_results(events: &[(String, Value)]) -> Vec<Value> {
    events
        .iter()
        .filter(|(n, d)| n == "process_step" && d["type"] == "tool_result")
        .map(|(_, d)| serde_json::from_str(d["content"].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn execute_python_is_listed_first_with_the_spec_schema() {
    let app = spawn_app(MULTI).await;
    let (s, b) = json_of(app.get("/api/tools", None).await).await;
    assert_eq!(s, 200, "{b}");
    let tool = &b["data"]["tools"][0];
    assert_eq!(tool["type"], "function");
    assert_eq!(tool["function"]["name"], "execute_python");
    let params = &tool["function"]["parameters"];
    assert_eq!(params["type"], "object");
    assert_eq!(params["required"], json!(["code"]));
    let props = params["properties"].as_object().unwrap();
    assert_eq!(props.len(), 2, "{params}");
    assert_eq!(props["code"]["type"], "string");
    assert_eq!(props["strictness"]["type"], "string");
    assert_eq!(
        props["strictness"]["enum"],
        json!(["lenient", "standard", "strict"])
    );
    // Switched off by the operator, it is gone.
    let app = spawn_app(&format!("{MULTI}tools:\n  execute_python: false\n")).await;
    let (_, b) = json_of(app.get("/api/tools", None).await).await;
    assert!(!b.to_string().contains("execute_python"), "{b}");
}

#[tokio::test]
async fn the_model_runs_python_and_may_not_loosen_the_operators_level() {
    if !bwrap_installed() {
        eprintln!("SKIPPED: bubblewrap (bwrap) is not installed");
        return;
    }
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::tool_calls([(
                "p1",
                "execute_python",
                r#"{"code": "import json\nprint(json.dumps({'sum': sum(range(10))}))"}"#,
            )]))
            .reply(Reply::tool_calls([(
                "p2",
                "execute_python",
                r#"{"code": "import os\nos.system('id')", "strictness": "lenient"}"#,
            )]))
            .reply(Reply::text("The sum is 45.")),
    )
    .await;
    let app = chat_app(&mock, "").await;
    let token = app.register("pyla", "pyla-password").await;
    let id = conversation(&app, &token, json!({})).await;
    let (s, events, body) = send(&app, &token, &id, "add up 0..9 in Python").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(events.last().unwrap().0, "done", "{events:?}");
    let results = tool_results(&events);
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["success"], true, "{results:?}");
    assert_eq!(
        results[0]["data"],
        json!({"success": true, "output": "{\"sum\": 45}\n", "strictness": "standard", "timeout": 10})
    );
    // The default maximum is `standard`: asking for `lenient` runs at `standard`, whose
    // allowlist has no `os`.
    assert_eq!(results[1]["success"], false, "{results:?}");
    assert_eq!(
        results[1]["data"]["error"],
        "Blocked imports: os. These modules are not allowed in 'standard' mode."
    );
    // The server is still up and answers.
    let (s, _) = json_of(app.get("/api/tools", None).await).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn the_projects_folder_is_read_only_in_the_sandbox() {
    if !bwrap_installed() {
        eprintln!("SKIPPED: bubblewrap (bwrap) is not installed");
        return;
    }
    let code = "print(open('/project/notes.txt').read())\n\
                try:\n    open('/project/evil.txt', 'w').write('x')\n\
                except OSError as e:\n    print('refused', e.errno)\n";
    let call = json!({"code": code, "strictness": "lenient"}).to_string();
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::tool_calls([(
                "w1",
                "file_write",
                r#"{"path": "notes.txt", "content": "from the project"}"#,
            )]))
            .reply(Reply::tool_calls([("p1", "execute_python", call.as_str())]))
            .reply(Reply::text("Read it.")),
    )
    .await;
    let app = chat_app(&mock, "code_execution:\n  max_strictness: lenient\n").await;
    let token = app.register("pyro", "pyro-password").await;
    let (s, project) = app
        .call(
            "POST",
            "/api/projects",
            Some(&token),
            Some(json!({"name": "Py"})),
        )
        .await;
    assert_eq!(s, 200, "{project}");
    let project_id = project["data"]["id"].as_str().unwrap().to_owned();
    let id = conversation(&app, &token, json!({"project_id": project_id})).await;
    let (_, events, _) = send(&app, &token, &id, "read the notes with Python").await;
    let results = tool_results(&events);
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[1]["success"], true, "{results:?}");
    assert_eq!(
        results[1]["data"]["output"],
        "from the project\nrefused 30\n"
    );
    assert_eq!(results[1]["data"]["strictness"], "lenient");
    let (s, _) = app
        .call(
            "GET",
            &format!("/api/projects/{project_id}/files/evil.txt"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, 404);
}
