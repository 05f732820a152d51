//! The steps of an answer: the `process_step` payloads of chat.md §6.3 and the stored `steps`.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// One step; serialises exactly to the `process_step` payload
/// (`{"id":"step-N","index":N,"type":…,…}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Position in the answer's step list; the client replaces by index.
    pub index: u32,
    /// What the step shows. Boxed: a step is small to move and to queue (a channel of steps
    /// sits between every streaming answer and its writer, and reserves room for 32).
    pub kind: Box<StepKind>,
}

/// The four step types.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// The round's reasoning so far (cumulative).
    Thinking {
        /// The whole thinking text of the round so far.
        content: String,
    },
    /// The round's text so far (cumulative).
    Text {
        /// The whole text of the round so far.
        content: String,
    },
    /// A call the model made.
    ToolCall {
        /// The provider's tool-call id.
        id_ref: String,
        /// Tool name.
        name: String,
        /// The raw accumulated arguments text.
        arguments: String,
    },
    /// A call's result.
    ToolResult {
        /// The id of the call it answers.
        id_ref: String,
        /// Tool name.
        name: String,
        /// The result JSON text (tools.md §2.6).
        content: String,
        /// The result's top-level `skipped` (nothing sets it; always false).
        skipped: bool,
    },
}

impl Step {
    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match *self.kind {
            StepKind::Thinking { .. } => "thinking",
            StepKind::Text { .. } => "text",
            StepKind::ToolCall { .. } => "tool_call",
            StepKind::ToolResult { .. } => "tool_result",
        }
    }
}

impl Serialize for Step {
    // By hand: key order as the original wrote it, and no intermediate `Value` on the hot path
    // (thinking/text steps are re-sent with their whole content).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &format_args!("step-{}", self.index))?;
        map.serialize_entry("index", &self.index)?;
        map.serialize_entry("type", self.type_name())?;
        match &*self.kind {
            StepKind::Thinking { content } | StepKind::Text { content } => {
                map.serialize_entry("content", content)?;
            }
            StepKind::ToolCall {
                id_ref,
                name,
                arguments,
            } => {
                map.serialize_entry("id_ref", id_ref)?;
                map.serialize_entry("name", name)?;
                map.serialize_entry("arguments", arguments)?;
            }
            StepKind::ToolResult {
                id_ref,
                name,
                content,
                skipped,
            } => {
                map.serialize_entry("id_ref", id_ref)?;
                map.serialize_entry("name", name)?;
                map.serialize_entry("content", content)?;
                map.serialize_entry("skipped", skipped)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape() {
        let json = |kind| {
            serde_json::to_string(&Step {
                index: 4,
                kind: Box::new(kind),
            })
            .unwrap()
        };
        assert_eq!(
            json(StepKind::Thinking {
                content: "é".into()
            }),
            r#"{"id":"step-4","index":4,"type":"thinking","content":"é"}"#
        );
        assert_eq!(
            json(StepKind::Text {
                content: "a\nb".into()
            }),
            r#"{"id":"step-4","index":4,"type":"text","content":"a\nb"}"#
        );
        assert_eq!(
            json(StepKind::ToolCall {
                id_ref: "call_1".into(),
                name: "calculator".into(),
                arguments: r#"{"expression": "2+3"}"#.into()
            }),
            r#"{"id":"step-4","index":4,"type":"tool_call","id_ref":"call_1","name":"calculator","arguments":"{\"expression\": \"2+3\"}"}"#
        );
        assert_eq!(
            json(StepKind::ToolResult {
                id_ref: "call_1".into(),
                name: "calculator".into(),
                content: "{}".into(),
                skipped: false
            }),
            r#"{"id":"step-4","index":4,"type":"tool_result","id_ref":"call_1","name":"calculator","content":"{}","skipped":false}"#
        );
    }
}
