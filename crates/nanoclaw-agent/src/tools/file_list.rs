//! `file_list` (tools.md §4.11): entries of a project directory matching a glob.

use nanoclaw_workspace::WsError;
use serde_json::{Map, Value, json};

use super::files::{self, failure};
use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// Most entries one call returns; more set `"truncated": true` (nanoClaw had no cap, and a
/// `**` over a large project would flood the model's context).
pub const MAX_ENTRIES: usize = 1000;

/// The `file_list` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileList;

impl Tool for FileList {
    fn name(&self) -> &str {
        "file_list"
    }

    fn description(&self) -> &str {
        "List files and directories of the current project. 'pattern' is a glob relative to \
         'path' ('*' for the directory itself, '**/*.py' for all Python files below it)."
    }

    fn category(&self) -> &str {
        "file"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Directory path relative to the project root", "default": "."},
                "pattern": {"type": "string", "description": "Glob pattern, e.g. '*.py' or '**/*.md'", "default": "*"}
            },
            "required": []
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
        let prepared = (|| {
            let ws = files::workspace(ctx)?;
            let path = files::optional_str(&args, "path", ".")?;
            let pattern = files::optional_str(&args, "pattern", "*")?;
            Ok((ws, path, pattern))
        })();
        files::run(prepared, move |(ws, path, pattern)| {
            // nanoClaw's glob let `..` list anything above the project (tools.md §4.11).
            if pattern.split('/').any(|part| part == "..") {
                return Err(failure(format!(
                    "Pattern '{pattern}' is outside project directory"
                )));
            }
            let rel = files::resolve(&ws, &path)?;
            let (entries, truncated) = ws.glob(&rel, &pattern, MAX_ENTRIES).map_err(|e| {
                failure(match e {
                    WsError::NotFound => format!("Directory not found: {rel}"),
                    WsError::NotADirectory => format!("Path is not a directory: {rel}"),
                    WsError::InvalidPath(reason) => {
                        format!("Invalid pattern '{pattern}': {reason}")
                    }
                    e => files::describe(&e, &path, &rel),
                })
            })?;
            let (dirs, files): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.is_dir);
            let mut out = json!({
                "success": true,
                "path": rel,
                "files": files
                    .iter()
                    .map(|f| json!({"name": f.name, "size": f.size, "path": f.path}))
                    .collect::<Vec<_>>(),
                "directories": dirs
                    .iter()
                    .map(|d| json!({"name": d.name, "path": d.path}))
                    .collect::<Vec<_>>(),
                "total_files": files.len(),
                "total_dirs": dirs.len(),
            });
            if truncated {
                out["truncated"] = json!(true);
            }
            Ok(out)
        })
    }
}
