//! `file_read` (tools.md §4.8): a text file of the project.

use nanoclaw_workspace::WsError;
use serde_json::{Map, Value, json};

use super::files::{self, failure};
use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// Largest file `file_read` returns (nanoClaw had no cap; a bigger file would not fit a
/// model's context anyway).
pub const MAX_READ_BYTES: u64 = 1024 * 1024;

/// The `file_read` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileRead;

impl Tool for FileRead {
    fn name(&self) -> &str {
        "file_read"
    }

    fn description(&self) -> &str {
        "Read a text file of the current project. The path is relative to the project root."
    }

    fn category(&self) -> &str {
        "file"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path relative to the project root"},
                "encoding": {"type": "string", "description": "Text encoding of the file", "default": "utf-8"}
            },
            "required": ["path"]
        })
    }

    // Files change between calls (file_write, execute_python, the user's editor): never
    // answered from the executor's cache.
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
            let encoding = files::optional_str(&args, "encoding", "utf-8")?;
            Ok((ws, path, files::encoding(&encoding)?, encoding))
        })();
        files::run(prepared, move |(ws, path, encoding, label)| {
            let rel = files::resolve(&ws, &path)?;
            let bytes = ws.read_bytes(&rel, MAX_READ_BYTES).map_err(|e| {
                failure(match e {
                    WsError::NotFound | WsError::NotADirectory => {
                        format!("File not found: {rel}")
                    }
                    WsError::IsADirectory | WsError::NotAFile | WsError::ProjectRoot => {
                        format!("Path is not a file: {rel}")
                    }
                    WsError::TooLarge => format!(
                        "File too large: {rel} (file_read returns at most {MAX_READ_BYTES} bytes)"
                    ),
                    e => files::describe(&e, &path, &rel),
                })
            })?;
            let text = decode(&bytes, encoding, &label)?;
            // Text mode, as nanoClaw read it: CRLF and lone CR become LF, and `size`
            // counts characters after that.
            let content = text.replace("\r\n", "\n").replace('\r', "\n");
            Ok(json!({
                "success": true,
                "content": content,
                "size": content.chars().count(),
                "path": rel,
            }))
        })
    }
}

/// `bytes` as text in `encoding`, strictly (Python's `errors="strict"`): malformed input is a
/// failure worded as Python's codec error, not replacement characters.
fn decode(
    bytes: &[u8],
    encoding: &'static encoding_rs::Encoding,
    label: &str,
) -> Result<String, Value> {
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(text.into_owned());
    }
    let at = first_malformed(bytes, encoding);
    let byte = bytes.get(at).copied().unwrap_or_default();
    Err(failure(format!(
        "'{label}' codec can't decode byte 0x{byte:02x} in position {at}: invalid start byte"
    )))
}

/// Where the first malformed sequence of `bytes` starts.
fn first_malformed(bytes: &[u8], encoding: &'static encoding_rs::Encoding) -> usize {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len().saturating_mul(3));
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            read.saturating_sub(usize::from(bad) + usize::from(after))
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_is_strict() {
        let utf8 = encoding_rs::UTF_8;
        assert_eq!(decode("héllo".as_bytes(), utf8, "utf-8").unwrap(), "héllo");
        assert!(decode(&[0xff, 0xfe, 0x00], utf8, "utf-8").is_err());
        let gbk = files::encoding("gbk").unwrap();
        assert_eq!(decode(&[0xc4, 0xe3], gbk, "gbk").unwrap(), "你");
    }
}
