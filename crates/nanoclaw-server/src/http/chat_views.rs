//! JSON forms of conversations, messages and token statistics (spec api.md §2.2, §2.4, §9).

use std::borrow::Cow;
use std::collections::BTreeMap;

use nanoclaw_core::chat::{Conversation, Message, Page, StatsPeriod, TokenCounts, TokenStats};
use nanoclaw_core::time::Rfc3339Seconds;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// A conversation; keys whose value is null are omitted, as in nanoClaw.
#[derive(Serialize, ToSchema)]
pub struct ConversationView<'a> {
    id: &'a str,
    user_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_name: Option<&'a str>,
    title: &'a str,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_prompt: Option<&'a str>,
    temperature: f64,
    max_tokens: i64,
    thinking_enabled: bool,
    #[schema(value_type = String, format = DateTime, examples("2026-11-27T02:41:25Z"))]
    created_at: Rfc3339Seconds,
    #[schema(value_type = String, format = DateTime, examples("2026-11-27T02:41:25Z"))]
    updated_at: Rfc3339Seconds,
    /// Only in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    message_count: Option<i64>,
}

impl<'a> From<&'a Conversation> for ConversationView<'a> {
    fn from(c: &'a Conversation) -> Self {
        Self {
            id: &c.id,
            user_id: c.user_id,
            project_id: c.project_id.as_deref(),
            project_name: c.project_name.as_deref(),
            title: &c.title,
            model: &c.model,
            system_prompt: c.system_prompt.as_deref(),
            temperature: c.temperature,
            max_tokens: c.max_tokens,
            thinking_enabled: c.thinking_enabled,
            created_at: Rfc3339Seconds::new(&c.created_at),
            updated_at: Rfc3339Seconds::new(&c.updated_at),
            message_count: c.message_count,
        }
    }
}

/// A message: the stored row plus what the front end reads out of its `content`.
#[derive(Serialize, ToSchema)]
pub struct MessageView<'a> {
    id: &'a str,
    conversation_id: &'a str,
    /// `user` or `assistant`.
    role: &'a str,
    /// The stored JSON document, as a string.
    content: &'a str,
    token_count: i64,
    #[schema(value_type = String, format = DateTime, examples("2026-11-27T02:41:25Z"))]
    created_at: Rfc3339Seconds,
    /// `content.text`, or the raw content when it is not a JSON object.
    #[schema(value_type = String)]
    text: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    attachments: Option<Cow<'a, RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    tool_calls: Option<Cow<'a, RawValue>>,
    /// The stored steps (thinking, text, tool calls and results), as streamed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    process_steps: Option<Cow<'a, RawValue>>,
    /// True when the answer stopped before the model finished (client gone, failure).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
}

/// The keys of a message's `content` that its view shows, each as the JSON text it is.
#[derive(Deserialize)]
struct ContentParts<'a> {
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(borrow)]
    attachments: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_calls: Option<&'a RawValue>,
    #[serde(borrow)]
    steps: Option<&'a RawValue>,
    #[serde(borrow)]
    interrupted: Option<&'a RawValue>,
}

/// A list shown only when it is a non-empty array.
fn non_empty_list(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| {
        r.get()
            .strip_prefix('[')
            .is_some_and(|rest| !rest.trim_start().starts_with(']'))
    })
}

