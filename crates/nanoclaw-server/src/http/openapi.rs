//! The OpenAPI 3 document and the Swagger UI.
//!
//! The document is generated from the code: every handler carries `#[utoipa::path]` and is
//! registered with `utoipa_axum::routes!`, which adds it to the router and to the document in
//! one step. A registration that goes around it (a plain `.route(…)`) fails
//! `tests/api/openapi.rs`. The JSON is rendered once when the router is built and served as
//! shared bytes; the Swagger UI is compiled into the binary (`utoipa-swagger-ui`'s `vendored`
//! feature) and loads nothing from the network.

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, RefOr, Type};
use utoipa::{Modify, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::{ApiResult, AppError};
use crate::state::AppState;

/// Name of the bearer security scheme; handlers refer to it as `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// Where the Swagger UI is served (`/api/docs` redirects to `/api/docs/`).
pub const DOCS_PATH: &str = "/api/docs";

const DESCRIPTION: &str = "\
HTTP API of nanoclaw, a Rust rebuild of the nanoClaw LLM assistant server.

**Envelopes.** Every reply but this document and the Swagger UI is a JSON envelope: success is `{\"code\": 0, \"data\": …}` or \
`{\"code\": 0, \"message\": \"…\"}`; an error has the HTTP status as `code`: \
`{\"code\": 404, \"message\": \"Not found\"}` (schema `ErrorEnvelope`). Unknown paths are 404 and \
wrong methods 405, both as error envelopes.

**Authentication.** Operations with the `bearer` requirement need \
`Authorization: Bearer <token>`, where the token is a session JWT from `POST /api/auth/login`, \
`/register` or `/refresh`, or an API key (`nck_…`) from `POST /api/auth/api-keys`. Operations \
without a security requirement are public. In single mode (`auth_mode: single`) every request \
acts as the built-in admin `default` and no token is needed, unless `single_token` is \
configured: then that value is the bearer token. Single mode also refuses requests to `/api/*` \
whose `Host` does not name the server with 403 `Host not allowed` (DNS-rebinding guard); \
`/healthz` and `/readyz` are exempt. Behind a trusted reverse proxy (`trusted_header`) the \
proxy's user header authenticates instead.

**Streaming.** `POST /api/conversations/{id}/messages` and \
`POST /api/conversations/{id}/regenerate/{message_id}` answer with `text/event-stream` \
(Server-Sent Events). Each event is `event: <name>` and one `data: <JSON>` line, written whole: \
`process_step` (a step object: `{id: \"step-N\", index, type, …}` with `type` `thinking` or \
`text` (`content` is the whole text of the step so far), `tool_call` (`id_ref`, `name`, \
`arguments`) or `tool_result` (`id_ref`, `name`, `content`, `skipped`)), then either `done` \
(`{message_id, token_count, suggested_title, user_message_id}`) or `error` (`{content}`). \
Errors found before the stream starts (unknown model, missing key, thinking unsupported, a \
conversation already answering: 409) are ordinary error envelopes. Closing the connection stops \
the answer; what it produced so far is saved.

The document is served at `GET /api/openapi.json` and browsable at `/api/docs/`.";

/// The document's fixed parts: title, description, tags, security scheme, shared schemas.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "nanoclaw", description = DESCRIPTION, license(name = "MIT")),
    tags(
        (name = "auth", description = "Login, registration, profile, sessions and API keys"),
        (name = "admin", description = "User management and the audit log (admins only)"),
        (name = "catalog", description = "Configured models and registered tools"),
        (name = "chat", description = "Conversations, messages, streamed answers and token statistics"),
        (name = "projects", description = "Projects, their files, folder upload and content search"),
        (name = "health", description = "Liveness and readiness probes"),
        (name = "docs", description = "This document and the Swagger UI"),
    ),
    components(schemas(ErrorEnvelope, MessageEnvelope)),
    modifiers(&BearerScheme),
)]
struct ApiDoc;

/// The base document that the route modules' operations are merged into.
pub fn base() -> OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}

/// An error reply: `code` is the HTTP status.
#[derive(ToSchema)]
#[schema(example = json!({"code": 404, "message": "Not found"}))]
pub struct ErrorEnvelope {
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub code: u16,
    /// What went wrong, for people; internal causes are never shown.
    pub message: String,
}

