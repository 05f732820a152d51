//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers and is fully
//! migrated): public in both auth modes, for load balancers and orchestrators.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use crate::error::{ApiResult, AppError};
use crate::http::envelope::Data;
use crate::state::AppState;

/// How long readiness waits for the database before answering 503.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The health routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

/// Liveness: no database call, so a database outage never gets the process restarted.
async fn healthz() -> Data<Status> {
    Data(Status { status: "ok" })
}

/// Readiness: one read of the migration table, bounded by [`READY_TIMEOUT`]; 503 otherwise.
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