impl<'a> From<&'a Message> for MessageView<'a> {
    fn from(m: &'a Message) -> Self {
        let mut view = Self {
            id: &m.id,
            conversation_id: &m.conversation_id,
            role: &m.role,
            content: &m.content,
            token_count: m.token_count,
            created_at: Rfc3339Seconds::new(&m.created_at),
            text: Cow::Borrowed(&m.content),
            attachments: None,
            tool_calls: None,
            process_steps: None,
            interrupted: false,
        };
        // Not an object: the text is the raw content. (Checked first: a struct would also
        // take an array of five elements, field by field.)
        if !m.content.trim_start().starts_with('{') {
            return view;
        }
        // The lists are checked as JSON and copied as they are written. Only the keys read
        // here are decoded, so unlike a whole tree this does not refuse a document for a
        // lone surrogate escape or an out-of-range number somewhere else in it.
        let parts = match serde_json::from_str::<ContentParts<'a>>(&m.content) {
            Ok(parts) => parts,
            // Not JSON (the text is the raw content), or an object naming a key twice: then,
            // as a JSON tree would, the last one counts.
            Err(_) => match serde_json::from_str::<serde_json::Map<String, Value>>(&m.content) {
                Ok(object) => return view.with_object(&object),
                Err(_) => return view,
            },
        };
        view.text = Cow::Owned(
            parts
                .text
                .and_then(|t| serde_json::from_str::<String>(t.get()).ok())
                .unwrap_or_default(),
        );
        view.attachments = non_empty_list(parts.attachments).map(Cow::Borrowed);
        view.tool_calls = non_empty_list(parts.tool_calls).map(Cow::Borrowed);
        view.process_steps = non_empty_list(parts.steps).map(Cow::Borrowed);
        view.interrupted = parts
            .interrupted
            .and_then(|i| serde_json::from_str::<bool>(i.get()).ok())
            .unwrap_or(false);
        view
    }
}

impl MessageView<'_> {
    /// The view's content fields read from a JSON object already parsed.
    fn with_object(mut self, object: &serde_json::Map<String, Value>) -> Self {
        let list = |key: &str| {
            object
                .get(key)
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                .and_then(|v| serde_json::value::to_raw_value(v).ok())
                .map(Cow::Owned)
        };
        self.text = Cow::Owned(
            object
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
        self.attachments = list("attachments");
        self.tool_calls = list("tool_calls");
        self.process_steps = list("steps");
        self.interrupted = object
            .get("interrupted")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self
    }
}

/// A page of a cursor-paginated list.
#[derive(Serialize, ToSchema)]
pub struct ChatPageView<T> {
    items: Vec<T>,
    /// The id to pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
    has_more: bool,
}

impl<T> ChatPageView<T> {
    /// The page of `page` with its items shown as `view`.
    pub fn new<'a, S>(page: &'a Page<S>, view: impl Fn(&'a S) -> T) -> Self {
        Self {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor.clone(),
            has_more: page.has_more,
        }
    }
}

/// `GET /api/stats/tokens` (api.md §9): `daily` has `date` and `hourly`; `weekly` and
/// `monthly` have `start_date`, `end_date` and `daily`.
#[derive(ToSchema)]
#[allow(dead_code)] // describes StatsView's JSON
pub struct StatsSchema {
    #[schema(pattern = "^(daily|weekly|monthly)$")]
    period: String,
    /// `daily` only: today.
    date: Option<String>,
    /// `weekly`/`monthly` only.
    start_date: Option<String>,
    /// `weekly`/`monthly` only.
    end_date: Option<String>,
    prompt_tokens: i64,
    completion_tokens: i64,
    total_tokens: i64,
    /// `daily` only: `{"<UTC hour>": {"total": n}}`.
    #[schema(value_type = Option<Object>)]
    hourly: Option<()>,
    /// `weekly`/`monthly` only: `{"YYYY-MM-DD": {"prompt", "completion", "total"}}`, every day.
    #[schema(value_type = Option<Object>)]
    daily: Option<()>,
    /// `{"<model>": {"prompt", "completion", "total"}}`.
    #[schema(value_type = Object)]
    by_model: (),
}

/// Token statistics as JSON.
pub struct StatsView<'a>(pub &'a TokenStats);

#[derive(Serialize)]
struct Counts {
    prompt: i64,
    completion: i64,
    total: i64,
}

impl From<&TokenCounts> for Counts {
    fn from(c: &TokenCounts) -> Self {
        Self {
            prompt: c.prompt,
            completion: c.completion,
            total: c.total,
        }
    }
}

