//! Success envelopes: `{"code": 0, "data": …}` and `{"code": 0, "message": …}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A successful reply carrying `data`.
pub struct Data<T>(pub T);

#[derive(Serialize)]
struct Envelope<T> {
    code: u16,
    data: T,
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        Json(Envelope {
            code: 0,
            data: self.0,
        })
        .into_response()
    }
}

/// A successful reply carrying only a message, e.g. `{"code":0,"message":"deleted"}`.
pub struct Message(pub &'static str);

impl IntoResponse for Message {
    fn into_response(self) -> Response {
        Json(serde_json::json!({ "code": 0, "message": self.0 })).into_response()
    }
}
