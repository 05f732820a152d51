//! `web_search` (tools.md §4.2) through the backend of the `web_search:` section (SearXNG,
//! Brave or Tavily). Without a configured backend the tool does not exist.

use std::time::Duration;

use nanoclaw_core::Config;
use nanoclaw_core::config::SearchBackend;
use nanoclaw_fetch::{Backend, SearchSettings, Searcher};
use serde_json::{Map, Value, json};

use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// Fewest and most results one call returns.
pub const RESULTS_RANGE: (u64, u64) = (1, 10);

/// The `web_search` tool.
#[derive(Debug, Clone)]
pub struct WebSearch {
    searcher: Searcher,
    default_results: u64,
}

impl WebSearch {
    /// The tool for the configured backend; `Ok(None)` when none is configured.
    pub fn from_config(config: &Config) -> Result<Option<Self>, String> {
        let c = &config.web_search;
        let Some(backend) = c.backend else {
            return Ok(None);
        };
        let backend = match backend {
            SearchBackend::Searxng => Backend::Searxng,
            SearchBackend::Brave => Backend::Brave,
            SearchBackend::Tavily => Backend::Tavily,
        };
        let url = c
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .or(backend.default_url())
            .ok_or("web_search.url is not set")?;
        let url = url
            .parse()
            .map_err(|_| "web_search.url is not a valid URL".to_owned())?;
        let searcher = Searcher::new(SearchSettings {
            backend,
            url,
            api_key: c.api_key.as_ref().map(|k| k.expose().to_owned()),
            region: c.region.clone().filter(|r| !r.trim().is_empty()),
            timeout: Duration::from_secs(c.timeout),
            user_agent: config.fetch.user_agent.clone(),
        })?;
        Ok(Some(Self {
            searcher,
            default_results: u64::from(c.max_results),
        }))
    }
}

impl Tool for WebSearch {
    fn name(&self) -> &str {
        "web_search"
    }

    fn description(&self) -> &str {
        "Search the web. Returns a list of results, each with title, url and snippet."
    }

    fn category(&self) -> &str {
        "crawler"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "The search query"},
                "max_results": {
                    "type": "integer",
                    "description": "How many results (1-10)",
                    "default": 5
                }
            },
            "required": ["query"]
        })
    }

    fn has_side_effects(&self) -> bool {
        // Results change over time; never answer from the cache.
        true
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let query = match args.get("query") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
                Some(Value::String(_)) => return Err("Argument 'query' must not be empty".into()),
                Some(_) => return Err("Argument 'query' must be a string".into()),
                None => return Err("Missing required argument: 'query'".into()),
            };
            let wanted = match args.get("max_results") {
                None | Some(Value::Null) => self.default_results,
                // nanoClaw crashed on `"5"` (W-18); a numeric string is what the model meant.
                Some(Value::String(s)) => s
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| "Argument 'max_results' must be an integer".to_owned())?
                    .max(0)
                    .unsigned_abs(),
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .ok_or("Argument 'max_results' must be an integer")?
                    .max(0)
                    .unsigned_abs(),
            };
            let n = wanted.clamp(RESULTS_RANGE.0, RESULTS_RANGE.1);
            let n = usize::try_from(n).unwrap_or(10);
            let hits = self.searcher.search(&query, n, &ctx.cancel).await?;
            Ok(json!({"results": hits}))
        })
    }
}
