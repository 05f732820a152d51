//! The web tools in the registry: offered in tools.md §1 order with exactly the spec's
//! schemas; `web_search` only with a configured backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nanoclaw_agent::tools::builtin;
use nanoclaw_core::Config;
use nanoclaw_core::config::SearchBackend;
use serde_json::{Value, json};

/// The schema without the free-worded `description`s (tools.md §1: names, types, enums,
/// defaults and `required` are the contract).
fn contract(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            map.remove("description");
            for (_, child) in map.iter_mut() {
                *child = contract(child.take());
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = contract(item.take());
            }
        }
        _ => {}
    }
    v
}

fn names(config: &Config) -> Vec<String> {
    builtin(config)
        .iter()
        .map(|t| t.name().to_owned())
        .collect()
}

#[test]
fn web_search_is_offered_only_with_a_backend() {
    let plain = names(&Config::default());
    assert!(!plain.iter().any(|n| n == "web_search"), "{plain:?}");
    let fetch_at = plain.iter().position(|n| n == "fetch_page").unwrap();
    assert_eq!(plain[fetch_at + 1], "crawl_batch");
    assert_eq!(plain[fetch_at + 2], "calculator");

    let mut config = Config::default();
    config.web_search.backend = Some(SearchBackend::Searxng);
    config.web_search.url = Some("http://127.0.0.1:9/".into());
    let with = names(&config);
    let at = with.iter().position(|n| n == "web_search").unwrap();
    assert_eq!(with[at + 1], "fetch_page", "{with:?}");
}

#[test]
fn web_tool_schemas_are_the_specs() {
    let mut config = Config::default();
    config.web_search.backend = Some(SearchBackend::Searxng);
    config.web_search.url = Some("http://127.0.0.1:9/".into());
    let tools = builtin(&config);
    let schema = |name: &str| {
        let tool = tools.iter().find(|t| t.name() == name).unwrap();
        assert_eq!(tool.category(), "crawler");
        assert!(
            tool.has_side_effects(),
            "{name} must never be answered from the cache"
        );
        contract(tool.parameters())
    };
    assert_eq!(
        schema("web_search"),
        json!({"type": "object",
               "properties": {"query": {"type": "string"},
                              "max_results": {"type": "integer", "default": 5}},
               "required": ["query"]})
    );
    assert_eq!(
        schema("fetch_page"),
        json!({"type": "object",
               "properties": {"url": {"type": "string"},
                              "extract_type": {"type": "string", "enum": ["text", "links", "structured"], "default": "text"}},
               "required": ["url"]})
    );
    assert_eq!(
        schema("crawl_batch"),
        json!({"type": "object",
               "properties": {"urls": {"type": "array", "items": {"type": "string"}},
                              "extract_type": {"type": "string", "enum": ["text", "links", "structured"], "default": "text"}},
               "required": ["urls"]})
    );
}
