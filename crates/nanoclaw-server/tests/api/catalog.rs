//! `GET /api/models` and `GET /api/tools`: public, no secrets.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn models_and_tools_are_public_and_hide_urls_and_keys() {
    let config = format!(
        "{MULTI}models:\n  - {{id: deepseek-chat, name: DeepSeek V3, api_url: 'https://api.example/v1', api_key: sk-hidden-key}}\n  - {{id: glm-5, name: GLM-5, api_url: 'https://glm.example', api_key: other-hidden}}\n"
    );
    let app = spawn_app(&config).await;
    let resp = app.get("/api/models", None).await;
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains("hidden") && !text.contains("https://"),
        "{text}"
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body,
        json!({"code": 0, "data": [{"id": "deepseek-chat", "name": "DeepSeek V3"}, {"id": "glm-5", "name": "GLM-5"}]})
    );
    let (s, b) = json_of(app.get("/api/tools", None).await).await;
    assert_eq!(s, 200);
    // Every registered tool is listed, file tools included (they are offered to a model only
    // when a project is bound), in the order of tools.md §1.
    let names: Vec<&str> = b["data"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(b["data"]["total"], json!(names.len()));
    let order: Vec<&str> = nanoclaw_core::config::BUILTIN_TOOLS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| names.contains(n))
        .collect();
    assert_eq!(names, order);
    for name in [
        "calculator",
        "text_process",
        "json_process",
        "file_read",
        "file_write",
        "file_delete",
        "file_list",
        "file_exists",
        "file_mkdir",
        "get_weather",
        "multi_agent",
    ] {
        assert!(names.contains(&name), "{name} missing: {names:?}");
    }
    let at = names.iter().position(|n| *n == "calculator").unwrap();
    let calculator = &b["data"]["tools"][at];
    assert_eq!(calculator["type"], "function");
    assert_eq!(calculator["function"]["name"], "calculator");
    assert_eq!(
        calculator["function"]["parameters"]["required"],
        json!(["expression"])
    );
}
