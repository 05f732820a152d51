//! `Path` with the JSON envelope: axum's own extractor answers a bad path parameter (one that
//! is not valid UTF-8 after percent-decoding, or does not parse) with plain text.

use axum::extract::FromRequestParts;
use axum::extract::rejection::PathRejection;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Path parameters, like `axum::extract::Path`, rejected with a 400 envelope.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejected(&rejection)),
        }
    }
}

fn rejected(rejection: &PathRejection) -> AppError {
    match rejection {
        // A route without the parameter its handler asks for: our fault, not the client's.
        PathRejection::MissingPathParams(e) => AppError::internal(e),
        _ => AppError::bad_request("Invalid path parameter"),
    }
}
