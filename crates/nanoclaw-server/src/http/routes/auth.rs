//! `/api/auth/*`: login, register, mode (public); profile, sessions, refresh, logout, API keys.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Serialize;
use serde_json::{Value, json};

use crate::accounts::Session;
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;
use crate::http::envelope::{Data, Message};
use crate::http::extract::{Client, CurrentUser};
use crate::http::views::{ApiKeyView, SessionView, UserView};
use crate::state::AppState;

/// Auth bodies are tiny; anything bigger than this is refused with 413.
const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// The auth routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/register", post(register))
        .route("/api/auth/mode", get(mode))
        .route("/api/auth/reset-password", post(reset_password))
        .route("/api/auth/profile", get(profile).patch(update_profile))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/sessions", get(sessions))
        .route("/api/auth/sessions/{id}", delete(end_session))
        .route("/api/auth/api-keys", get(api_keys).post(create_api_key))
        .route("/api/auth/api-keys/{id}", delete(delete_api_key))
        .layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT))
}

#[derive(Serialize)]
struct TokenView<'a> {
    token: &'a str,
    user: UserView<'a>,
}

fn session_reply(s: &Session) -> Response {
    Data(TokenView {
        token: &s.token,
        user: UserView::from(&s.user),
    })
    .into_response()
}

async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonObject,
) -> ApiResult<Response> {
    Ok(session_reply(&state.accounts.login(&body, &client).await?))
}

async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonObject,
) -> ApiResult<Response> {
    Ok(session_reply(
        &state.accounts.register(&body, &client).await?,
    ))
}

async fn mode(State(state): State<AppState>) -> Data<Value> {
    Data(json!({ "mode": state.accounts.mode().as_str() }))
}

async fn reset_password(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonObject,
) -> ApiResult<Message> {
    state.accounts.reset_password(&body, &client).await?;
    Ok(Message("Password has been reset"))
}

async fn profile(CurrentUser(caller): CurrentUser) -> Response {
    Data(UserView::from(&caller.user)).into_response()
}

async fn update_profile(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    body: JsonObject,
) -> ApiResult<Response> {
    let updated = state
        .accounts
        .update_profile(&caller, &body, &client)
        .await?;
    Ok(Data(UserView::from(&updated)).into_response())
}

async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
) -> ApiResult<Response> {
    Ok(session_reply(
        &state.accounts.refresh(&caller, &client).await?,
    ))
}

async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    body: JsonObject,
) -> ApiResult<Message> {
    let all = match body.0.get("all") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(AppError::bad_request("Field 'all' must be a boolean")),
    };
    state.accounts.logout(&caller, all, &client).await?;
    Ok(Message("Logged out"))
}

async fn sessions(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
) -> ApiResult<Response> {
    let list = state.accounts.sessions(&caller).await?;
    let current = caller.session_id();
    let views: Vec<SessionView<'_>> = list.iter().map(|s| SessionView::new(s, current)).collect();
    Ok(Data(views).into_response())
}

async fn end_session(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Message> {
    state.accounts.end_session(&caller, &id, &client).await?;
    Ok(Message("Session ended"))
}

async fn api_keys(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
) -> ApiResult<Response> {
    let keys = state.accounts.api_keys(&caller).await?;
    let views: Vec<ApiKeyView<'_>> = keys.iter().map(|k| ApiKeyView::new(k, None)).collect();
    Ok(Data(views).into_response())
}

async fn create_api_key(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    body: JsonObject,
) -> ApiResult<Response> {
    let created = state
        .accounts
        .create_api_key(&caller, &body, &client)
        .await?;
    Ok(Data(ApiKeyView::new(&created.key, Some(&created.secret))).into_response())
}

async fn delete_api_key(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Message> {
    state.accounts.delete_api_key(&caller, &id, &client).await?;
    Ok(Message("deleted"))
}
