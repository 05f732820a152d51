//! The HTTP layer: router, extractors, envelopes. Handlers are thin; rules live in services.

pub mod body;
pub mod chat_views;
pub mod envelope;
pub mod extract;
pub mod guard;
pub mod host_check;
pub mod metrics_layer;
pub mod openapi;
pub mod origin_check;
pub mod path;
pub mod request_id;
pub mod request_scope;
pub mod routes;
pub mod serve;
pub mod ui;
pub mod views;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use guard::{Guard, GuardLayer};
use host_check::HostCheckLayer;
use origin_check::OriginCheckLayer;
use request_scope::{RequestScope, RequestScopeLayer};
use tower::ServiceBuilder;
use tower::util::Either;
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::state::AppState;

/// The HTTP service: every route, inside the layers every request passes.
///
/// Outermost first: the request scope (request id, panics, server-error log), CORS (only when
/// `cors_origins` is set), the cross-site check on state-changing requests, single mode's Host
/// check (not for the health probes), the router.
/// These wrap the router once, not each route: `Router::layer` boxes every route once more,
/// and axum clones a route's whole boxed chain for every request it serves. Only the
/// Prometheus layer (when `metrics_addr` is set) wraps each route, as it labels requests by
/// the matched route, which is known only once the router has matched.
pub type HttpService = RequestScope<Either<Cors<Checked>, Checked>>;

/// The router behind the Origin check and the optional Host check.
pub type Checked = Guard<Either<Guard<Router, HostCheckLayer>, Router>, OriginCheckLayer>;

/// See [`HttpService`].
///
/// Routes are registered through `OpenApiRouter` only, so each one is also in the OpenAPI
/// document served at `/api/openapi.json` (with the Swagger UI at `/api/docs/`). Those two live
/// with the API, behind single mode's Host check like every `/api/*` route; they need no token.
pub fn service(state: AppState) -> HttpService {
    let cors = cors_layer(&state.config.cors_origins);
    let metrics = state.config.metrics_addr.is_some();
    let single_mode = state.accounts.mode() == nanoclaw_core::AuthMode::Single;
    let origins = OriginCheckLayer::new(&state.config.cors_origins, single_mode);
    let hosts =
        host_check::AllowedHosts::new(&state.config.backend_host, &state.config.allowed_hosts);
    let (health, mut doc) = OpenApiRouter::with_openapi(openapi::base())
        .merge(routes::health::router())
        .split_for_parts();
    // Health probes reveal nothing and come from load balancers by IP: no Host check.
    let probes: Vec<String> = doc.paths.paths.keys().cloned().collect();
    let (api, api_doc) = OpenApiRouter::new()
        .merge(routes::auth::router())
        .merge(routes::admin::router())
        .merge(routes::catalog::router())
        .merge(routes::conversations::router())
        .merge(routes::projects::router())
        .split_for_parts();
    doc.merge(api_doc);
    let mut router = api
        .merge(openapi::docs_router(doc))
        .merge(health)
        // The web interface (not API: no OpenAPI entry); unknown `/api/…` paths stay JSON 404s.
        .fallback(ui::fallback)
        // Without configured origins there is no CORS layer; a preflight is still answered
        // (204, no CORS headers: the browser then keeps the API same-origin).
        .method_not_allowed_fallback(|method: Method| async move {
            if method == Method::OPTIONS {
                StatusCode::NO_CONTENT.into_response()
            } else {
                AppError::MethodNotAllowed.into_response()
            }
        })
        .with_state(state);
    if metrics {
        router = router.layer(metrics_layer::HttpMetricsLayer::new());
    }
    ServiceBuilder::new()
        .layer(RequestScopeLayer)
        .option_layer(cors)
        .layer(GuardLayer(origins))
        .option_layer(single_mode.then(|| GuardLayer(HostCheckLayer::new(hosts, probes))))
        .service(router)
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
