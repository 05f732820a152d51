//! `GET /api/models` and `GET /api/tools`: public, rendered once at start.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nanoclaw_core::Config;
use serde_json::{Value, json};

use crate::http::envelope::Data;
use crate::state::AppState;

/// The catalog routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/models", get(models))
        .route("/api/tools", get(tools))
}

/// `[{"id", "name"}]` in config order — never URLs or keys.
pub fn models_json(config: &Config) -> Value {
    config
        .models
        .iter()
        .map(|m| json!({ "id": m.id, "name": m.name }))
        .collect()
}

/// `{"tools": [...], "total": n}` for OpenAI function-tool definitions.
pub fn tools_json(definitions: Vec<Value>) -> Value {
    let total = definitions.len();
    json!({ "tools": definitions, "total": total })
}

async fn models(State(state): State<AppState>) -> Response {
    Data(&state.models_json).into_response()
}

async fn tools(State(state): State<AppState>) -> Response {
    Data(&state.tools_json).into_response()
}
