//! `/api/conversations/*` and `/api/stats/tokens`: conversations, their messages, streamed
//! answers, token statistics. Another user's ids are 404s, as if they did not exist.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::chat::{CONVERSATIONS_PAGE, MESSAGES_PAGE, page_params};
use crate::error::{ApiResult, AppError};
use crate::http::body::{JsonObject, LargeJsonObject};
use crate::http::chat_views::{
    ChatPageView, ConversationView, MessageView, StatsSchema, StatsView,
};
use crate::http::envelope::{Data, Message};
use crate::http::extract::CurrentUser;
use crate::http::openapi::{DataEnvelope, ErrorEnvelope, MessageEnvelope};
use crate::http::path::Path;
use crate::state::AppState;

/// The chat routes (each documented by its `#[utoipa::path]`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(
            get_conversation,
            patch_conversation,
            delete_conversation
        ))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(delete_message))
        .routes(routes!(regenerate))
        .routes(routes!(token_stats))
}

/// Query strings are read as text and checked by hand, so that a bad value is a clear 400.
#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
    project_id: Option<String>,
    period: Option<String>,
}

fn query(
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<ListQuery> {
    q.map(|Query(q)| q)
        .map_err(|_| AppError::bad_request("Invalid query string"))
}

/// `POST /api/conversations` and `PATCH` bodies: any subset of the fields.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only (parsed by chat::input)
struct ConversationBody {
    /// At most 255 characters (`新对话` counts as untitled).
    title: Option<String>,
    /// A configured model id (default: `default_model`).
    model: Option<String>,
    system_prompt: Option<String>,
    /// 0–2 (default 1.0).
    #[schema(minimum = 0, maximum = 2)]
    temperature: Option<f64>,
    /// 1–1,048,576 (default 65,536).
    #[schema(minimum = 1)]
    max_tokens: Option<i64>,
    thinking_enabled: Option<bool>,
    /// A project of the caller; `null` or `""` unbinds.
    #[schema(nullable)]
    project_id: Option<String>,
}

/// `POST /api/conversations/{id}/messages` body.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only (parsed by chat::input)
struct SendBody {
    /// The message (trimmed); required unless there are attachments.
    text: Option<String>,
    /// Text files: `[{name, extension, content}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    attachments: Option<Vec<serde_json::Value>>,
    /// Offer tools to the model (default true).
    tools_enabled: Option<bool>,
    /// Workspace for file tools (a project of the caller; default the conversation's).
    project_id: Option<String>,
    /// Accepted and ignored (answers always stream).
    stream: Option<bool>,
}

/// `POST /api/conversations/{id}/regenerate/{message_id}` body.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct RegenerateBody {
    tools_enabled: Option<bool>,
    project_id: Option<String>,
}

/// The caller's conversations, most recently updated first.
#[utoipa::path(
    get,
    path = "/api/conversations",
    tag = "chat",
    security(("bearer" = [])),
    params(
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1–100 (default 20)"),
        ("project_id" = Option<String>, Query, description = "Only conversations bound to this project"),
    ),
    responses(
        (status = 200, description = "A page of conversations with `message_count`", body = DataEnvelope<ChatPageView<ConversationView>>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ),
)]
async fn list_conversations(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let (limit, cursor) = page_params(q.limit.as_deref(), q.cursor.as_deref(), CONVERSATIONS_PAGE)?;
    let page = state
        .chat
        .list_conversations(
            &caller.user,
            q.project_id.as_deref(),
            cursor.as_deref(),
            limit,
        )
        .await?;
    Ok(Data(ChatPageView::new(&page, ConversationView::from)).into_response())
}

/// Create a conversation.
#[utoipa::path(
    post,
    path = "/api/conversations",
    tag = "chat",
    security(("bearer" = [])),
    request_body = ConversationBody,
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "The conversation", body = DataEnvelope<ConversationView>),
        (status = 400, description = "A field of the wrong type or out of range, or an unknown model", body = ErrorEnvelope),
        (status = 404, description = "`Project not found`", body = ErrorEnvelope),
    ),
)]
async fn create_conversation(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    body: JsonObject,
) -> ApiResult<Response> {
    let created = state.chat.create_conversation(&caller.user, &body).await?;
    Ok(Data(ConversationView::from(&created)).into_response())
}

/// One of the caller's conversations.
#[utoipa::path(
    get,
    path = "/api/conversations/{id}",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "The conversation", body = DataEnvelope<ConversationView>),
        (status = 404, description = "`conversation not found`", body = ErrorEnvelope),
    ),
)]
async fn get_conversation(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let conversation = state.chat.conversation(&caller.user, &id).await?;
    Ok(Data(ConversationView::from(&conversation)).into_response())
}

