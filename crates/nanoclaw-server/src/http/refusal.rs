//! The future shared by the request checks wrapped around the router (Host, Origin): either
//! the inner service's own future or a refusal handed out on the first poll.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};

use crate::error::AppError;

pin_project_lite::pin_project! {
    /// Future of a check layer's service.
    #[project = CheckedProj]
    pub enum Checked<F> {
        /// The inner service's future.
        Allowed { #[pin] future: F },
        /// The refusal, handed out on the first poll.
        Refused { response: Option<Response> },
    }
}

impl<F> Checked<F> {
    /// A refusal answering `error`.
    pub fn refused(error: AppError) -> Self {
        Self::Refused {
            response: Some(error.into_response()),
        }
    }
}

impl<F, E> Future for Checked<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CheckedProj::Allowed { future } => future.poll(cx),
            CheckedProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| AppError::internal("polled after completion").into_response()))),
        }
    }
}
