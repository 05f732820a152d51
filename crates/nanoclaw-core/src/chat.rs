//! Conversations, messages and token statistics as the rest of the program sees them.
//!
//! Timestamps are naive UTC, as nanoClaw stores them.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

/// Column sizes and defaults of nanoClaw's chat tables.
pub mod limits {
    /// `conversations.title` is varchar(255).
    pub const TITLE_MAX: usize = 255;
    /// `conversations.model` is varchar(64).
    pub const MODEL_MAX: usize = 64;
    /// Default `conversations.max_tokens`.
    pub const DEFAULT_MAX_TOKENS: i64 = 65536;
    /// Default `conversations.temperature`.
    pub const DEFAULT_TEMPERATURE: f64 = 1.0;
    /// The most items one page of a list holds.
    pub const PAGE_MAX: u64 = 100;
}

/// The title the frontend gives new conversations; treated like an empty one for auto-titling.
pub const NEW_CHAT_TITLE: &str = "新对话";

/// Message roles.
pub mod role {
    /// The person chatting.
    pub const USER: &str = "user";
    /// The model's answer.
    pub const ASSISTANT: &str = "assistant";
    /// Allowed by the schema; never written, never sent to the model as history.
    pub const TOOL: &str = "tool";
    /// Allowed by the schema; never written.
    pub const SYSTEM: &str = "system";
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// UUID v4.
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// Bound project, if any.
    pub project_id: Option<String>,
    /// Name of the bound project when that project exists.
    pub project_name: Option<String>,
    /// Title (`""` or [`NEW_CHAT_TITLE`] until the first answer suggests one).
    pub title: String,
    /// Model id.
    pub model: String,
    /// System prompt (`None` or `""` = none).
    pub system_prompt: Option<String>,
    /// Sampling temperature.
    pub temperature: f64,
    /// Cap on the answer's tokens.
    pub max_tokens: i64,
    /// Ask the model to think.
    pub thinking_enabled: bool,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change of the conversation row itself (not of its messages).
    pub updated_at: NaiveDateTime,
    /// Number of messages; only filled by the list.
    pub message_count: Option<i64>,
}

/// A conversation to create (already validated).
#[derive(Debug, Clone, PartialEq)]
pub struct NewConversation {
    /// Owner.
    pub user_id: i64,
    /// Project of the owner to bind it to.
    pub project_id: Option<String>,
    /// Title.
    pub title: String,
    /// Model id.
    pub model: String,
    /// System prompt.
    pub system_prompt: String,
    /// Sampling temperature.
    pub temperature: f64,
    /// Cap on the answer's tokens.
    pub max_tokens: i64,
    /// Ask the model to think.
    pub thinking_enabled: bool,
}

/// Changes to a conversation; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationPatch {
    /// New title.
    pub title: Option<String>,
    /// New model id.
    pub model: Option<String>,
    /// New system prompt.
    pub system_prompt: Option<String>,
    /// New temperature.
    pub temperature: Option<f64>,
    /// New answer cap.
    pub max_tokens: Option<i64>,
    /// Thinking on or off.
    pub thinking_enabled: Option<bool>,
    /// `Some(Some(id))` binds to a project of the owner (checked by the caller), `Some(None)`
    /// unbinds.
    pub project_id: Option<Option<String>>,
}

impl ConversationPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// UUID v4.
    pub id: String,
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// One of [`role`].
    pub role: String,
    /// The raw stored JSON document (api.md §2.3).
    pub content: String,
    /// Assistant: completion tokens of the whole turn; otherwise 0.
    pub token_count: i64,
    /// Creation time; with `id` it orders the conversation.
    pub created_at: NaiveDateTime,
}

/// One page of a cursor-paginated list (api.md §3).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the order the endpoint shows them.
    pub items: Vec<T>,
    /// Cursor for the next page (an item's id) when `has_more`.
    pub next_cursor: Option<String>,
    /// Whether a further page exists.
    pub has_more: bool,
}

/// Tokens one answer used, added to the day's `token_usage` row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageDelta {
    /// Prompt tokens (summed over rounds).
    pub prompt: i64,
    /// Completion tokens (summed over rounds).
    pub completion: i64,
}

/// Prompt, completion and total tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Prompt tokens.
    pub prompt: i64,
    /// Completion tokens.
    pub completion: i64,
    /// Their sum as stored (`total_tokens`).
    pub total: i64,
}

impl TokenCounts {
    fn add(&mut self, other: TokenCounts) {
        self.prompt += other.prompt;
        self.completion += other.completion;
        self.total += other.total;
    }
}

/// One `token_usage` row: a user's tokens of one model on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// UTC date.
    pub date: NaiveDate,
    /// Model id.
    pub model: String,
    /// Counters.
    pub tokens: TokenCounts,
}

/// The period of `GET /api/stats/tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsPeriod {
    /// Today (UTC), with an hourly breakdown.
    #[default]
    Daily,
    /// The last 7 days including today.
    Weekly,
    /// The last 30 days including today.
    Monthly,
}

