//! The request side: where to send it and what to send.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeMap;

/// One configured model: the provider's model name, its endpoint and key (already expanded).
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Sent upstream as `model`.
    pub model: String,
    /// The full chat-completions URL.
    pub api_url: String,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: String,
    /// Ask for a usage chunk with `stream_options.include_usage` (most OpenAI-compatibles accept it).
    pub include_usage: bool,
}

impl Endpoint {
    /// The host of `api_url`, the only part of it that may be logged.
    pub fn host(&self) -> String {
        host_of(&self.api_url)
    }
}

/// Only the host of a URL: the path or query may carry a key.
pub(crate) fn host_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.host_str().unwrap_or("?").to_owned(),
        Err(_) => "<invalid url>".to_owned(),
    }
}

impl fmt::Debug for Endpoint {
    // Never the key nor the full URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("model", &self.model)
            .field("host", &self.host())
            .field("api_key", &"[redacted]")
            .field("include_usage", &self.include_usage)
            .finish()
    }
}

/// The provider family, which decides the request adjustments of chat.md §3.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// URL contains `deepseek`.
    DeepSeek,
    /// URL contains `bigmodel` (Zhipu).
    Glm,
    /// Anything else: a generic OpenAI-compatible server.
    OpenAi,
}

impl Provider {
    /// Detects the provider from the (expanded) URL by substring, `deepseek` before `bigmodel`.
    ///
    /// Case-insensitive, unlike the original: host names are, and `api.DeepSeek.com` is DeepSeek.
    pub fn detect(api_url: &str) -> Provider {
        let url = api_url.to_ascii_lowercase();
        if url.contains("deepseek") {
            Provider::DeepSeek
        } else if url.contains("bigmodel") {
            Provider::Glm
        } else {
            Provider::OpenAi
        }
    }

    /// The name used in messages: `deepseek`, `glm` or `openai`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::DeepSeek => "deepseek",
            Provider::Glm => "glm",
            Provider::OpenAi => "openai",
        }
    }

    /// The provider's `max_tokens` ceiling, if it has one.
    pub fn max_tokens_cap(self) -> Option<u32> {
        match self {
            Provider::DeepSeek => Some(8192),
            Provider::Glm => Some(65536),
            Provider::OpenAi => None,
        }
    }

    /// Whether the `thinking: {"type":"enabled"}` switch exists for this provider.
    pub fn supports_thinking(self) -> bool {
        !matches!(self, Provider::OpenAi)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tool offered to the model (`{"type":"function","function":{…}}` on the wire).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// Function name.
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

impl Serialize for ToolSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        /// The `function` object, borrowed (every round sends every tool: no copies).
        struct Function<'a>(&'a ToolSpec);
        impl Serialize for Function<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut f = s.serialize_struct("function", 3)?;
                f.serialize_field("name", &self.0.name)?;
                f.serialize_field("description", &self.0.description)?;
                f.serialize_field("parameters", &self.0.parameters)?;
                f.end()
            }
        }
        let mut tool = s.serialize_struct("tool", 2)?;
        tool.serialize_field("type", "function")?;
        tool.serialize_field("function", &Function(self))?;
        tool.end()
    }
}

/// A complete tool call the model asked for, as replayed in the assistant message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's call id, echoed in the tool message.
    pub id: String,
    /// Function name.
    pub name: String,
    /// The raw JSON arguments text (empty is sent as `{}`).
    pub arguments: String,
}

impl Serialize for ToolCall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Providers reject an empty arguments string in history; `{}` means the same (tools.md §2.2).
        let arguments = if self.arguments.trim().is_empty() {
            "{}"
        } else {
            self.arguments.as_str()
        };
        serde_json::json!({
            "id": self.id,
            "type": "function",
            "function": { "name": self.name, "arguments": arguments },
        })
        .serialize(s)
    }
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The system prompt.
    System {
        /// Text.
        content: String,
    },
    /// A user turn (attachments already flattened in).
    User {
        /// Text.
        content: String,
    },
    /// An assistant turn; `tool_calls` only within the agent loop.
    Assistant {
        /// Text, possibly empty.
        content: String,
        /// Calls the model made in this round.
        tool_calls: Vec<ToolCall>,
    },
    /// A tool result fed back to the model.
    Tool {
        /// The id of the call this answers.
        tool_call_id: String,
        /// The tool's name.
        name: String,
        /// The result text (JSON).
        content: String,
    },
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Message {
        Message::System {
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Message {
        Message::User {
            content: content.into(),
        }
    }

    /// An assistant message without tool calls.
    pub fn assistant(content: impl Into<String>) -> Message {
        Message::Assistant {
            content: content.into(),
            tool_calls: Vec::new(),
        }
    }
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self {
            Message::System { content } => {
                map.serialize_entry("role", "system")?;
                map.serialize_entry("content", content)?;
            }
            Message::User { content } => {
                map.serialize_entry("role", "user")?;
                map.serialize_entry("content", content)?;
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                map.serialize_entry("role", "assistant")?;
                map.serialize_entry("content", content)?;
                if !tool_calls.is_empty() {
                    map.serialize_entry("tool_calls", tool_calls)?;
                }
            }
            Message::Tool {
                tool_call_id,
                name,
                content,
            } => {
                map.serialize_entry("role", "tool")?;
                map.serialize_entry("tool_call_id", tool_call_id)?;
                map.serialize_entry("name", name)?;
                map.serialize_entry("content", content)?;
            }
        }
        map.end()
    }
}

/// One round's request, before the provider adjustments.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// History plus the loop's messages.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    pub temperature: f64,
    /// Requested ceiling; capped per provider.
    pub max_tokens: u32,
    /// Ask for reasoning (DeepSeek, GLM only).
    pub thinking: bool,
    /// Tools offered this round; none → no `tools`/`tool_choice` keys. Shared: every answer
    /// of a server offers the same few lists, and a stream holds its request while it runs.
    pub tools: Arc<[ToolSpec]>,
    /// Stream the answer (main chat) or not (sub-agents).
    pub stream: bool,
}
