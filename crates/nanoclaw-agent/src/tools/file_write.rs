//! `file_write` (tools.md §4.9): create, overwrite or append to a file of the project.

use nanoclaw_workspace::WsError;
use serde_json::{Map, Value, json};

use super::files::{self, failure};
use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// The `file_write` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileWrite;

impl Tool for FileWrite {
    fn name(&self) -> &str {
        "file_write"
    }

    fn description(&self) -> &str {
        "Write text to a file of the current project (parent directories are created). \
         mode 'write' replaces the file, 'append' adds to its end."
    }

    fn category(&self) -> &str {
        "file"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path relative to the project root"},
                "content": {"type": "string", "description": "The text to write"},
                "encoding": {"type": "string", "description": "Text encoding of the file", "default": "utf-8"},
                "mode": {"type": "string", "description": "'write' to replace the file, 'append' to add to it", "enum": ["write", "append"], "default": "write"}
            },
            "required": ["path", "content"]
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
        let prepared = (|| {
            let ws = files::workspace(ctx)?;
            let path = files::required_str(&args, "path")?;
            let content = files::required_str(&args, "content")?;
            let label = files::optional_str(&args, "encoding", "utf-8")?;
            let bytes = encode(&content, files::encoding(&label)?, &label)?;
            // Echoed as given; anything but "append" overwrites, as in nanoClaw.
            let mode = args.get("mode").cloned().unwrap_or_else(|| json!("write"));
            Ok((ws, path, content.chars().count(), bytes, mode))
        })();
        files::run(prepared, move |(ws, path, chars, bytes, mode)| {
            let rel = files::resolve(&ws, &path)?;
            let written = if mode == "append" {
                ws.append(&rel, &bytes)
            } else {
                ws.write(&rel, &bytes)
            };
            written.map_err(|e| {
                failure(match e {
                    WsError::IsADirectory => format!("Is a directory: {rel}"),
                    WsError::TooLarge => format!(
                        "File too large: {rel} (at most {} bytes)",
                        ws.limits().max_file_bytes
                    ),
                    e => files::describe(&e, &path, &rel),
                })
            })?;
            Ok(json!({"success": true, "size": chars, "path": rel, "mode": mode}))
        })
    }
}

/// `content` in `encoding`, strictly: a character the encoding cannot represent is a failure
/// (Python's `errors="strict"`). UTF-16 is refused: encoding_rs only decodes it.
fn encode(
    content: &str,
    encoding: &'static encoding_rs::Encoding,
    label: &str,
) -> Result<Vec<u8>, Value> {
    if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
        return Err(failure(format!("Writing {label} is not supported")));
    }
    let (bytes, _, unmappable) = encoding.encode(content);
    if unmappable {
        return Err(failure(format!("The text cannot be encoded as {label}")));
    }
    Ok(bytes.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_strict() {
        assert_eq!(
            encode("hé", encoding_rs::UTF_8, "utf-8").unwrap(),
            "hé".as_bytes()
        );
        let latin = files::encoding("latin-1").unwrap();
        assert_eq!(encode("é", latin, "latin-1").unwrap(), vec![0xe9]);
        assert!(encode("你", latin, "latin-1").is_err());
        assert!(encode("x", encoding_rs::UTF_16LE, "utf-16").is_err());
    }
}
