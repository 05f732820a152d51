//! What the six `file_*` tools share (tools.md §4.8–4.13): the workspace from the context,
//! argument access, the blocking hop and the wording of failures.
//!
//! Every failure is returned the nanoClaw way, as `{"success": false, "error": "<text>"}` in
//! `data`; the executor then marks the whole result failed (tools.md §2.6). Messages name the
//! project-relative path, never a server path.

use nanoclaw_workspace::{Workspace, WsError};
use serde_json::{Map, Value, json};

use crate::tool::{BoxFuture, ToolContext, ToolOutput};

/// The error when no project is bound to the answer (tools.md §3).
pub const NO_PROJECT: &str = "project_id is required for file operations";

/// `{"success": false, "error": text}`.
pub(crate) fn failure(text: impl Into<String>) -> Value {
    json!({"success": false, "error": text.into()})
}

/// The answer's workspace, or the failure of tools.md §3.
pub(crate) fn workspace(ctx: &ToolContext) -> Result<Workspace, Value> {
    ctx.workspace.clone().ok_or_else(|| failure(NO_PROJECT))
}

/// A required string argument.
pub(crate) fn required_str(args: &Map<String, Value>, key: &str) -> Result<String, Value> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(failure(format!("Argument '{key}' must be a string"))),
        None => Err(failure(format!("Missing required argument: '{key}'"))),
    }
}

/// An optional string argument with its default (`null` counts as absent).
pub(crate) fn optional_str(
    args: &Map<String, Value>,
    key: &str,
    default: &str,
) -> Result<String, Value> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Ok(default.to_owned()),
        Some(_) => Err(failure(format!("Argument '{key}' must be a string"))),
    }
}

/// The workspace and the required `path` argument, the input of most file tools.
pub(crate) fn path_input(
    ctx: &ToolContext,
    args: &Map<String, Value>,
) -> Result<(Workspace, String), Value> {
    Ok((workspace(ctx)?, required_str(args, "path")?))
}

/// A file tool's run: its checked input (or the failure that ends it at once) handed to
/// `work` on the blocking pool.
pub(crate) fn run<T, F>(prepared: Result<T, Value>, work: F) -> BoxFuture<'static, ToolOutput>
where
    T: Send + 'static,
    F: FnOnce(T) -> Result<Value, Value> + Send + 'static,
{
    Box::pin(async move {
        match prepared {
            Ok(input) => blocking(move || work(input)).await,
            Err(failed) => Ok(failed),
        }
    })
}

/// Runs filesystem work on the blocking pool; `Err` values are the tool's failure output.
pub(crate) async fn blocking<F>(work: F) -> ToolOutput
where
    F: FnOnce() -> Result<Value, Value> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value) | Err(value)) => Ok(value),
        Err(e) => {
            tracing::error!(error = %e, "file tool task failed");
            Err("Tool execution failed: the tool crashed".to_owned())
        }
    }
}

/// The failure text for `e` on the user path `input` (whose project-relative form, when it
/// could be worked out, is `rel`). Tool-specific cases (not found, wrong kind) are worded by
/// the callers before falling back to this.
pub(crate) fn describe(e: &WsError, input: &str, rel: &str) -> String {
    match e {
        WsError::OutsideProject => format!("Path '{input}' is outside project directory"),
        WsError::InvalidPath(reason) => format!("Invalid path '{input}': {reason}"),
        WsError::ProjectRoot => format!("Path '{input}' is the project root itself"),
        WsError::NotFound => format!("File not found: {rel}"),
        WsError::AlreadyExists => format!("File exists: {rel}"),
        WsError::NotADirectory => format!("Not a directory: a parent of '{rel}' is a file"),
        WsError::IsADirectory => format!("Is a directory: {rel}"),
        WsError::NotAFile => format!("Path is not a file: {rel}"),
        WsError::TooLarge => format!("File too large: {rel}"),
        WsError::QuotaExceeded => "Workspace quota exceeded".to_owned(),
        WsError::Io(io) => format!("{io}: {rel}"),
    }
}

/// Checks a user path; the failure output when refused.
pub(crate) fn resolve(ws: &Workspace, input: &str) -> Result<String, Value> {
    ws.resolve(input)
        .map(|rel| rel.display().to_owned())
        .map_err(|e| failure(describe(&e, input, input)))
}

/// The encoding named by a Python-style codec name (`utf-8`, `utf8`, `UTF_8`, `gbk`,
/// `latin-1`, …), by its WHATWG label.
pub(crate) fn encoding(label: &str) -> Result<&'static encoding_rs::Encoding, Value> {
    let normal = label.trim().to_ascii_lowercase().replace('_', "-");
    let normal = match normal.as_str() {
        "utf8" | "u8" => "utf-8",
        "latin-1" | "latin1" => "iso-8859-1",
        other => other,
    };
    encoding_rs::Encoding::for_label(normal.as_bytes())
        .ok_or_else(|| failure(format!("unknown encoding: {label}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        for label in ["utf-8", "UTF8", "utf_8", "u8"] {
            assert_eq!(encoding(label).unwrap(), encoding_rs::UTF_8, "{label}");
        }
        assert_eq!(encoding("gbk").unwrap(), encoding_rs::GBK);
        assert_eq!(encoding("latin-1").unwrap(), encoding_rs::WINDOWS_1252);
        assert_eq!(
            encoding("klingon").unwrap_err(),
            json!({"success": false, "error": "unknown encoding: klingon"})
        );
    }
}