/// Change a conversation's settings; nothing is saved unless every field checks out.
#[utoipa::path(
    patch,
    path = "/api/conversations/{id}",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    request_body = ConversationBody,
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "The updated conversation", body = DataEnvelope<ConversationView>),
        (status = 400, description = "A field of the wrong type or out of range, or an unknown model", body = ErrorEnvelope),
        (status = 404, description = "`conversation not found` or `Project not found`", body = ErrorEnvelope),
    ),
)]
async fn patch_conversation(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    let updated = state
        .chat
        .patch_conversation(&caller.user, &id, &body)
        .await?;
    Ok(Data(ConversationView::from(&updated)).into_response())
}

/// Delete a conversation and its messages.
#[utoipa::path(
    delete,
    path = "/api/conversations/{id}",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "`deleted`", body = MessageEnvelope),
        (status = 404, description = "`conversation not found`", body = ErrorEnvelope),
    ),
)]
async fn delete_conversation(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Message> {
    state.chat.delete_conversation(&caller.user, &id).await?;
    Ok(Message("deleted"))
}

/// A page of a conversation's messages: the newest first, each page in chronological order;
/// `next_cursor` leads to the older ones.
#[utoipa::path(
    get,
    path = "/api/conversations/{id}/messages",
    tag = "chat",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Conversation id"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page (its oldest message)"),
        ("limit" = Option<u32>, Query, description = "Page size, 1–100 (default 50)"),
    ),
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "A page of messages", body = DataEnvelope<ChatPageView<MessageView>>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorEnvelope),
        (status = 404, description = "`conversation not found`", body = ErrorEnvelope),
    ),
)]
async fn list_messages(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let (limit, cursor) = page_params(q.limit.as_deref(), q.cursor.as_deref(), MESSAGES_PAGE)?;
    let page = state
        .chat
        .list_messages(&caller.user, &id, cursor.as_deref(), limit)
        .await?;
    Ok(Data(ChatPageView::new(&page, MessageView::from)).into_response())
}

/// Send a message and stream the answer as Server-Sent Events (`process_step`… then `done` or
/// `error`). The message is stored before the model is called.
#[utoipa::path(
    post,
    path = "/api/conversations/{id}/messages",
    tag = "chat",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    request_body = SendBody,
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "The answer as an event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "No text or attachments, a wrong type, or a model that cannot be used (unknown, no key, thinking unsupported)", body = ErrorEnvelope),
        (status = 404, description = "`conversation not found` or `Project not found`", body = ErrorEnvelope),
        (status = 409, description = "The conversation is already answering", body = ErrorEnvelope),
        (status = 413, description = "Body over 4 MiB", body = ErrorEnvelope),
    ),
)]
async fn send_message(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    LargeJsonObject(body): LargeJsonObject,
) -> ApiResult<Response> {
    let start = state.chat.prepare_send(caller.user, &id, &body).await?;
    Ok(state.chat.stream(start))
}

/// Delete one message (`temp_…` ids of the front end are accepted and ignored).
#[utoipa::path(
    delete,
    path = "/api/conversations/{id}/messages/{message_id}",
    tag = "chat",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Conversation id"),
        ("message_id" = String, Path, description = "Message id"),
    ),
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "`deleted`", body = MessageEnvelope),
        (status = 404, description = "`conversation not found` or `message not found`", body = ErrorEnvelope),
    ),
)]
async fn delete_message(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Message> {
    state
        .chat
        .delete_message(&caller.user, &id, &message_id)
        .await?;
    Ok(Message("deleted"))
}

/// Answer again: deletes the assistant message and everything after it, then streams a new
/// answer like a send.
#[utoipa::path(
    post,
    path = "/api/conversations/{id}/regenerate/{message_id}",
    tag = "chat",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Conversation id"),
        ("message_id" = String, Path, description = "The assistant message to replace"),
    ),
    request_body = RegenerateBody,
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "The answer as an event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "Not an assistant message, a wrong type, or a model that cannot be used", body = ErrorEnvelope),
        (status = 404, description = "`conversation not found`, `message not found` or `Project not found`", body = ErrorEnvelope),
        (status = 409, description = "The conversation is already answering", body = ErrorEnvelope),
    ),
)]
async fn regenerate(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((id, message_id)): Path<(String, String)>,
    body: JsonObject,
) -> ApiResult<Response> {
    let start = state
        .chat
        .prepare_regenerate(caller.user, &id, &message_id, &body)
        .await?;
    Ok(state.chat.stream(start))
}

/// The caller's token usage today, this week or this month (UTC).
#[utoipa::path(
    get,
    path = "/api/stats/tokens",
    tag = "chat",
    security(("bearer" = [])),
    params(("period" = Option<String>, Query, description = "`daily` (default), `weekly` or `monthly`")),
    responses(
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 200, description = "Totals, per model, and per hour (daily) or per day", body = DataEnvelope<StatsSchema>),
        (status = 400, description = "`invalid period`", body = ErrorEnvelope),
    ),
)]
async fn token_stats(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let stats = state
        .chat
        .token_stats(&caller.user, q.period.as_deref())
        .await?;
    Ok(Data(StatsView(&stats)).into_response())
}