impl Serialize for StatsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let stats = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("period", stats.period.as_str())?;
        let day = |d: &chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
        if stats.period == StatsPeriod::Daily {
            map.serialize_entry("date", &day(&stats.end_date))?;
        } else {
            map.serialize_entry("start_date", &day(&stats.start_date))?;
            map.serialize_entry("end_date", &day(&stats.end_date))?;
        }
        map.serialize_entry("prompt_tokens", &stats.totals.prompt)?;
        map.serialize_entry("completion_tokens", &stats.totals.completion)?;
        map.serialize_entry("total_tokens", &stats.totals.total)?;
        if stats.period == StatsPeriod::Daily {
            #[derive(Serialize)]
            struct Hour {
                total: i64,
            }
            let hourly: BTreeMap<String, Hour> = stats
                .hourly
                .iter()
                .map(|(h, t)| (h.to_string(), Hour { total: *t }))
                .collect();
            map.serialize_entry("hourly", &hourly)?;
        } else {
            let daily: BTreeMap<String, Counts> = stats
                .daily
                .iter()
                .map(|(d, c)| (day(d), Counts::from(c)))
                .collect();
            map.serialize_entry("daily", &daily)?;
        }
        let by_model: BTreeMap<&str, Counts> = stats
            .by_model
            .iter()
            .map(|(m, c)| (m.as_str(), Counts::from(c)))
            .collect();
        map.serialize_entry("by_model", &by_model)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view_of(content: &str) -> Value {
        let message = Message {
            id: "m1".into(),
            conversation_id: "c1".into(),
            role: "assistant".into(),
            content: content.into(),
            token_count: 3,
            created_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 4)
                .and_then(|d| d.and_hms_micro_opt(10, 11, 12, 999_999))
                .unwrap_or_default(),
        };
        serde_json::to_value(MessageView::from(&message)).unwrap_or_default()
    }

    /// The view's fields read out of `content`: (text, attachments, tool_calls, steps,
    /// interrupted), absent ones as null / false.
    fn parts(view: &Value) -> (Value, Value, Value, Value, Value) {
        (
            view["text"].clone(),
            view["attachments"].clone(),
            view["tool_calls"].clone(),
            view["process_steps"].clone(),
            view.get("interrupted").cloned().unwrap_or(json!(false)),
        )
    }

    #[test]
    fn a_view_shows_what_the_content_holds() {
        let view = view_of(
            r#"{"text":"caf\u00e9 \"quoted\"","steps":[ {"type":"text","content":"x"} ],
                "attachments":[],"tool_calls":null,"interrupted":true,"other":1}"#,
        );
        assert_eq!(view["created_at"], "2026-12-04T10:11:12Z");
        assert_eq!(
            parts(&view),
            (
                json!("café \"quoted\""),
                Value::Null,
                Value::Null,
                json!([{"type":"text","content":"x"}]),
                json!(true)
            )
        );
        assert_eq!(view["id"], "m1");
        assert_eq!(view["token_count"], 3);
    }

    #[test]
    fn odd_contents_are_read_as_a_json_tree_would_read_them() {
        let cases = [
            // Not an object: the text is the raw content.
            ("plain words", (json!("plain words"), false)),
            ("[1,2]", (json!("[1,2]"), false)),
            // Five elements, as many as the keys read: still not an object.
            (
                r#"["a",[1],[2],[3],true]"#,
                (json!(r#"["a",[1],[2],[3],true]"#), false),
            ),
            (r#""a string""#, (json!(r#""a string""#), false)),
            ("{broken", (json!("{broken"), false)),
            // Wrong types: no text, no flag, no lists.
            (
                r#"{"text":5,"interrupted":"yes","steps":{"a":1},"tool_calls":[ ]}"#,
                (json!(""), false),
            ),
            // A key named twice: the last one counts.
            (
                r#"{"text":"first","text":"second","interrupted":false,"interrupted":true}"#,
                (json!("second"), true),
            ),
        ];
        for (content, (text, interrupted)) in cases {
            let view = view_of(content);
            assert_eq!(
                parts(&view),
                (
                    text,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    json!(interrupted)
                ),
                "{content}"
            );
        }
        let twice = view_of(r#"{"steps":[],"steps":[{"type":"text"}]}"#);
        assert_eq!(twice["process_steps"], json!([{"type":"text"}]));
    }
}