/// A success reply carrying only a message.
#[derive(ToSchema)]
#[schema(example = json!({"code": 0, "message": "deleted"}))]
pub struct MessageEnvelope {
    /// Always `0`.
    #[schema(minimum = 0, maximum = 0)]
    pub code: u16,
    /// A short confirmation.
    pub message: String,
}

/// A success reply carrying `data`.
#[derive(ToSchema)]
pub struct DataEnvelope<T> {
    /// Always `0`.
    #[schema(minimum = 0, maximum = 0)]
    pub code: u16,
    /// The payload.
    pub data: T,
}

/// Adds the bearer scheme to the components.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or nck_ API key")
                    .description(Some(
                        "A session JWT (from login, register or refresh) or an API key \
                         starting with `nck_`. In single mode: not needed, unless \
                         `single_token` is configured, which is then the token.",
                    ))
                    .build(),
            ),
        );
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "ErrorEnvelope",
                ))))
                .build(),
        )
        .build()
        .into()
}

/// Completes the merged document (the derive's modifiers see only the base document): replies
/// any operation can give, unless it describes them itself — 401 where a token is needed, 500
/// everywhere — and the Swagger UI paths, which the `SwaggerUi` router serves without handlers
/// of ours.
fn finish(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let responses = &mut op.responses.responses;
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                responses.entry("401".into()).or_insert_with(|| {
                    error_response(
                        "`Unauthorized - please login`: no token, or an invalid or expired \
                         token or API key (with `WWW-Authenticate: Bearer`)",
                    )
                });
            }
            responses
                .entry("500".into())
                .or_insert_with(|| error_response("`Internal server error` (cause logged)"));
        }
    }
    let html = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "text/html",
                ContentBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            )
            .build()
    };
    doc.paths.add_path_operation(
        format!("{DOCS_PATH}/"),
        vec![HttpMethod::Get],
        OperationBuilder::new()
            .tag("docs")
            .operation_id(Some("swagger_ui"))
            .summary(Some("Swagger UI"))
            .description(Some(
                "The Swagger UI for this document; its scripts and styles are served below \
                 this path from the binary, nothing is loaded from elsewhere.",
            ))
            .response("200", html("The Swagger UI page")),
    );
    doc.paths.add_path_operation(
        DOCS_PATH,
        vec![HttpMethod::Get],
        OperationBuilder::new()
            .tag("docs")
            .operation_id(Some("swagger_ui_redirect"))
            .summary(Some("Redirect to the Swagger UI"))
            .response(
                "303",
                ResponseBuilder::new().description("Redirect to `/api/docs/`"),
            ),
    );
}

/// The rendered document, shared by every request for it.
#[derive(Clone)]
struct OpenApiJson(Option<Bytes>);

/// Adds the document's own route and the Swagger UI to `doc`'s routes, renders the document
/// once and returns the router that serves both.
pub fn docs_router(mut doc: OpenApi) -> Router<AppState> {
    let (json_route, own) = OpenApiRouter::<AppState>::new()
        .routes(routes!(openapi_json))
        .split_for_parts();
    doc.merge(own);
    finish(&mut doc);
    let json = match doc.to_json() {
        Ok(text) => Some(Bytes::from(text)),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the OpenAPI document");
            None
        }
    };
    // The rendered bytes reach only this route: the other routes' requests are not touched.
    let json_route = json_route.layer(Extension(OpenApiJson(json)));
    // The configured URL makes the UI load our pre-rendered document; the validator would send
    // the document to swagger.io.
    let ui = SwaggerUi::new(DOCS_PATH).config(Config::new([OPENAPI_PATH]).validator_url("none"));
    let ui = Router::from(ui).layer(axum::middleware::map_response(not_found_envelope));
    json_route.merge(ui)
}

/// The UI answers an unknown file below `/api/docs/` with a bare 404; give it the envelope
/// every other unknown path gets.
async fn not_found_envelope(response: Response) -> Response {
    if response.status() == StatusCode::NOT_FOUND {
        AppError::NotFound("Not found".into()).into_response()
    } else {
        response
    }
}

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "docs",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object)),
)]
async fn openapi_json(Extension(OpenApiJson(json)): Extension<OpenApiJson>) -> ApiResult<Response> {
    match json {
        Some(bytes) => Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response()),
        None => Err(AppError::internal("the OpenAPI document was not rendered")),
    }
}
