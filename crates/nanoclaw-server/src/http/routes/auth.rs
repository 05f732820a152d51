//! `/api/auth/*`.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

use crate::accounts::Session;
use crate::error::ApiResult;
use crate::http::body::JsonObject;
use crate::http::envelope::Data;
use crate::http::extract::{ClientIp, CurrentUser};
use crate::http::user_view::UserView;
use crate::state::AppState;

/// Auth bodies are tiny; anything bigger than this is refused with 413.
const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// The auth routes. Login, register and mode are public; profile needs a caller.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/register", post(register))
        .route("/api/auth/profile", get(profile).patch(update_profile))
        .route("/api/auth/mode", get(mode))
        .layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT))
}

#[derive(Serialize)]
struct SessionView<'a> {
    token: &'a str,
    user: UserView<'a>,
}

fn session_reply(s: &Session) -> Response {
    Data(SessionView {
        token: &s.token,
        user: UserView::from(&s.user),
    })
    .into_response()
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: JsonObject,
) -> ApiResult<Response> {
    Ok(session_reply(&state.accounts.login(&body, ip).await?))
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: JsonObject,
) -> ApiResult<Response> {
    Ok(session_reply(&state.accounts.register(&body, ip).await?))
}

async fn profile(CurrentUser(user): CurrentUser) -> Response {
    Data(UserView::from(&user)).into_response()
}

async fn update_profile(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    CurrentUser(user): CurrentUser,
    body: JsonObject,
) -> ApiResult<Response> {
    let updated = state.accounts.update_profile(&user, &body, ip).await?;
    Ok(Data(UserView::from(&updated)).into_response())
}

async fn mode(State(state): State<AppState>) -> Data<serde_json::Value> {
    Data(json!({ "mode": state.accounts.mode().as_str() }))
}
