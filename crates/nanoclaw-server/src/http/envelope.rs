//! Success envelope: `{"code": 0, "data": …}`.

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
