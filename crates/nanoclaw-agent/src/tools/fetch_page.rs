//! `fetch_page` (tools.md §4.3): one web page as text, links or a structured summary.
//!
//! The fetching (address policy on every hop, at most `fetch.max_redirects` redirects, byte and
//! character caps, one deadline) is nanoclaw-fetch's; this file only reads the arguments.

use std::time::Duration;

use nanoclaw_core::Config;
use nanoclaw_fetch::{AllowRule, Extract, FetchSettings, Fetcher, Policy};
use serde_json::{Map, Value, json};

use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// The fetcher the web tools share, built from the `fetch:` section.
pub fn fetcher(config: &Config) -> Fetcher {
    let f = &config.fetch;
    Fetcher::new(FetchSettings {
        policy: Policy {
            allow: f
                .allow_private
                .iter()
                .map(|r| AllowRule {
                    net: r.net,
                    port: r.port,
                })
                .collect(),
        },
        max_bytes: usize::try_from(f.max_bytes).unwrap_or(usize::MAX),
        max_chars: usize::try_from(f.max_chars).unwrap_or(usize::MAX),
        timeout: Duration::from_secs(f.timeout),
        connect_timeout: Duration::from_secs(f.connect_timeout),
        max_redirects: f.max_redirects,
        user_agent: f.user_agent.clone(),
    })
}

/// Reads `extract_type` (absent: `text`; unknown strings: `structured`, as nanoClaw did).
pub(crate) fn extract_arg(args: &Map<String, Value>) -> Result<Extract, String> {
    match args.get("extract_type") {
        None | Some(Value::Null) => Ok(Extract::Text),
        Some(Value::String(s)) => Ok(Extract::from_arg(Some(s))),
        Some(_) => Err("Argument 'extract_type' must be a string".into()),
    }
}

/// The JSON schema's `extract_type` property.
pub(crate) fn extract_schema(with_description: bool) -> Value {
    let mut schema = json!({
        "type": "string",
        "enum": ["text", "links", "structured"],
        "default": "text"
    });
    if with_description && let Value::Object(map) = &mut schema {
        map.insert(
            "description".into(),
            Value::String(
                "text: the readable text; links: the page's links; structured: title, \
                 description, the start of the text and the first links"
                    .into(),
            ),
        );
    }
    schema
}

/// The `fetch_page` tool.
#[derive(Debug, Clone)]
pub struct FetchPage {
    fetcher: Fetcher,
}

impl FetchPage {
    /// The tool over a shared fetcher.
    pub fn new(fetcher: Fetcher) -> Self {
        Self { fetcher }
    }
}

impl Tool for FetchPage {
    fn name(&self) -> &str {
        "fetch_page"
    }

    fn description(&self) -> &str {
        "Fetch a web page (http/https) and return its readable text, its links, or a structured \
         summary (title, description, text, links). Private and local network addresses are \
         not reachable; long pages are truncated."
    }

    fn category(&self) -> &str {
        "crawler"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "The page's URL (http or https)"},
                "extract_type": extract_schema(true)
            },
            "required": ["url"]
        })
    }

    fn has_side_effects(&self) -> bool {
        // Pages change: a repeated fetch must fetch again.
        true
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let url = match args.get("url") {
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err("Argument 'url' must be a string".to_owned()),
                None => return Err("Missing required argument: 'url'".to_owned()),
            };
            let extract = extract_arg(&args)?;
            Ok(self.fetcher.page_result(&url, extract, &ctx.cancel).await)
        })
    }
}
