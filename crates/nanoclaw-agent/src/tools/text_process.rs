//! `text_process` (tools.md §4.6): counts and simple conversions of a text.

use serde_json::{Map, Value, json};

use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// Longest `text` accepted, in bytes (UTF-8): larger input is a failed result, never work.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;

/// Longest converted text returned (`upper`/`lower`/`reverse`), in characters; the rest is cut
/// with a note (W-42: the result goes into the model's context and the stored answer).
pub const MAX_OUTPUT_CHARS: usize = 100_000;

/// The `text_process` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextProcess;

/// Lines as Python's `str.splitlines()` counts them: `\n`, `\r\n`, `\r` and the other Unicode
/// line boundaries end a line; a trailing break adds none.
fn count_lines(text: &str) -> usize {
    let mut lines = 0;
    let mut open = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines += 1;
                open = false;
            }
            '\n' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => {
                lines += 1;
                open = false;
            }
            _ => open = true,
        }
    }
    lines + usize::from(open)
}

/// `text` cut to [`MAX_OUTPUT_CHARS`] with a note saying so.
fn bounded(text: String) -> String {
    match text.char_indices().nth(MAX_OUTPUT_CHARS) {
        None => text,
        Some((at, _)) => {
            let total = text.chars().count();
            format!(
                "{}\n[… cut: {MAX_OUTPUT_CHARS} of {total} characters shown]",
                &text[..at]
            )
        }
    }
}

/// The operation's result (the handler value of tools.md §4.6).
pub fn process(text: &str, operation: &str) -> Value {
    match operation {
        "count" => json!({"count": text.chars().count()}),
        "lines" => json!({"lines": count_lines(text)}),
        // Python's `split()` splits on Unicode whitespace, as `char::is_whitespace` does.
        "words" => json!({"words": text.split_whitespace().count()}),
        "upper" => json!({"result": bounded(text.to_uppercase())}),
        "lower" => json!({"result": bounded(text.to_lowercase())}),
        "reverse" => json!({"result": bounded(text.chars().rev().collect())}),
        other => json!({"error": format!("Unknown operation: {other}")}),
    }
}

fn string_arg<'a>(args: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match args.get(key) {
        None => Err(format!("'{key}'")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("'{key}' must be a string")),
    }
}

impl Tool for TextProcess {
    fn name(&self) -> &str {
        "text_process"
    }

    fn description(&self) -> &str {
        "Process a text: count its characters, lines or words, convert it to upper or lower \
         case, or reverse it. Input up to 1 MiB."
    }

    fn category(&self) -> &str {
        "data"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "The text to process."},
                "operation": {
                    "type": "string",
                    "description": "count (characters), lines, words, upper, lower or reverse.",
                    "enum": ["count", "lines", "words", "upper", "lower", "reverse"]
                }
            },
            "required": ["text", "operation"]
        })
    }

    fn has_side_effects(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        _ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let text = string_arg(&args, "text")?;
            let operation = string_arg(&args, "operation")?;
            if text.len() > MAX_INPUT_BYTES {
                return Ok(json!({"error": format!(
                    "Text too large: {} bytes (limit {MAX_INPUT_BYTES} bytes)",
                    text.len()
                )}));
            }
            Ok(process(text, operation))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_operations() {
        assert_eq!(process("héllo 世界", "count"), json!({"count": 8}));
        assert_eq!(process("a\nb\r\nc\rd", "lines"), json!({"lines": 4}));
        assert_eq!(process("a\nb\n", "lines"), json!({"lines": 2}));
        assert_eq!(process("", "lines"), json!({"lines": 0}));
        assert_eq!(process("\n\n", "lines"), json!({"lines": 2}));
        assert_eq!(process("a\u{2028}b", "lines"), json!({"lines": 2}));
        assert_eq!(
            process("  one two\tthree\n four  ", "words"),
            json!({"words": 4})
        );
        assert_eq!(process("", "words"), json!({"words": 0}));
        assert_eq!(process("Straße ǅ", "upper"), json!({"result": "STRASSE Ǆ"}));
        assert_eq!(process("ÀB", "lower"), json!({"result": "àb"}));
        assert_eq!(process("ab世", "reverse"), json!({"result": "世ba"}));
        assert_eq!(
            process("x", "title"),
            json!({"error": "Unknown operation: title"})
        );
    }

    #[tokio::test]
    async fn bounds_and_argument_errors() {
        let run = |v: Value| {
            let args = v.as_object().cloned().unwrap_or_default();
            async move { TextProcess.run(args, &ToolContext::default()).await }
        };
        let big = "a".repeat(MAX_INPUT_BYTES + 1);
        let out = run(json!({"text": big, "operation": "count"}))
            .await
            .unwrap();
        assert!(out["error"].as_str().unwrap().starts_with("Text too large"));
        let at_limit = "a".repeat(MAX_INPUT_BYTES);
        assert_eq!(
            run(json!({"text": at_limit, "operation": "count"})).await,
            Ok(json!({"count": MAX_INPUT_BYTES}))
        );
        let long = "é".repeat(MAX_OUTPUT_CHARS + 5);
        let out = run(json!({"text": long, "operation": "upper"}))
            .await
            .unwrap();
        let result = out["result"].as_str().unwrap();
        assert!(result.starts_with(&"É".repeat(MAX_OUTPUT_CHARS)));
        assert!(result.ends_with(&format!(
            "[… cut: {MAX_OUTPUT_CHARS} of {} characters shown]",
            MAX_OUTPUT_CHARS + 5
        )));
        assert_eq!(
            run(json!({"operation": "count"})).await,
            Err("'text'".into())
        );
        assert!(run(json!({"text": 1, "operation": "count"})).await.is_err());
        assert_eq!(run(json!({"text": "x"})).await, Err("'operation'".into()));
    }
}
