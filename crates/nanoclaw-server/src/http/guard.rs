//! Request checks wrapped once around the whole router (the Host check, the Origin check): a
//! [`Check`] says whether a request may pass; [`GuardLayer`] turns it into a tower layer whose
//! service either calls the router or answers the refusal, allocating nothing on the way.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::AppError;

/// A rule a request must pass before it reaches the router.
pub trait Check: Clone {
    /// `Err` with the refusal to answer, or `Ok` to let the request through.
    fn check(&self, req: &Request) -> Result<(), AppError>;
}

/// The layer of a [`Check`].
#[derive(Clone, Debug)]
pub struct GuardLayer<C>(pub C);

impl<S, C: Check> Layer<S> for GuardLayer<C> {
    type Service = Guard<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            check: self.0.clone(),
        }
    }
}

/// Service of [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct Guard<S, C> {
    inner: S,
    check: C,
}

impl<S, C> Service<Request> for Guard<S, C>
where
    S: Service<Request, Response = Response>,
    C: Check,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Checked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match self.check.check(&req) {
            Ok(()) => Checked::Allowed {
                future: self.inner.call(req),
            },
            Err(refusal) => Checked::refused(refusal),
        }
    }
}

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
