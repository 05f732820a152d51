//! Success envelopes: `{"code": 0, "data": …}` and `{"code": 0, "message": …}`, and the one
//! function that turns any envelope into a JSON response.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// First buffer size for a reply; most envelopes (a user, an error) fit without growing it.
const REPLY_CAPACITY: usize = 256;
/// What a reply says when its value cannot be written as JSON (never for our types).
const UNSERIALISABLE: &str = r#"{"code":500,"message":"Internal server error"}"#;

/// `value` as an `application/json` response with `status`.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let mut body = Vec::with_capacity(REPLY_CAPACITY);
    let (status, body) = match serde_json::to_writer(&mut body, value) {
        Ok(()) => (status, Body::from(body)),
        Err(e) => {
            tracing::error!(cause = %e, "reply not serialisable");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Body::from(UNSERIALISABLE),
            )
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A successful reply carrying `data`.
pub struct Data<T>(pub T);

#[derive(Serialize)]
struct Envelope<T> {
    code: u16,
    data: T,
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        json_response(
            StatusCode::OK,
            &Envelope {
                code: 0,
                data: self.0,
            },
        )
    }
}

#[derive(Serialize)]
struct MessageEnvelope<'a> {
    code: u16,
    message: &'a str,
}

/// An error reply: `{"code": status, "message": message}` with that status.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &MessageEnvelope {
            code: status.as_u16(),
            message,
        },
    )
}

/// A successful reply carrying only a message, e.g. `{"code":0,"message":"deleted"}`.
pub struct Message(pub &'static str);

impl IntoResponse for Message {
    fn into_response(self) -> Response {
        json_response(
            StatusCode::OK,
            &MessageEnvelope {
                code: 0,
                message: self.0,
            },
        )
    }
}
