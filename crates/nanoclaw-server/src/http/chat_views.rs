//! JSON forms of conversations, messages and token statistics (spec api.md §2.2, §2.4, §9).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use nanoclaw_core::chat::{Conversation, Message, Page, StatsPeriod, TokenCounts, TokenStats};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use utoipa::ToSchema;

/// Conversation and message timestamps: `YYYY-MM-DDTHH:MM:SSZ`, as nanoClaw writes them.
fn seconds(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

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
    #[schema(format = DateTime, examples("2026-11-27T02:41:25Z"))]
    created_at: String,
    #[schema(format = DateTime, examples("2026-11-27T02:41:25Z"))]
    updated_at: String,
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
            created_at: seconds(&c.created_at),
            updated_at: seconds(&c.updated_at),
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
    #[schema(format = DateTime, examples("2026-11-27T02:41:25Z"))]
    created_at: String,
    /// `content.text`, or the raw content when it is not a JSON object.
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    attachments: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    tool_calls: Option<Value>,
    /// The stored steps (thinking, text, tool calls and results), as streamed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    process_steps: Option<Value>,
    /// True when the answer stopped before the model finished (client gone, failure).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
}

impl<'a> From<&'a Message> for MessageView<'a> {
    fn from(m: &'a Message) -> Self {
        let parsed = serde_json::from_str::<Value>(&m.content).ok();
        let object = parsed.as_ref().and_then(Value::as_object);
        let non_empty_list = |key: &str| {
            object
                .and_then(|o| o.get(key))
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                .cloned()
        };
        let text = match object {
            Some(o) => o
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            None => m.content.clone(),
        };
        Self {
            id: &m.id,
            conversation_id: &m.conversation_id,
            role: &m.role,
            content: &m.content,
            token_count: m.token_count,
            created_at: seconds(&m.created_at),
            text,
            attachments: non_empty_list("attachments"),
            tool_calls: non_empty_list("tool_calls"),
            process_steps: non_empty_list("steps"),
            interrupted: object
                .and_then(|o| o.get("interrupted"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
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
