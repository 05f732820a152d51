//! `/api/auth/*`: login, register, mode (public); profile, sessions, refresh, logout, API keys.

use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Session;
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;
use crate::http::envelope::{Data, Message};
use crate::http::extract::{Client, CurrentUser};
use crate::http::openapi::{DataEnvelope, ErrorEnvelope, MessageEnvelope};
use crate::http::path::Path;
use crate::http::views::{ApiKeyView, SessionView, UserView};
use crate::state::AppState;

/// The auth routes (each documented by its `#[utoipa::path]`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(register))
        .routes(routes!(mode))
        .routes(routes!(reset_password))
        .routes(routes!(profile, update_profile))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(sessions))
        .routes(routes!(end_session))
        .routes(routes!(api_keys, create_api_key))
        .routes(routes!(delete_api_key))
}

/// A session token and its user.
#[derive(Serialize, ToSchema)]
struct TokenView<'a> {
    /// The session JWT, for `Authorization: Bearer`.
    token: &'a str,
    user: UserView<'a>,
}

/// The server's authentication mode.
#[derive(Serialize, ToSchema)]
struct ModeView {
    #[schema(pattern = "^(single|multi)$", examples("multi"))]
    mode: &'static str,
}

/// `POST /api/auth/login` body (parsed by `accounts::input::LoginInput`).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct LoginBody {
    /// Surrounding whitespace is trimmed.
    username: String,
    password: String,
}

/// `POST /api/auth/register` body (parsed by `accounts::input::RegisterInput`).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct RegisterBody {
    /// 2–50 characters, no control characters; trimmed.
    #[schema(min_length = 2, max_length = 50)]
    username: String,
    /// Must pass the configured password policy.
    password: String,
    /// Optional; empty means none.
    #[schema(nullable = false)]
    email: Option<String>,
}

/// `POST /api/auth/reset-password` body.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct ResetPasswordBody {
    /// The single-use token from `POST /api/admin/users/{id}/reset-token`.
    token: String,
    /// Must pass the configured password policy.
    new_password: String,
}

/// `PATCH /api/auth/profile` body: any subset of the fields.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct ProfilePatchBody {
    /// New e-mail; empty clears it.
    #[schema(nullable = false)]
    email: Option<String>,
    /// New avatar (URL or data); empty or `null` clears it.
    #[schema(nullable)]
    avatar: Option<String>,
    /// New password; ends every other session. Not with an API key.
    #[schema(nullable = false)]
    password: Option<String>,
    /// Required with `password` in multi mode when the account has a password.
    #[schema(nullable = false)]
    current_password: Option<String>,
}

/// `POST /api/auth/logout` body (optional).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct LogoutBody {
    /// `true` ends every session and token of the user, not just this one.
    all: Option<bool>,
}

/// `POST /api/auth/api-keys` body.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct CreateApiKeyBody {
    /// A label for the key (printable, trimmed).
    name: String,
    /// Lifetime in days, 1 to 3650; absent or `null` = the server's `api_key_expiry_days`.
    #[schema(minimum = 1, maximum = 3650, nullable)]
    expires_in_days: Option<i64>,
    /// The account's password (required when it has one; accounts without a password need
    /// a session under 10 minutes old instead).
    #[schema(nullable = false)]
    current_password: Option<String>,
}

fn session_reply(s: &Session) -> Response {
    Data(TokenView {
        token: &s.token,
        user: UserView::from(&*s.user),
    })
    .into_response()
}

/// Log in: starts a session. In single mode: a token for `default`, whatever the body says.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in", body = DataEnvelope<TokenView>),
        (status = 400, description = "Missing fields or a wrong JSON type", body = ErrorEnvelope),
        (status = 401, description = "`Invalid username or password`", body = ErrorEnvelope),
        (status = 403, description = "`Account is disabled`", body = ErrorEnvelope),
        (status = 413, description = "Body over 16 KiB", body = ErrorEnvelope),
        (status = 429, description = "Rate limited; see `Retry-After`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Response> {
    let authorization = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    Ok(session_reply(
        &state.accounts.login(&body, &client, authorization).await?,
    ))
}

/// Register an account and start a session; the first account while no admin exists is admin.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 200, description = "Registered and logged in", body = DataEnvelope<TokenView>),
        (status = 400, description = "Invalid input or a weak password", body = ErrorEnvelope),
        (status = 403, description = "Registration closed, or single mode", body = ErrorEnvelope),
        (status = 409, description = "Username or e-mail taken", body = ErrorEnvelope),
        (status = 413, description = "Body over 16 KiB", body = ErrorEnvelope),
        (status = 429, description = "Rate limited; see `Retry-After`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    request: Request,
) -> ApiResult<Response> {
    // Refused before the body is read: in single mode nothing about it matters.
    state.accounts.registration_open()?;
    let body = JsonObject::from_request(request, &state).await?;
    Ok(session_reply(
        &state.accounts.register(&body, &client).await?,
    ))
}

/// The authentication mode, for front ends.
#[utoipa::path(
    get,
    path = "/api/auth/mode",
    tag = "auth",
    responses((status = 200, description = "The mode", body = DataEnvelope<ModeView>)),
)]
async fn mode(State(state): State<AppState>) -> Data<ModeView> {
    Data(ModeView {
        mode: state.accounts.mode().as_str(),
    })
}

