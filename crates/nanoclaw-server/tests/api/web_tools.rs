//! The web tools through the server: listed by `GET /api/tools` with the spec's schemas
//! (`web_search` only with a backend), and a chat where the scripted model fetches an
//! allow-listed local page and a metadata address, both results shown as steps.

use std::net::SocketAddr;

use nanoclaw_mock_llm::{MockLlm, Reply, Script};
use serde_json::{Value, json};

use crate::chat::{chat_app, conversation, send};
use crate::helpers::*;

/// A page server on 127.0.0.1 (refused by the fetch policy unless allow-listed).
async fn page_server() -> SocketAddr {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/page",
        get(|| async {
            axum::response::Html(
                "<html><head><title>Local</title><script>secret()</script></head>\
                 <body><nav>menu</nav><p>Hello from the local page.</p></body></html>",
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn tool_names(body: &Value) -> Vec<String> {
    body["data"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tools_list_has_web_search_only_with_a_backend() {
    let app = spawn_app(MULTI).await;
    let (s, b) = json_of(app.get("/api/tools", None).await).await;
    assert_eq!(s, 200);
    let names = tool_names(&b);
    assert!(names.contains(&"fetch_page".to_owned()), "{names:?}");
    assert!(names.contains(&"crawl_batch".to_owned()), "{names:?}");
    assert!(!names.contains(&"web_search".to_owned()), "{names:?}");

    let app = spawn_app(&format!(
        "{MULTI}web_search:\n  backend: brave\n  api_key: brave-secret-key\n"
    ))
    .await;
    let resp = app.get("/api/tools", None).await;
    let text = resp.text().await.unwrap();
    assert!(!text.contains("brave-secret-key"));
    let b: Value = serde_json::from_str(&text).unwrap();
    let names = tool_names(&b);
    let at = names.iter().position(|n| n == "web_search").unwrap();
    assert_eq!(names[at + 1], "fetch_page");
    assert_eq!(names[at + 2], "crawl_batch");
    let search = &b["data"]["tools"][at]["function"]["parameters"];
    assert_eq!(search["required"], json!(["query"]));
    assert_eq!(search["properties"]["max_results"]["type"], "integer");
    assert_eq!(search["properties"]["max_results"]["default"], 5);
    let fetch = &b["data"]["tools"][at + 1]["function"]["parameters"];
    assert_eq!(
        fetch["properties"]["extract_type"]["enum"],
        json!(["text", "links", "structured"])
    );
    assert_eq!(fetch["required"], json!(["url"]));
}

#[tokio::test]
async fn the_model_fetches_an_allow_listed_page_but_not_the_metadata_address() {
    let page = page_server().await;
    let mock = MockLlm::start(
        Script::new()
            .reply(Reply::tool_calls([
                (
                    "f1".to_owned(),
                    "fetch_page".to_owned(),
                    format!(r#"{{"url": "http://{page}/page"}}"#),
                ),
                (
                    "f2".to_owned(),
                    "fetch_page".to_owned(),
                    r#"{"url": "http://169.254.169.254/latest/meta-data/"}"#.to_owned(),
                ),
            ]))
            .reply(Reply::text("The page says hello.")),
    )
    .await;
    // Exactly the page server's socket is allowed.
    let app = chat_app(&mock, &format!("fetch:\n  allow_private: ['{page}']\n")).await;
    let token = app.register("wes", "wes-password").await;
    let id = conversation(&app, &token, json!({})).await;
    let (s, events, _) = send(&app, &token, &id, "Read the local page").await;
    assert_eq!(s, 200);
    assert_eq!(events.last().unwrap().0, "done", "{events:?}");
    let results: Vec<(String, Value)> = events
        .iter()
        .filter(|(n, d)| n == "process_step" && d["type"] == "tool_result")
        .map(|(_, d)| {
            (
                d["id_ref"].as_str().unwrap().to_owned(),
                serde_json::from_str(d["content"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    let of = |id: &str| {
        results
            .iter()
            .find(|(r, _)| r == id)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no tool_result for {id}: {results:?}"))
    };
    let ok = of("f1");
    assert_eq!(ok["success"], true, "{ok}");
    assert_eq!(ok["data"]["text"], "Hello from the local page.");
    let refused = of("f2");
    assert_eq!(refused["success"], false, "{refused}");
    assert!(
        refused["data"]["error"]
            .as_str()
            .unwrap()
            .contains("169.254.169.254 is a cloud metadata address"),
        "{refused}"
    );
    // The model was sent both results in round 2.
    let round2 = mock.bodies()[1]["messages"].as_array().unwrap().clone();
    let tool_msgs: Vec<&Value> = round2.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(tool_msgs.len(), 2);
    assert!(
        tool_msgs[0]["content"]
            .as_str()
            .unwrap()
            .contains("Hello from the local page.")
    );
}
