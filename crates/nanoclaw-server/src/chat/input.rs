//! Parsing the conversation and message bodies into checked values: every field checked
//! against its type and limits, a wrong type a 400 naming the field, never stored.

use nanoclaw_core::chat::ConversationPatch;
use nanoclaw_core::chat::limits::TITLE_MAX;
use serde_json::{Map, Value};

use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;

/// Longest system prompt (characters).
pub const SYSTEM_PROMPT_MAX: usize = 100_000;
/// Largest `max_tokens` a conversation may ask for.
pub const MAX_TOKENS_MAX: i64 = 1_048_576;
/// Most attachments on one message.
pub const ATTACHMENTS_MAX: usize = 50;
/// Longest attachment name (characters).
pub const ATTACHMENT_NAME_MAX: usize = 255;

/// Reads the fields a create or patch body may set (`project_id: Some(None)` unbinds); every
/// field is checked against its type and limits.
pub fn conversation_fields(body: &JsonObject) -> ApiResult<ConversationPatch> {
    let title = body
        .str_field("title")?
        .map(|t| {
            if t.chars().count() > TITLE_MAX {
                Err(AppError::bad_request(format!(
                    "Field 'title' must be at most {TITLE_MAX} characters"
                )))
            } else {
                Ok(t.to_owned())
            }
        })
        .transpose()?;
    let model = body.str_field("model")?.map(str::to_owned);
    let system_prompt = match body.nullable_str_field("system_prompt")? {
        Some(Some(p)) if p.chars().count() > SYSTEM_PROMPT_MAX => {
            return Err(AppError::bad_request(format!(
                "Field 'system_prompt' must be at most {SYSTEM_PROMPT_MAX} characters"
            )));
        }
        Some(p) => Some(p.unwrap_or_default().to_owned()),
        None => None,
    };
    let temperature = match body.0.get("temperature") {
        None => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(t) if (0.0..=2.0).contains(&t) => Some(t),
            _ => return Err(range("temperature", "a number from 0 to 2")),
        },
        Some(_) => return Err(range("temperature", "a number from 0 to 2")),
    };
    let max_tokens = match body.0.get("max_tokens") {
        None => None,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=MAX_TOKENS_MAX).contains(&n) => Some(n),
            _ => {
                return Err(range(
                    "max_tokens",
                    &format!("a whole number from 1 to {MAX_TOKENS_MAX}"),
                ));
            }
        },
    };
    let thinking_enabled = bool_field(&body.0, "thinking_enabled")?;
    let project_id = project_field(&body.0)?;
    Ok(ConversationPatch {
        title,
        model,
        system_prompt,
        temperature,
        max_tokens,
        thinking_enabled,
        project_id,
    })
}

/// One attached text file of a user message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attachment {
    /// File name shown and used as the code fence label.
    pub name: String,
    /// Extension (for the front end's icon).
    pub extension: String,
    /// The file's text.
    pub content: String,
}

/// `POST /api/conversations/:id/messages` body.
#[derive(Debug, Clone, PartialEq)]
pub struct SendInput {
    /// Trimmed text.
    pub text: String,
    /// Attached files.
    pub attachments: Vec<Attachment>,
    /// Offer tools to the model (default true).
    pub tools_enabled: bool,
    /// Workspace for file tools, when given (checked for ownership by the service).
    pub project_id: Option<String>,
}

impl SendInput {
    /// Reads and checks a send body (spec api.md §5.2).
    pub fn parse(body: &JsonObject) -> ApiResult<Self> {
        let text = match body.0.get("text") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(_) => return Err(AppError::bad_request("Field 'text' must be a string")),
        };
        let attachments = attachments(&body.0)?;
        if text.is_empty() && attachments.is_empty() {
            return Err(AppError::bad_request("text or attachments is required"));
        }
        let RegenerateInput {
            tools_enabled,
            project_id,
        } = RegenerateInput::parse(body)?;
        Ok(Self {
            text,
            attachments,
            tools_enabled,
            project_id,
        })
    }
}

/// `POST /api/conversations/:id/regenerate/:message_id` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegenerateInput {
    /// Offer tools to the model (default true).
    pub tools_enabled: bool,
    /// Workspace for file tools, when given.
    pub project_id: Option<String>,
}

