//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers and is fully
//! migrated): public in both auth modes, for load balancers and orchestrators.

use std::time::Duration;

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, AppError};
use crate::http::envelope::Data;
use crate::http::openapi::{DataEnvelope, ErrorEnvelope};
use crate::state::AppState;

/// How long readiness waits for the database before answering 503.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The health routes (each documented by its `#[utoipa::path]`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// A probe's answer.
#[derive(Serialize, ToSchema)]
struct Status {
    /// `ok` (liveness) or `ready` (readiness).
    #[schema(pattern = "^(ok|ready)$")]
    status: &'static str,
}

/// Liveness: no database call, so a database outage never gets the process restarted.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The process serves HTTP", body = DataEnvelope<Status>)),
)]
async fn healthz() -> Data<Status> {
    Data(Status { status: "ok" })
}

/// Readiness: one read of the migration table, bounded by `READY_TIMEOUT`; 503 otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Database reachable and fully migrated", body = DataEnvelope<Status>),
        (status = 503, description = "Database unreachable, slow (2 s) or not migrated", body = ErrorEnvelope),
    ),
)]
async fn readyz(State(state): State<AppState>) -> ApiResult<Data<Status>> {
    match tokio::time::timeout(READY_TIMEOUT, state.store.is_migrated()).await {
        Ok(Ok(true)) => Ok(Data(Status { status: "ready" })),
        Ok(Ok(false)) => Err(AppError::Unavailable(
            "not ready: database migrations are pending".into(),
        )),
        Ok(Err(e)) => Err(AppError::Unavailable(format!("not ready: {e}"))),
        Err(_) => Err(AppError::Unavailable(format!(
            "not ready: no database answer within {READY_TIMEOUT:?}"
        ))),
    }
}
