//! `GET /api/models` and `GET /api/tools`: public, rendered once at start.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use nanoclaw_core::Config;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::Data;
use crate::http::openapi::DataEnvelope;
use crate::state::AppState;

/// The catalog routes (each documented by its `#[utoipa::path]`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(models))
        .routes(routes!(tools))
}

/// A configured model.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the rendered JSON
struct ModelView {
    /// The id to use in requests.
    id: String,
    /// Display name.
    name: String,
}

/// The registered tools.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the rendered JSON
struct ToolsView {
    /// OpenAI function-tool definitions (`{"type": "function", "function": {…}}`).
    tools: Vec<serde_json::Map<String, Value>>,
    /// `tools.len()`.
    total: usize,
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

/// The configured models in config order (never their URLs or keys).
#[utoipa::path(
    get,
    path = "/api/models",
    tag = "catalog",
    responses((status = 200, description = "Models", body = DataEnvelope<Vec<ModelView>>)),
)]
async fn models(State(state): State<AppState>) -> Response {
    Data(&state.models_json).into_response()
}

/// The tool definitions offered to models (none are registered yet).
#[utoipa::path(
    get,
    path = "/api/tools",
    tag = "catalog",
    responses((status = 200, description = "Tools", body = DataEnvelope<ToolsView>)),
)]
async fn tools(State(state): State<AppState>) -> Response {
    Data(&state.tools_json).into_response()
}
