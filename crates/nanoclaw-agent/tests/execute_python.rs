//! `execute_python`'s result shapes (tools.md §4.1) over the real sandbox. The sandbox's own
//! bounds are proven in crates/nanoclaw-sandbox/tests; these tests need bwrap too and skip,
//! loudly, without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nanoclaw_agent::tools::execute_python::ExecutePython;
use nanoclaw_agent::{CancellationToken, Tool, ToolContext};
use nanoclaw_core::config::CodeExecutionConfig;
use serde_json::{Map, Value, json};

fn bwrap_installed() -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("bwrap").is_file()))
        .unwrap_or(false)
}

fn ctx() -> ToolContext {
    ToolContext {
        model: "m".into(),
        max_tokens: 100,
        temperature: 0.0,
        project_id: None,
        workspace: None,
        user_id: 1,
        cancel: CancellationToken::new(),
        hooks: Default::default(),
    }
}

async fn call(tool: &ExecutePython, args: Value) -> Value {
    let args: Map<String, Value> = args.as_object().unwrap().clone();
    tool.run(args, &ctx()).await.unwrap()
}

#[tokio::test]
async fn argument_errors_need_no_sandbox() {
    let tool = ExecutePython::new(&CodeExecutionConfig::default());
    assert_eq!(
        call(&tool, json!({"code": "print(1)", "strictness": "yolo"})).await,
        json!({"success": false, "error": "Invalid strictness level: yolo. Must be one of: lenient, standard, strict"})
    );
    let args: Map<String, Value> = json!({"strictness": "strict"}).as_object().unwrap().clone();
    assert_eq!(
        tool.run(args, &ctx()).await.unwrap_err(),
        "Missing required argument: 'code'"
    );
}

#[tokio::test]
async fn result_shapes() {
    if !bwrap_installed() {
        eprintln!("SKIPPED: bubblewrap (bwrap) is not installed");
        return;
    }
    let tool = ExecutePython::new(&CodeExecutionConfig::default());
    assert_eq!(
        call(
            &tool,
            json!({"code": "print(2 ** 10)", "strictness": "strict"})
        )
        .await,
        json!({"success": true, "output": "1024\n", "strictness": "strict", "timeout": 5})
    );
    // Non-zero exit: stderr is the error, stdout is dropped.
    let v = call(&tool, json!({"code": "print('partial')\n1 / 0"})).await;
    assert_eq!(v["success"], false, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("ZeroDivisionError"), "{error}");
    assert!(error.contains("<code>"), "{error}");
    assert!(!v.to_string().contains("partial"), "{v}");
    // The level's deadline.
    assert_eq!(
        call(
            &tool,
            json!({"code": "while True:\n    pass", "strictness": "strict"})
        )
        .await,
        json!({"success": false, "error": "Execution timeout (5s limit in 'strict' mode)"})
    );
    // The operator may allow lenient.
    let tool = ExecutePython::new(&CodeExecutionConfig {
        max_strictness: "lenient".into(),
        ..CodeExecutionConfig::default()
    });
    assert_eq!(
        call(
            &tool,
            json!({"code": "import os\nprint(os.getuid())", "strictness": "lenient"})
        )
        .await,
        json!({"success": true, "output": "65534\n", "strictness": "lenient", "timeout": 30})
    );
}

#[tokio::test]
async fn a_missing_interpreter_is_reported() {
    if !bwrap_installed() {
        eprintln!("SKIPPED: bubblewrap (bwrap) is not installed");
        return;
    }
    let tool = ExecutePython::new(&CodeExecutionConfig {
        python: Some("/nonexistent/python3".into()),
        ..CodeExecutionConfig::default()
    });
    assert_eq!(
        call(&tool, json!({"code": "print(1)"})).await,
        json!({"success": false, "error": "Python interpreter not available"})
    );
}
