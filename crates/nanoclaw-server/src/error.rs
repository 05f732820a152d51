//! The server's one error type, mapped once to nanoClaw's JSON envelope.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nanoclaw_store::{StoreError, UniqueField};

use crate::http::envelope::error_response;

/// Result of a handler or service call.
pub type ApiResult<T> = Result<T, AppError>;

/// Everything that can go wrong while answering a request. The client sees the status and a
/// short message; internal causes go to the log only.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 with a message saying what is wrong with the input.
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// 401.
    #[error("{0}")]
    Unauthorized(Cow<'static, str>),
    /// 403.
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// 404.
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    /// 405.
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 409.
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// 413.
    #[error("Request body too large")]
    PayloadTooLarge,
    /// 413 with a message naming the limit (file size, upload size or count, quota).
    #[error("{0}")]
    TooLarge(Cow<'static, str>),
    /// 415: a body that is not declared as JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// 429 with `Retry-After`.
    #[error("Too many attempts, try again in {retry_after_secs} seconds")]
    TooManyRequests {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// 503 with `Retry-After`: too much work queued (password hashing); try again shortly.
    #[error("Server busy, try again in {retry_after_secs} seconds")]
    Busy {
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// 503: the database cannot be reached right now.
    #[error("Service temporarily unavailable")]
    Unavailable(String),
    /// 500: a real fault of ours; the cause is logged, never shown.
    #[error("Internal server error")]
    Internal(String),
}

impl AppError {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::BadRequest(message.into())
    }

    /// 500, logging `cause`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The HTTP status (also the envelope's `code`).
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge | AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(UniqueField::Email) => {
                AppError::Conflict("Email already registered".into())
            }
            StoreError::Conflict(UniqueField::Username) => {
                AppError::Conflict("Username already exists".into())
            }
            // The projects service names the project itself (a 400, as nanoClaw answers).
            StoreError::Conflict(UniqueField::ProjectName) => {
                AppError::bad_request("Project already exists")
            }
            StoreError::LastAdmin => AppError::Conflict(
                "The last active admin cannot be demoted, disabled or deleted".into(),
            ),
            StoreError::Unavailable(cause) => AppError::Unavailable(cause),
            StoreError::Db(cause) => AppError::Internal(cause.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal(cause) => tracing::error!(%cause, "request failed"),
            AppError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            _ => {}
        }
        let mut response = error_response(status, &self.to_string());
        if let AppError::TooManyRequests { retry_after_secs }
        | AppError::Busy { retry_after_secs } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
