//! `file_exists` (tools.md §4.12): whether a path of the project exists, and what it is.

use nanoclaw_workspace::Kind;
use serde_json::{Map, Value, json};

use super::files::{self, failure};
use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// The `file_exists` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileExists;

impl Tool for FileExists {
    fn name(&self) -> &str {
        "file_exists"
    }

    fn description(&self) -> &str {
        "Check whether a file or directory exists in the current project, and its type."
    }

    fn category(&self) -> &str {
        "file"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path relative to the project root"}
            },
            "required": ["path"]
        })
    }

    // Files change between calls: never answered from the executor's cache.
    fn has_side_effects(&self) -> bool {
        true
    }

    fn needs_workspace(&self) -> bool {
        true
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        files::run(files::path_input(ctx, &args), move |(ws, path)| {
            let rel = files::resolve(&ws, &path)?;
            let stat = ws
                .stat(&rel)
                .map_err(|e| failure(files::describe(&e, &path, &rel)))?;
            // No `success` key on success, as in nanoClaw.
            Ok(match stat {
                None => json!({"exists": false, "path": rel}),
                Some(s) => match s.kind {
                    Kind::File => {
                        json!({"exists": true, "type": "file", "path": rel, "size": s.size})
                    }
                    Kind::Dir => json!({"exists": true, "type": "directory", "path": rel}),
                    Kind::Other => json!({"exists": true, "type": "other", "path": rel}),
                },
            })
        })
    }
}
