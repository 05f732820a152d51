//! `crawl_batch` (tools.md §4.4): up to 10 pages like `fetch_page`, 5 at a time, results in
//! the order given.

use nanoclaw_fetch::Fetcher;
use nanoclaw_fetch::page::BATCH_MAX;
use serde_json::{Map, Value, json};

use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};
use crate::tools::fetch_page::{extract_arg, extract_schema};

/// The `crawl_batch` tool.
#[derive(Debug, Clone)]
pub struct CrawlBatch {
    fetcher: Fetcher,
}

impl CrawlBatch {
    /// The tool over a shared fetcher.
    pub fn new(fetcher: Fetcher) -> Self {
        Self { fetcher }
    }
}

impl Tool for CrawlBatch {
    fn name(&self) -> &str {
        "crawl_batch"
    }

    fn description(&self) -> &str {
        "Fetch several web pages at once (at most 10, 5 at a time) and return each like \
         fetch_page does, in the order given."
    }

    fn category(&self) -> &str {
        "crawler"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "urls": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The pages' URLs (http or https; at most 10)"
                },
                "extract_type": extract_schema(false)
            },
            "required": ["urls"]
        })
    }

    fn has_side_effects(&self) -> bool {
        true
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let items = match args.get("urls") {
                Some(Value::Array(items)) => items,
                Some(_) => return Err("Argument 'urls' must be an array of strings".to_owned()),
                None => return Err("Missing required argument: 'urls'".to_owned()),
            };
            let extract = extract_arg(&args)?;
            if items.len() > BATCH_MAX {
                return Ok(
                    json!({"error": format!("Maximum {BATCH_MAX} pages can be fetched at once")}),
                );
            }
            // A non-string entry fails only its own slot (an empty URL does not parse).
            let urls: Vec<String> = items
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect();
            Ok(self.fetcher.batch_result(&urls, extract, &ctx.cancel).await)
        })
    }
}