/// Set a new password with an admin-issued reset token; ends every session and API key.
#[utoipa::path(
    post,
    path = "/api/auth/reset-password",
    tag = "auth",
    request_body = ResetPasswordBody,
    responses(
        (status = 200, description = "`Password has been reset`", body = MessageEnvelope),
        (status = 400, description = "Missing fields, a weak password, or an invalid or expired token", body = ErrorEnvelope),
        (status = 413, description = "Body over 16 KiB", body = ErrorEnvelope),
        (status = 429, description = "Rate limited; see `Retry-After`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn reset_password(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonObject,
) -> ApiResult<Message> {
    state.accounts.reset_password(&body, &client).await?;
    Ok(Message("Password has been reset"))
}

/// The caller's user object.
#[utoipa::path(
    get,
    path = "/api/auth/profile",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = DataEnvelope<UserView>),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn profile(CurrentUser(caller): CurrentUser) -> Response {
    Data(UserView::from(&*caller.user)).into_response()
}

/// The updated user; after a password change also the caller's fresh token (every earlier one
/// stopped working).
#[derive(Serialize, ToSchema)]
struct ProfileUpdateView<'a> {
    #[serde(flatten)]
    user: UserView<'a>,
    /// Present after a password change: the caller's new session token.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
}

/// Change the caller's e-mail, avatar or password; nothing is saved unless every check passes.
/// A password change ends every other session, every API key and every earlier token, and
/// answers with a fresh token for the caller.
#[utoipa::path(
    patch,
    path = "/api/auth/profile",
    tag = "auth",
    security(("bearer" = [])),
    request_body = ProfilePatchBody,
    responses(
        (status = 200, description = "The updated user (with `token` after a password change)", body = DataEnvelope<ProfileUpdateView>),
        (status = 400, description = "Invalid input, a weak password or a missing current password", body = ErrorEnvelope),
        (status = 401, description = "Not logged in, or `Current password is incorrect`", body = ErrorEnvelope),
        (status = 403, description = "Password change with an API key", body = ErrorEnvelope),
        (status = 409, description = "`Email already registered`", body = ErrorEnvelope),
        (status = 413, description = "Body over 16 KiB", body = ErrorEnvelope),
        (status = 429, description = "Too many wrong current passwords; see `Retry-After`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn update_profile(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    body: JsonObject,
) -> ApiResult<Response> {
    let (updated, fresh) = state
        .accounts
        .update_profile(&caller, &body, &client)
        .await?;
    Ok(Data(ProfileUpdateView {
        user: UserView::from(&updated),
        token: fresh.as_ref().map(|s| s.token.as_str()),
    })
    .into_response())
}

/// A fresh token for the same session (sliding expiry).
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new token", body = DataEnvelope<TokenView>),
        (status = 403, description = "`API keys cannot be refreshed`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
) -> ApiResult<Response> {
    Ok(session_reply(
        &state.accounts.refresh(&caller, &client).await?,
    ))
}

/// End this session, or with `{"all": true}` every session and token of the user.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    request_body(content = Option<LogoutBody>, description = "Optional; an empty body is `{}`"),
    responses(
        (status = 200, description = "`Logged out`", body = MessageEnvelope),
        (status = 400, description = "`all` is not a boolean, or an API key without `all`", body = ErrorEnvelope),
        (status = 413, description = "Body over 16 KiB", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
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

/// The caller's live sessions.
#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Live sessions", body = DataEnvelope<Vec<SessionView>>),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn sessions(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
) -> ApiResult<Response> {
    let list = state.accounts.sessions(&caller).await?;
    let current = caller.session_id();
    let views: Vec<SessionView<'_>> = list.iter().map(|s| SessionView::new(s, current)).collect();
    Ok(Data(views).into_response())
}

/// End one of the caller's sessions.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{id}",
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "`Session ended`", body = MessageEnvelope),
        (status = 404, description = "`Session not found`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn end_session(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Message> {
    state.accounts.end_session(&caller, &id, &client).await?;
    Ok(Message("Session ended"))
}

/// The caller's API keys (never their secrets).
#[utoipa::path(
    get,
    path = "/api/auth/api-keys",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "API keys", body = DataEnvelope<Vec<ApiKeyView>>),
        (status = 403, description = "`API keys are disabled`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn api_keys(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
) -> ApiResult<Response> {
    let keys = state.accounts.api_keys(&caller).await?;
    let views: Vec<ApiKeyView<'_>> = keys.iter().map(|k| ApiKeyView::new(k, None)).collect();
    Ok(Data(views).into_response())
}

/// Create an API key; the reply carries its secret (`key`), shown only this once.
#[utoipa::path(
    post,
    path = "/api/auth/api-keys",
    tag = "auth",
    security(("bearer" = [])),
    request_body = CreateApiKeyBody,
    responses(
        (status = 200, description = "The key with its secret", body = DataEnvelope<ApiKeyView>),
        (status = 400, description = "Missing or invalid name or lifetime, or no `current_password`", body = ErrorEnvelope),
        (status = 401, description = "`Current password is incorrect`", body = ErrorEnvelope),
        (status = 403, description = "API keys disabled, called with an API key, or a passwordless account's session is over 10 minutes old", body = ErrorEnvelope),
        (status = 429, description = "Too many wrong passwords; see `Retry-After`", body = ErrorEnvelope),
        (status = 413, description = "Body over 16 KiB", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
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

/// Delete one of the caller's API keys; it stops working at once.
#[utoipa::path(
    delete,
    path = "/api/auth/api-keys/{id}",
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "API key id")),
    responses(
        (status = 200, description = "`deleted`", body = MessageEnvelope),
        (status = 403, description = "`API keys are disabled`", body = ErrorEnvelope),
        (status = 404, description = "`API key not found`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn delete_api_key(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Message> {
    state.accounts.delete_api_key(&caller, &id, &client).await?;
    Ok(Message("deleted"))
}
