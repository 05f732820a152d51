//! `file_mkdir` (tools.md §4.13): create a directory (with parents) in the project.

use serde_json::{Map, Value, json};

use super::files::{self, failure};
use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// The `file_mkdir` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileMkdir;

impl Tool for FileMkdir {
    fn name(&self) -> &str {
        "file_mkdir"
    }

    fn description(&self) -> &str {
        "Create a directory (and its parents) in the current project; an existing directory is fine."
    }

    fn category(&self) -> &str {
        "file"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Directory path relative to the project root"}
            },
            "required": ["path"]
        })
    }

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
            let created = ws
                .mkdir(&rel)
                .map_err(|e| failure(files::describe(&e, &path, &rel)))?;
            Ok(json!({"success": true, "path": rel, "created": created}))
        })
    }
}
