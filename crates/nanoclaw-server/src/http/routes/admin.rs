//! `/api/admin/*`: user management and the audit log, for admins only.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use nanoclaw_core::time::to_rfc3339_micros;
use nanoclaw_store::AuditFilter;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::UserPatch;
use crate::accounts::admin_page_params;
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;
use crate::http::envelope::{Data, Message};
use crate::http::extract::{Client, CurrentUser};
use crate::http::openapi::{DataEnvelope, ErrorEnvelope, MessageEnvelope};
use crate::http::path::Path;
use crate::http::views::{AuditView, PageView, UserView};
use crate::state::AppState;

/// The admin routes (each documented by its `#[utoipa::path]`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user, delete_user))
        .routes(routes!(logout_user))
        .routes(routes!(reset_token))
        .routes(routes!(audit))
}

/// `POST /api/admin/users` body.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct CreateUserBody {
    /// 2–50 characters, no control characters; trimmed.
    #[schema(min_length = 2, max_length = 50)]
    username: String,
    /// Must pass the configured password policy.
    password: String,
    /// Optional; empty means none.
    #[schema(nullable = false)]
    email: Option<String>,
    /// `admin` or `user` (default `user`).
    #[schema(pattern = "^(admin|user)$", nullable = false)]
    role: Option<String>,
}

/// `PATCH /api/admin/users/{id}` body: any subset of the fields. A new password or
/// `is_active: false` ends all of the user's sessions and API keys.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct UserPatchBody {
    /// `admin` or `user`.
    #[schema(pattern = "^(admin|user)$", nullable = false)]
    role: Option<String>,
    #[schema(nullable = false)]
    is_active: Option<bool>,
    /// New e-mail; empty clears it.
    #[schema(nullable = false)]
    email: Option<String>,
    /// Must pass the configured password policy.
    #[schema(nullable = false)]
    password: Option<String>,
}

/// A reset token for `POST /api/auth/reset-password`.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the `json!` reply of `reset_token`
struct ResetTokenView {
    /// Single use.
    token: String,
    /// One hour after issue.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Query strings are read as text and checked by hand, so that a bad value is a clear 400.
#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
    action: Option<String>,
    user_id: Option<String>,
}

/// The `:id` path segment as a user id (404 for anything that is not one).
struct UserId(i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for UserId {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        // Not UTF-8: 400 like every path parameter; anything else that is not an id: 404.
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await?;
        raw.parse::<i64>()
            .map(UserId)
            .map_err(|_| AppError::NotFound("User not found".into()))
    }
}

