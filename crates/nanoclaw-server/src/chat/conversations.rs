//! Conversations and messages: create, list, read, change, delete. Another user's
//! conversation, message or project is a 404 everywhere, a `project_id` in a body included.

use nanoclaw_core::User;
use nanoclaw_core::chat::limits::{DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE, PAGE_MAX};
use nanoclaw_core::chat::{
    Conversation, Message, NEW_CHAT_TITLE, NewConversation, Page, StatsPeriod, TokenStats,
};
use nanoclaw_core::time::now_utc;
use nanoclaw_store::MessagesPage;

use super::Chat;
use super::input::conversation_fields;
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;

/// Conversations per page unless asked otherwise.
pub const CONVERSATIONS_PAGE: u64 = 20;
/// Messages per page unless asked otherwise.
pub const MESSAGES_PAGE: u64 = 50;

fn not_found() -> AppError {
    AppError::NotFound("conversation not found".into())
}

fn project_not_found() -> AppError {
    AppError::NotFound("Project not found".into())
}

/// Reads `limit` (a whole number, clamped to 1..=100) and `cursor` from a query string.
pub fn page_params(
    limit: Option<&str>,
    cursor: Option<&str>,
    default: u64,
) -> ApiResult<(u64, Option<String>)> {
    let limit = match limit {
        None | Some("") => default,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| AppError::bad_request("Invalid limit: must be a whole number"))?
            .clamp(1, PAGE_MAX as i64) as u64,
    };
    let cursor = cursor.filter(|c| !c.is_empty()).map(str::to_owned);
    Ok((limit, cursor))
}

impl Chat {
    /// `GET /api/conversations`.
    pub async fn list_conversations(
        &self,
        user: &User,
        project_id: Option<&str>,
        cursor: Option<&str>,
        limit: u64,
    ) -> ApiResult<Page<Conversation>> {
        let project_id = project_id.filter(|p| !p.is_empty());
        self.store
            .conversations_page(user.id, project_id, cursor, limit)
            .await?
            .ok_or_else(|| AppError::bad_request("Invalid cursor"))
    }

    /// `POST /api/conversations`.
    pub async fn create_conversation(
        &self,
        user: &User,
        body: &JsonObject,
    ) -> ApiResult<Conversation> {
        let fields = conversation_fields(body)?;
        let model = match fields.model {
            Some(m) => {
                self.known_model(&m)?;
                m
            }
            None => self.default_model(),
        };
        let project_id = self
            .owned_project(user, fields.project_id.flatten())
            .await?;
        let new = NewConversation {
            user_id: user.id,
            project_id,
            title: fields.title.unwrap_or_default(),
            model,
            system_prompt: fields.system_prompt.unwrap_or_default(),
            temperature: fields.temperature.unwrap_or(DEFAULT_TEMPERATURE),
            max_tokens: fields.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            thinking_enabled: fields.thinking_enabled.unwrap_or(false),
        };
        Ok(self.store.create_conversation(new, now_utc()).await?)
    }

    /// `GET /api/conversations/:id`.
    pub async fn conversation(&self, user: &User, id: &str) -> ApiResult<Conversation> {
        self.store
            .conversation(user.id, id)
            .await?
            .ok_or_else(not_found)
    }

    /// `PATCH /api/conversations/:id`: nothing is saved unless every field checks out.
    pub async fn patch_conversation(
        &self,
        user: &User,
        id: &str,
        body: &JsonObject,
    ) -> ApiResult<Conversation> {
        self.conversation(user, id).await?;
        let mut patch = conversation_fields(body)?;
        if let Some(m) = &patch.model {
            self.known_model(m)?;
        }
        if let Some(p) = patch.project_id.take() {
            patch.project_id = Some(self.owned_project(user, p).await?);
        }
        self.store
            .patch_conversation(user.id, id, patch, now_utc())
            .await?
            .ok_or_else(not_found)
    }

    /// `DELETE /api/conversations/:id`, with its messages.
    pub async fn delete_conversation(&self, user: &User, id: &str) -> ApiResult<()> {
        if self.store.delete_conversation(user.id, id).await? {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// `GET /api/conversations/:id/messages`.
    pub async fn list_messages(
        &self,
        user: &User,
        id: &str,
        cursor: Option<&str>,
        limit: u64,
    ) -> ApiResult<Page<Message>> {
        match self.store.messages_page(user.id, id, cursor, limit).await? {
            MessagesPage::Page(page) => Ok(page),
            MessagesPage::NoConversation => Err(not_found()),
            MessagesPage::UnknownCursor => Err(AppError::bad_request("Invalid cursor")),
        }
    }

    /// `DELETE /api/conversations/:id/messages/:message_id`. The front end's optimistic
    /// `temp_…` ids are accepted and ignored.
    pub async fn delete_message(&self, user: &User, id: &str, message_id: &str) -> ApiResult<()> {
        let conversation = self.conversation(user, id).await?;
        if message_id.starts_with("temp_") {
            return Ok(());
        }
        if self
            .store
            .delete_message(&conversation.id, message_id)
            .await?
        {
            Ok(())
        } else {
            Err(AppError::NotFound("message not found".into()))
        }
    }

    /// `GET /api/stats/tokens?period=`.
    pub async fn token_stats(&self, user: &User, period: Option<&str>) -> ApiResult<TokenStats> {
        let period = match period {
            None | Some("") => StatsPeriod::Daily,
            Some(p) => {
                StatsPeriod::parse(p).ok_or_else(|| AppError::bad_request("invalid period"))?
            }
        };
        Ok(self
            .store
            .token_stats(user.id, period, now_utc().date())
            .await?)
    }

    /// 400 unless `id` is a configured model.
    fn known_model(&self, id: &str) -> ApiResult<()> {
        if self.models.iter().any(|m| m.id == id) {
            Ok(())
        } else {
            Err(AppError::bad_request(format!("Unknown model: '{id}'")))
        }
    }

    /// `default_model` when it is configured, else the first model, else "" (no model yet:
    /// sending then says how to add one).
    fn default_model(&self) -> String {
        if self.models.iter().any(|m| m.id == self.default_model) {
            return self.default_model.clone();
        }
        self.models
            .first()
            .map(|m| m.id.clone())
            .unwrap_or_default()
    }

    /// `Some(id)` only when it is a project of `user` (404 otherwise).
    async fn owned_project(&self, user: &User, id: Option<String>) -> ApiResult<Option<String>> {
        match id {
            Some(p) if self.store.project_owned(user.id, &p).await? => Ok(Some(p)),
            Some(_) => Err(project_not_found()),
            None => Ok(None),
        }
    }
}

/// Whether a title counts as "not set yet" (chat.md §8).
pub fn untitled(title: &str) -> bool {
    title.is_empty() || title == NEW_CHAT_TITLE
}
