//! The HTTP layer: router, extractors, envelopes. Handlers are thin; rules live in services.

pub mod body;
pub mod envelope;
pub mod extract;
pub mod host_check;
pub mod metrics_layer;
pub mod openapi;
pub mod request_id;
pub mod routes;
pub mod views;

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::util::MapRequestLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::error::{AppError, error_response};
use crate::state::AppState;

/// Every route of the server, with the envelope for unknown paths, wrong methods and panics.
///
/// Routes are registered through `OpenApiRouter` only, so each one is also in the OpenAPI
/// document served at `/api/openapi.json` (with the Swagger UI at `/api/docs/`). Those two live
/// with the API, behind single mode's Host check like every `/api/*` route; they need no token.
///
/// Layers, outermost first: metrics (only when `metrics_addr` is set), request id, its echo on
/// the response, the request's log span, panic catching, CORS.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.config.cors_origins);
    let metrics = state.config.metrics_addr.is_some();
    let single_mode = state.accounts.mode() == nanoclaw_core::AuthMode::Single;
    let hosts =
        host_check::AllowedHosts::new(&state.config.backend_host, &state.config.allowed_hosts);
    let (health, mut doc) = OpenApiRouter::with_openapi(openapi::base())
        .merge(routes::health::router())
        .split_for_parts();
    let (api, api_doc) = OpenApiRouter::new()
        .merge(routes::auth::router())
        .merge(routes::admin::router())
        .merge(routes::catalog::router())
        .split_for_parts();
    doc.merge(api_doc);
    let mut api = api
        .merge(openapi::docs_router(doc))
        .fallback(|| async { AppError::NotFound("Not found".into()) })
        // Without configured origins there is no CORS layer; a preflight is still answered
        // (204, no CORS headers: the browser then keeps the API same-origin).
        .method_not_allowed_fallback(|method: Method| async move {
            if method == Method::OPTIONS {
                StatusCode::NO_CONTENT.into_response()
            } else {
                AppError::MethodNotAllowed.into_response()
            }
        })
        .with_state(state.clone());
    if single_mode {
        api = api.layer(axum::middleware::from_fn_with_state(
            hosts,
            host_check::check_host,
        ));
    }
    // Health probes reveal nothing and come from load balancers by IP: no Host check.
    let mut router = Router::new().merge(health.with_state(state)).merge(api);
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    let router = router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::extract::Request| request_id::span(req)),
        )
        .layer(PropagateRequestIdLayer::new(request_id::X_REQUEST_ID))
        .layer(MapRequestLayer::new(request_id::ensure));
    if metrics {
        router.layer(metrics_layer::HttpMetricsLayer::new())
    } else {
        router
    }
}

/// Preflights are always answered; only listed origins get CORS headers (none by default,
/// which keeps the API same-origin).
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    // The expose header goes on every response, so only when some origin may read it.
    let expose: &[header::HeaderName] = if allowed.is_empty() {
        &[]
    } else {
        &[request_id::X_REQUEST_ID]
    };
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            request_id::X_REQUEST_ID,
        ])
        .expose_headers(expose.to_vec())
        .max_age(Duration::from_secs(600));
    Some(layer)
}

fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let detail = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}
