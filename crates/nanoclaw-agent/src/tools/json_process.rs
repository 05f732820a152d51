//! `json_process` (tools.md §4.7): parse, pretty-print, list keys of, or validate JSON text.
//!
//! Objects keep their keys in the order of the input (as Python's `json` did), through a small
//! ordered value type: the workspace's `serde_json` sorts keys.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value, json};

use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// Longest `json_string` accepted, in bytes: larger input is a failed result, never work.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;

/// Longest `format` result, in bytes (indentation can make it much larger than the input);
/// the rest is cut with a note.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;

/// A JSON value whose objects keep their input order.
#[derive(Debug, Clone, PartialEq)]
enum Ordered {
    Scalar(Value),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ordered, E> {
                serde_json::Number::from_f64(v)
                    .map(|n| Ordered::Scalar(Value::Number(n)))
                    .ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::String(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries: Vec<(String, Ordered)> = Vec::new();
                let mut index: HashMap<String, usize> = HashMap::new();
                while let Some((key, value)) = map.next_entry::<String, Ordered>()? {
                    // A repeated key keeps its first position and its last value (Python's dict).
                    match index.get(&key) {
                        Some(&i) => entries[i].1 = value,
                        None => {
                            index.insert(key.clone(), entries.len());
                            entries.push((key, value));
                        }
                    }
                }
                Ok(Ordered::Object(entries))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Scalar(v) => v.serialize(s),
            Ordered::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Ordered::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// A writer that refuses to grow past its limit (so a pretty-print is bounded while made).
struct Capped {
    buf: Vec<u8>,
    limit: usize,
    full: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.limit - self.buf.len();
        if data.len() > room {
            self.buf.extend_from_slice(&data[..room]);
            self.full = true;
            return Err(io::Error::other("output limit reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// 2-space indented JSON, non-ASCII kept, at most [`MAX_OUTPUT_BYTES`] (then cut with a note).
fn pretty(value: &Ordered) -> String {
    let mut out = Capped {
        buf: Vec::new(),
        limit: MAX_OUTPUT_BYTES,
        full: false,
    };
    let written = serde_json::to_writer_pretty(&mut out, value);
    let mut text = String::from_utf8_lossy(&out.buf).into_owned();
    if out.full || written.is_err() {
        // The cut may have split a character; lossy decoding turned it into U+FFFD.
        text.push_str(&format!(
            "\n[… cut: the formatted JSON is longer than {MAX_OUTPUT_BYTES} bytes]"
        ));
    }
    text
}

/// The operation's result (the handler value of tools.md §4.7).
pub fn process(json_string: &str, operation: &str) -> Value {
    if !matches!(operation, "parse" | "format" | "keys" | "validate") {
        return json!({"error": format!("Unknown operation: {operation}")});
    }
    let parsed: Ordered = match serde_json::from_str(json_string) {
        Ok(v) => v,
        Err(e) => return json!({"error": format!("JSON parse error: {e}")}),
    };
    match operation {
        "validate" => json!({"valid": true}),
        "parse" => json!({"data": to_value(parsed)}),
        "format" => json!({"result": pretty(&parsed)}),
        _ => match parsed {
            Ordered::Object(entries) => {
                json!({"keys": entries.into_iter().map(|(k, _)| k).collect::<Vec<_>>()})
            }
            _ => json!({"error": "JSON root element is not an object"}),
        },
    }
}

/// As a `serde_json::Value` for the envelope. The workspace's `Value` sorts object keys; the
/// order of `parse` results is therefore sorted (the `format` text keeps the input order).
fn to_value(v: Ordered) -> Value {
    match v {
        Ordered::Scalar(v) => v,
        Ordered::Array(items) => Value::Array(items.into_iter().map(to_value).collect()),
        Ordered::Object(entries) => {
            Value::Object(entries.into_iter().map(|(k, v)| (k, to_value(v))).collect())
        }
    }
}

fn string_arg<'a>(args: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match args.get(key) {
        None => Err(format!("'{key}'")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("'{key}' must be a string")),
    }
}

/// The `json_process` tool.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonProcess;

impl Tool for JsonProcess {
    fn name(&self) -> &str {
        "json_process"
    }

    fn description(&self) -> &str {
        "Process JSON text: parse it, format it (2-space indentation), list the top-level keys \
         of an object, or validate it. Input up to 1 MiB."
    }

    fn category(&self) -> &str {
        "data"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "json_string": {"type": "string", "description": "The JSON text."},
                "operation": {
                    "type": "string",
                    "description": "parse, format, keys or validate.",
                    "enum": ["parse", "format", "keys", "validate"]
                }
            },
            "required": ["json_string", "operation"]
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
            let text = string_arg(&args, "json_string")?;
            let operation = string_arg(&args, "operation")?;
            if text.len() > MAX_INPUT_BYTES {
                return Ok(json!({"error": format!(
                    "JSON text too large: {} bytes (limit {MAX_INPUT_BYTES} bytes)",
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
        assert_eq!(process(r#"{"a": 1}"#, "validate"), json!({"valid": true}));
        let bad = process("{\"a\": ", "validate");
        assert!(
            bad["error"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error: "),
            "{bad}"
        );
        assert!(bad.get("valid").is_none());
        assert_eq!(
            process(r#"{"b": [1, 2.5, null, true], "a": "é"}"#, "parse"),
            json!({"data": {"b": [1, 2.5, null, true], "a": "é"}})
        );
        assert_eq!(
            process(r#"{"z": 1, "a": {"y": [], "b": {}}, "m": "中"}"#, "format"),
            json!({"result": "{\n  \"z\": 1,\n  \"a\": {\n    \"y\": [],\n    \"b\": {}\n  },\n  \"m\": \"中\"\n}"})
        );
        assert_eq!(
            process(r#"{"z": 1, "a": 2, "z": 3, "m": 4}"#, "keys"),
            json!({"keys": ["z", "a", "m"]})
        );
        assert_eq!(
            process("[1]", "keys"),
            json!({"error": "JSON root element is not an object"})
        );
        assert!(
            process("nope", "keys")["error"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error")
        );
        assert_eq!(
            process("{}", "minify"),
            json!({"error": "Unknown operation: minify"})
        );
    }

    #[test]
    fn hostile_inputs_are_bounded() {
        // Nesting beyond serde_json's recursion limit is a parse error, not a stack overflow.
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(
            process(&deep, "parse")["error"]
                .as_str()
                .unwrap()
                .contains("recursion limit")
        );
        // Deep indentation makes a small input a huge pretty-print: cut while it is made.
        let nested = "[".repeat(120) + &"1,".repeat(20_000) + "1" + &"]".repeat(120);
        let out = process(&nested, "format");
        let result = out["result"].as_str().unwrap();
        assert!(result.len() < MAX_OUTPUT_BYTES + 200);
        assert!(result.ends_with(&format!(
            "[… cut: the formatted JSON is longer than {MAX_OUTPUT_BYTES} bytes]"
        )));
    }

    #[tokio::test]
    async fn oversize_input_is_a_failed_result() {
        let run = |v: Value| {
            let args = v.as_object().cloned().unwrap_or_default();
            async move { JsonProcess.run(args, &ToolContext::default()).await }
        };
        let big = format!("\"{}\"", "a".repeat(MAX_INPUT_BYTES));
        let out = run(json!({"json_string": big, "operation": "validate"}))
            .await
            .unwrap();
        assert!(
            out["error"]
                .as_str()
                .unwrap()
                .starts_with("JSON text too large")
        );
        assert_eq!(
            run(json!({"operation": "parse"})).await,
            Err("'json_string'".into())
        );
        assert!(
            run(json!({"json_string": {}, "operation": "parse"}))
                .await
                .is_err()
        );
    }
}
