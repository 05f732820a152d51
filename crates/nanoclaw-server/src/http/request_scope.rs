//! The outermost layer every request passes: it gives the request its id (on the response,
//! and on every log line written while the request or its streamed body is handled), turns a
//! panic into the 500 envelope, and logs server errors (and, at `debug`, every request).
//!
//! One hand-written layer instead of tower-http's request-id, trace and catch-panic layers:
//! each of those wraps the route once more and the trace layer opens a tracing span per
//! request; together they were a fifth of a small route's CPU time.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tracing::Level;

use super::envelope::error_response;
use super::request_id::{self, RequestId, X_REQUEST_ID};

/// Target of the per-request line logged at `debug` (`RUST_LOG=nanoclaw::access=debug`).
pub const ACCESS_TARGET: &str = "nanoclaw::access";

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestScopeLayer;

impl<S> Layer<S> for RequestScopeLayer {
    type Service = RequestScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestScope { inner }
    }
}

/// Service of [`RequestScopeLayer`].
#[derive(Clone, Debug)]
pub struct RequestScope<S> {
    inner: S,
}

impl<S> Service<Request> for RequestScope<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let id = RequestId::of(req.headers());
        let started = Instant::now();
        // The path only: a query string can carry credentials.
        let access = tracing::enabled!(target: ACCESS_TARGET, Level::DEBUG)
            .then(|| Box::new((req.method().clone(), req.uri().path().to_owned())));
        let inner = &mut self.inner;
        let state = match catch_unwind(AssertUnwindSafe(|| {
            request_id::sync_scope(id, || inner.call(req))
        })) {
            Ok(future) => State::Running {
                future: request_id::scope(id, future),
            },
            Err(payload) => State::Panicked {
                payload: Some(payload),
            },
        };
        ResponseFuture {
            state,
            id,
            started,
            access,
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`RequestScope`].
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        id: RequestId,
        started: Instant,
        access: Option<Box<(Method, String)>>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] future: TaskLocalFuture<RequestId, F> },
        Panicked { payload: Option<Box<dyn Any + Send + 'static>> },
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let id = *this.id;
        let outcome = match this.state.project() {
            StateProj::Running { future } => {
                match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(poll) => Ok(ready!(poll)),
                    Err(payload) => Err(payload),
                }
            }
            StateProj::Panicked { payload } => Err(payload
                .take()
                .unwrap_or_else(|| Box::new("polled after completion"))),
        };
        let mut response = match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Poll::Ready(Err(e)),
            Err(payload) => request_id::sync_scope(id, || panic_response(payload.as_ref())),
        };
        let status = response.status();
        if status.is_server_error() || this.access.is_some() {
            let latency_ms = millis(this.started.elapsed());
            request_id::sync_scope(id, || {
                if status.is_server_error() {
                    tracing::error!(status = status.as_u16(), latency_ms, "response failed");
                }
                if let Some(access) = this.access.take() {
                    let (method, path) = *access;
                    tracing::debug!(
                        target: ACCESS_TARGET,
                        %method,
                        path,
                        status = status.as_u16(),
                        latency_ms,
                        "request finished"
                    );
                }
            });
        }
        response.headers_mut().insert(X_REQUEST_ID, id.to_header());
        // A body still to be produced (a stream) keeps logging under the request's id.
        if response.body().size_hint().exact().is_none() {
            response = response.map(|body| Body::new(ScopedBody { inner: body, id }));
        }
        Poll::Ready(Ok(response))
    }
}

/// Milliseconds with microsecond precision (prints as `0.315`, not `0.31533100000000003`).
fn millis(elapsed: std::time::Duration) -> f64 {
    f64::from(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX)) / 1000.0
}

fn panic_response(payload: &(dyn Any + Send)) -> Response {
    let detail = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

pin_project_lite::pin_project! {
    /// A streamed response body, polled under its request's id.
    struct ScopedBody {
        #[pin]
        inner: Body,
        id: RequestId,
    }
}

impl HttpBody for ScopedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.project();
        let inner = this.inner;
        request_id::sync_scope(*this.id, || inner.poll_frame(cx))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::http::HeaderValue;
    use futures::StreamExt;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    fn request(id: Option<&'static str>) -> Request {
        let mut req = Request::new(Body::empty());
        if let Some(id) = id {
            req.headers_mut()
                .insert(X_REQUEST_ID, HeaderValue::from_static(id));
        }
        req
    }

    async fn body_text(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_panicking_handler_gets_the_500_envelope_and_keeps_its_id() {
        let service = RequestScopeLayer.layer(tower::service_fn(|_req: Request| async {
            if true {
                panic!("boom");
            }
            Ok::<Response, Infallible>(Response::new(Body::empty()))
        }));
        let response = service.oneshot(request(Some("panic-1"))).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[&X_REQUEST_ID], "panic-1");
        let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(body["message"], "Internal server error");
        assert_ne!(body["code"], 0);
    }

    #[derive(Clone)]
    struct PanicsInCall;

    impl Service<Request> for PanicsInCall {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request) -> Self::Future {
            panic!("boom in call")
        }
    }

    #[tokio::test]
    async fn a_panic_before_the_future_exists_is_caught_too() {
        let response = RequestScopeLayer
            .layer(PanicsInCall)
            .oneshot(request(None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = response.headers()[&X_REQUEST_ID].to_str().unwrap();
        assert_eq!(id.len(), 32);
    }

    #[tokio::test]
    async fn handler_and_streamed_body_see_the_request_id() {
        let service = RequestScopeLayer.layer(tower::service_fn(|_req: Request| async {
            let in_handler = request_id::with_current(|id| id.unwrap_or("none").to_owned());
            // Each chunk reads the id when hyper polls the body, after the handler returned.
            let chunks = futures::stream::iter([0, 1]).map(move |_| {
                let id = request_id::with_current(|id| id.unwrap_or("none").to_owned());
                Ok::<_, Infallible>(format!("{in_handler}/{id};"))
            });
            Ok::<_, Infallible>(Response::new(Body::from_stream(chunks)))
        }));
        let response = service.oneshot(request(Some("stream-7"))).await.unwrap();
        assert_eq!(response.headers()[&X_REQUEST_ID], "stream-7");
        assert_eq!(
            body_text(response).await,
            "stream-7/stream-7;stream-7/stream-7;"
        );
    }
}