impl StatsPeriod {
    /// Parses `daily`, `weekly` or `monthly`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(Self::Daily),
            "weekly" => Some(Self::Weekly),
            "monthly" => Some(Self::Monthly),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// Days covered, today included.
    pub fn days(self) -> i64 {
        match self {
            Self::Daily => 1,
            Self::Weekly => 7,
            Self::Monthly => 30,
        }
    }

    /// First day of the period ending `today`.
    pub fn start(self, today: NaiveDate) -> NaiveDate {
        today - TimeDelta::days(self.days() - 1)
    }
}

/// The answer of `GET /api/stats/tokens` (api.md §9), before it is shaped as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStats {
    /// The period asked for.
    pub period: StatsPeriod,
    /// First day (for `daily`: today, the `date` key).
    pub start_date: NaiveDate,
    /// Last day (today).
    pub end_date: NaiveDate,
    /// Sums over the period.
    pub totals: TokenCounts,
    /// Sums per model over the period.
    pub by_model: BTreeMap<String, TokenCounts>,
    /// Weekly/monthly: every day of the period, zero-filled; empty for `daily`.
    pub daily: BTreeMap<NaiveDate, TokenCounts>,
    /// Daily: completion tokens of today's assistant messages per UTC hour (0–23), only hours
    /// that have any; empty otherwise.
    pub hourly: BTreeMap<u32, i64>,
}

impl TokenStats {
    /// Aggregates the usage rows of a period ending `today` (rows outside it are ignored) and,
    /// for `daily`, the per-hour completion tokens.
    pub fn aggregate(
        period: StatsPeriod,
        today: NaiveDate,
        rows: &[UsageRow],
        hourly: BTreeMap<u32, i64>,
    ) -> Self {
        let start_date = period.start(today);
        let mut stats = Self {
            period,
            start_date,
            end_date: today,
            totals: TokenCounts::default(),
            by_model: BTreeMap::new(),
            daily: BTreeMap::new(),
            hourly: BTreeMap::new(),
        };
        if period == StatsPeriod::Daily {
            stats.hourly = hourly;
        } else {
            stats.daily = start_date
                .iter_days()
                .take_while(|d| *d <= today)
                .map(|d| (d, TokenCounts::default()))
                .collect();
        }
        for row in rows
            .iter()
            .filter(|r| r.date >= start_date && r.date <= today)
        {
            stats.totals.add(row.tokens);
            stats
                .by_model
                .entry(row.model.clone())
                .or_default()
                .add(row.tokens);
            if let Some(day) = stats.daily.get_mut(&row.date) {
                day.add(row.tokens);
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn row(date: &str, model: &str, prompt: i64, completion: i64) -> UsageRow {
        UsageRow {
            date: day(date),
            model: model.into(),
            tokens: TokenCounts {
                prompt,
                completion,
                total: prompt + completion,
            },
        }
    }

    #[test]
    fn periods_cover_today_and_the_days_before() {
        let today = day("2026-11-27");
        assert_eq!(StatsPeriod::Daily.start(today), today);
        assert_eq!(StatsPeriod::Weekly.start(today), day("2026-11-21"));
        assert_eq!(StatsPeriod::Monthly.start(today), day("2026-10-29"));
        assert_eq!(StatsPeriod::parse("weekly"), Some(StatsPeriod::Weekly));
        assert_eq!(StatsPeriod::parse("yearly"), None);
    }

    #[test]
    fn weekly_is_zero_filled_and_sums_per_model() {
        let today = day("2026-11-27");
        let rows = [
            row("2026-11-20", "a", 1000, 1000), // before the week
            row("2026-11-21", "a", 10, 1),
            row("2026-11-27", "a", 20, 2),
            row("2026-11-27", "b", 30, 3),
        ];
        let s = TokenStats::aggregate(StatsPeriod::Weekly, today, &rows, BTreeMap::new());
        assert_eq!(s.daily.len(), 7);
        assert_eq!(s.daily[&day("2026-11-22")], TokenCounts::default());
        assert_eq!(
            s.daily[&day("2026-11-27")],
            TokenCounts {
                prompt: 50,
                completion: 5,
                total: 55
            }
        );
        assert_eq!(
            s.totals,
            TokenCounts {
                prompt: 60,
                completion: 6,
                total: 66
            }
        );
        assert_eq!(s.by_model["a"].total, 33);
        assert_eq!(s.by_model["b"].total, 33);
        assert!(s.hourly.is_empty());
    }

    #[test]
    fn daily_keeps_only_today_and_the_hours() {
        let today = day("2026-11-27");
        let rows = [row("2026-11-26", "a", 5, 5), row("2026-11-27", "a", 30, 11)];
        let s = TokenStats::aggregate(StatsPeriod::Daily, today, &rows, BTreeMap::from([(2, 11)]));
        assert_eq!(s.totals.total, 41);
        assert!(s.daily.is_empty());
        assert_eq!(s.hourly, BTreeMap::from([(2, 11)]));
    }
}
