//! `/api/admin/*`: user management and the audit log, for admins only.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use nanoclaw_core::time::to_rfc3339_micros;
use nanoclaw_store::AuditFilter;
use serde::Deserialize;
use serde_json::json;

use crate::accounts::UserPatch;
use crate::accounts::admin_page_params;
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;
use crate::http::envelope::{Data, Message};
use crate::http::extract::{Client, CurrentUser};
use crate::http::views::{AuditView, PageView, UserView};
use crate::state::AppState;

const ADMIN_BODY_LIMIT: usize = 16 * 1024;

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users).post(create_user))
        .route(
            "/api/admin/users/{id}",
            axum::routing::patch(update_user).delete(delete_user),
        )
        .route("/api/admin/users/{id}/logout", post(logout_user))
        .route("/api/admin/users/{id}/reset-token", post(reset_token))
        .route("/api/admin/audit", get(audit))
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
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
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound("User not found".into()))?;
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