fn query(
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<ListQuery> {
    q.map(|Query(q)| q)
        .map_err(|_| AppError::bad_request("Invalid query string"))
}

/// Users by id, a page at a time.
#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1–100 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of users", body = DataEnvelope<PageView<UserView>>),
        (status = 400, description = "Invalid `cursor` or `limit`", body = ErrorEnvelope),
        (status = 403, description = "`Admin access required`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn list_users(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let (limit, cursor) = admin_page_params(q.limit.as_deref(), q.cursor.as_deref())?;
    let page = state.accounts.list_users(&caller, limit, cursor).await?;
    Ok(Data(PageView::new(&page, UserView::from)).into_response())
}

/// Create a user.
#[utoipa::path(
    post,
    path = "/api/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    request_body = CreateUserBody,
    responses(
        (status = 200, description = "The new user", body = DataEnvelope<UserView>),
        (status = 400, description = "Invalid input or a weak password", body = ErrorEnvelope),
        (status = 403, description = "`Admin access required`", body = ErrorEnvelope),
        (status = 409, description = "Username or e-mail taken", body = ErrorEnvelope),
        (status = 413, description = "Body over 16 KiB", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn create_user(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    body: JsonObject,
) -> ApiResult<Response> {
    let user = state
        .accounts
        .admin_create_user(Some(&caller), &body, Some(&client))
        .await?;
    Ok(Data(UserView::from(&user)).into_response())
}

/// Change a user's role, active flag, e-mail or password.
#[utoipa::path(
    patch,
    path = "/api/admin/users/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = UserPatchBody,
    responses(
        (status = 200, description = "The updated user", body = DataEnvelope<UserView>),
        (status = 400, description = "Invalid input or a weak password", body = ErrorEnvelope),
        (status = 403, description = "`Admin access required`", body = ErrorEnvelope),
        (status = 404, description = "`User not found`", body = ErrorEnvelope),
        (status = 409, description = "E-mail taken, or the last active admin would be demoted or disabled", body = ErrorEnvelope),
        (status = 413, description = "Body over 16 KiB", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn update_user(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    UserId(id): UserId,
    body: JsonObject,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let patch = UserPatch::parse(&body)?;
    let user = state
        .accounts
        .admin_update_user(Some(&caller), id, patch, Some(&client))
        .await?;
    Ok(Data(UserView::from(&user)).into_response())
}

/// Delete a user with all their data and workspace files.
#[utoipa::path(
    delete,
    path = "/api/admin/users/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "`deleted`", body = MessageEnvelope),
        (status = 403, description = "`Admin access required`", body = ErrorEnvelope),
        (status = 404, description = "`User not found`", body = ErrorEnvelope),
        (status = 409, description = "The last active admin cannot be deleted", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn delete_user(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    UserId(id): UserId,
) -> ApiResult<Message> {
    state
        .accounts
        .admin_delete_user(Some(&caller), id, Some(&client))
        .await?;
    Ok(Message("deleted"))
}

/// End all of a user's sessions and tokens.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/logout",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "`Logged out`", body = MessageEnvelope),
        (status = 403, description = "`Admin access required`", body = ErrorEnvelope),
        (status = 404, description = "`User not found`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn logout_user(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    UserId(id): UserId,
) -> ApiResult<Message> {
    state
        .accounts
        .admin_logout_user(&caller, id, &client)
        .await?;
    Ok(Message("Logged out"))
}

/// Issue a single-use password reset token, valid for one hour.
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/reset-token",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The token", body = DataEnvelope<ResetTokenView>),
        (status = 403, description = "`Admin access required`", body = ErrorEnvelope),
        (status = 404, description = "`User not found`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn reset_token(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentUser(caller): CurrentUser,
    UserId(id): UserId,
) -> ApiResult<Response> {
    let (token, expires_at) = state
        .accounts
        .admin_reset_token(&caller, id, &client)
        .await?;
    Ok(
        Data(json!({ "token": token, "expires_at": to_rfc3339_micros(&expires_at) }))
            .into_response(),
    )
}

/// The audit log, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/admin/audit",
    tag = "admin",
    security(("bearer" = [])),
    params(
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1–100 (default 20)"),
        ("action" = Option<String>, Query, description = "Only this action, e.g. `login`"),
        ("user_id" = Option<i64>, Query, description = "Only records whose actor or target is this user"),
    ),
    responses(
        (status = 200, description = "A page of audit records", body = DataEnvelope<PageView<AuditView>>),
        (status = 400, description = "Invalid `cursor`, `limit` or `user_id`", body = ErrorEnvelope),
        (status = 403, description = "`Admin access required`", body = ErrorEnvelope),
        (status = 503, description = "Database unavailable", body = ErrorEnvelope),
    ),
)]
async fn audit(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let (limit, cursor) = admin_page_params(q.limit.as_deref(), q.cursor.as_deref())?;
    let user_id = match q.user_id.as_deref() {
        None | Some("") => None,
        Some(u) => Some(
            u.parse::<i64>()
                .map_err(|_| AppError::bad_request("Invalid user_id"))?,
        ),
    };
    let filter = AuditFilter {
        action: q.action.filter(|a| !a.is_empty()),
        user_id,
    };
    let page = state
        .accounts
        .audit_log(&caller, filter, limit, cursor)
        .await?;
    Ok(Data(PageView::new(&page, AuditView::from)).into_response())
}
