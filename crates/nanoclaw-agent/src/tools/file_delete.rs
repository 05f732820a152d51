//! `file_delete` (tools.md §4.10): delete one file of the project.

use nanoclaw_workspace::WsError;
use serde_json::{Map, Value, json};

use super::files::{self, failure};
use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// The `file_delete` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileDelete;

impl Tool for FileDelete {
    fn name(&self) -> &str {
        "file_delete"
    }

    fn description(&self) -> &str {
        "Delete a file of the current project (not a directory)."
    }

    fn category(&self) -> &str {
        "file"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path relative to the project root"}
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
            ws.delete_file(&rel).map_err(|e| {
                failure(match e {
                    WsError::NotFound | WsError::NotADirectory => {
                        format!("File not found: {rel}")
                    }
                    WsError::IsADirectory | WsError::NotAFile | WsError::ProjectRoot => {
                        format!("Path is not a file: {rel}")
                    }
                    e => files::describe(&e, &path, &rel),
                })
            })?;
            Ok(json!({"success": true, "path": rel}))
        })
    }
}
