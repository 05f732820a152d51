//! The message history sent to the model (spec chat.md §2): the system prompt, then every
//! stored message flattened to text; assistants contribute only their final text.

use nanoclaw_core::chat::Message as Stored;
use nanoclaw_llm::Message;
use serde_json::Value;

/// The model's view of a conversation.
pub fn build(system_prompt: Option<&str>, stored: &[Stored]) -> Vec<Message> {
    let mut messages = Vec::with_capacity(stored.len() + 1);
    if let Some(prompt) = system_prompt.filter(|p| !p.is_empty()) {
        messages.push(Message::System {
            content: prompt.to_owned(),
        });
    }
    for m in stored {
        let content = flatten(&m.content, m.role == "user");
        match m.role.as_str() {
            "user" => messages.push(Message::User { content }),
            // An answer cut off before any text (a failed first round) says nothing.
            "assistant" if !content.is_empty() => messages.push(Message::Assistant {
                content,
                tool_calls: Vec::new(),
            }),
            "system" => messages.push(Message::System { content }),
            _ => {}
        }
    }
    messages
}

/// A stored `content` as text: `text`, then (for user messages) each attachment as a fenced
/// block labelled with its name, joined by blank lines. Content that is not a JSON object is
/// used as it is.
fn flatten(content: &str, with_attachments: bool) -> String {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(content) else {
        return content.to_owned();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(text) = obj
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        parts.push(text.to_owned());
    }
    if with_attachments && let Some(Value::Array(files)) = obj.get("attachments") {
        for file in files {
            let field = |k: &str| file.get(k).and_then(Value::as_str).unwrap_or_default();
            let (name, body) = (field("name"), field("content"));
            if !name.is_empty() && !body.is_empty() {
                parts.push(format!("```{name}\n{body}\n```"));
            }
        }
    }
    parts.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(role: &str, content: &str) -> Stored {
        Stored {
            id: "m".into(),
            conversation_id: "c".into(),
            role: role.into(),
            content: content.into(),
            token_count: 0,
            created_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn the_verified_example_of_the_spec() {
        let history = build(
            Some("SYS"),
            &[stored(
                "user",
                r#"{"text":"please TOOL now","attachments":[{"name":"a.py","extension":"py","content":"print(1)"}]}"#,
            )],
        );
        let wire = serde_json::to_value(&history).unwrap();
        assert_eq!(
            wire,
            serde_json::json!([
                {"role": "system", "content": "SYS"},
                {"role": "user", "content": "please TOOL now\n\n```a.py\nprint(1)\n```"}
            ])
        );
    }

    #[test]
    fn answers_give_their_text_only_and_tools_nothing() {
        let history = build(
            None,
            &[
                stored("user", r#"{"text":"hi"}"#),
                stored(
                    "assistant",
                    r#"{"text":"hello","steps":[{"type":"thinking"}]}"#,
                ),
                stored("tool", r#"{"text":"x"}"#),
                stored("assistant", r#"{"text":"","steps":[],"interrupted":true}"#),
                stored("user", "not json"),
            ],
        );
        let wire = serde_json::to_value(&history).unwrap();
        assert_eq!(
            wire,
            serde_json::json!([
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "not json"}
            ])
        );
    }
}