impl RegenerateInput {
    /// Reads `tools_enabled` and `project_id` (`stream` is accepted and ignored).
    pub fn parse(body: &JsonObject) -> ApiResult<Self> {
        Ok(Self {
            tools_enabled: bool_field(&body.0, "tools_enabled")?.unwrap_or(true),
            project_id: project_field(&body.0)?.flatten(),
        })
    }
}

fn range(name: &str, what: &str) -> AppError {
    AppError::bad_request(format!("Field '{name}' must be {what}"))
}

fn bool_field(body: &Map<String, Value>, name: &str) -> ApiResult<Option<bool>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(range(name, "a boolean")),
    }
}

/// `project_id`: absent → `None`; `null` or `""` → `Some(None)`; a string → `Some(Some(id))`.
fn project_field(body: &Map<String, Value>) -> ApiResult<Option<Option<String>>> {
    match body.get("project_id") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
        Some(Value::String(s)) if s.len() <= 64 => Ok(Some(Some(s.clone()))),
        Some(_) => Err(range("project_id", "a project id or null")),
    }
}

fn attachments(body: &Map<String, Value>) -> ApiResult<Vec<Attachment>> {
    let list = match body.get("attachments") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(AppError::bad_request(
                "Field 'attachments' must be a list of {name, extension, content} objects",
            ));
        }
    };
    if list.len() > ATTACHMENTS_MAX {
        return Err(AppError::bad_request(format!(
            "At most {ATTACHMENTS_MAX} attachments per message"
        )));
    }
    list.iter()
        .map(|item| {
            let bad = || {
                AppError::bad_request(
                    "Field 'attachments' must be a list of {name, extension, content} objects",
                )
            };
            let Value::Object(file) = item else {
                return Err(bad());
            };
            let text = |key: &str| match file.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(bad()),
            };
            let name = text("name")?;
            if name.chars().count() > ATTACHMENT_NAME_MAX || name.chars().any(char::is_control) {
                return Err(AppError::bad_request(format!(
                    "Attachment names must be at most {ATTACHMENT_NAME_MAX} printable characters"
                )));
            }
            Ok(Attachment {
                extension: text("extension")?,
                content: text("content")?,
                name,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> JsonObject {
        JsonObject::parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn conversation_fields_are_typed_and_bounded() {
        let f = conversation_fields(&body(json!({
            "title": "新对话", "model": "m", "temperature": 0.7, "max_tokens": 4096,
            "thinking_enabled": true, "project_id": null, "system_prompt": null
        })))
        .unwrap();
        assert_eq!(f.title.as_deref(), Some("新对话"));
        assert_eq!(f.project_id, Some(None));
        assert_eq!(f.system_prompt.as_deref(), Some(""));
        for bad in [
            json!({"temperature": "0.5"}),
            json!({"temperature": 2.5}),
            json!({"max_tokens": 0}),
            json!({"max_tokens": 1.5}),
            json!({"max_tokens": "100"}),
            json!({"thinking_enabled": "yes"}),
            json!({"title": 5}),
            json!({"title": "x".repeat(256)}),
            json!({"project_id": 7}),
            json!({"model": ["a"]}),
        ] {
            assert!(conversation_fields(&body(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn send_needs_text_or_attachments_of_the_right_shape() {
        let s = SendInput::parse(&body(json!({"text": "  hi  ", "stream": true}))).unwrap();
        assert_eq!((s.text.as_str(), s.tools_enabled), ("hi", true));
        let a = SendInput::parse(&body(json!({
            "attachments": [{"name": "a.py", "extension": "py", "content": "print(1)"}],
            "tools_enabled": false, "project_id": ""
        })))
        .unwrap();
        assert_eq!(a.attachments.len(), 1);
        assert_eq!((a.tools_enabled, a.project_id), (false, None));
        for bad in [
            json!({}),
            json!({"text": "   "}),
            json!({"text": 5}),
            json!({"text": "x", "attachments": "a.py"}),
            json!({"text": "x", "attachments": [1]}),
            json!({"text": "x", "attachments": [{"name": 1}]}),
            json!({"text": "x", "tools_enabled": "no"}),
        ] {
            assert!(SendInput::parse(&body(bad.clone())).is_err(), "{bad}");
        }
    }
}
