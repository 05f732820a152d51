//! Request count, latency and in-flight requests per matched route, for Prometheus. Installed
//! only when `metrics_addr` is set.
//!
//! The request path is benchmarked, so the metric handles are cached per (route, method,
//! status): a request costs a read-locked map lookup and a few atomic updates, and allocates
//! nothing once its series exists.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use metrics::{Counter, Gauge, Histogram};
use tower::{Layer, Service};

use crate::metrics::{HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS};

/// Route label of requests that matched no route (the raw path would be unbounded).
const UNMATCHED: &str = "unmatched";

/// Route label a response of the router's fallback gives itself (the web interface's files),
/// as a response extension: a fallback has no matched route, and its raw path is unbounded.
#[derive(Clone, Copy, Debug)]
pub struct RouteLabel(pub &'static str);

/// Adds [`HttpMetrics`] to every route.
#[derive(Clone)]
pub struct HttpMetricsLayer {
    shared: Arc<Shared>,
}

impl HttpMetricsLayer {
    /// A layer recording into the global metrics recorder.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                in_flight: metrics::gauge!(HTTP_IN_FLIGHT),
                series: RwLock::new(HashMap::new()),
            }),
        }
    }
}

impl Default for HttpMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics {
            inner,
            shared: self.shared.clone(),
        }
    }
}

struct Shared {
    in_flight: Gauge,
    /// Route → the series seen for it (a handful of method/status pairs each).
    series: RwLock<HashMap<Box<str>, Vec<Series>>>,
}

struct Series {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

impl Shared {
    fn record(&self, route: &str, method: &'static str, status: u16, started: Instant) {
        let elapsed = started.elapsed();
        {
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = map.get(route).and_then(|all| {
                all.iter()
                    .find(|s| s.status == status && s.method == method)
            }) {
                series.requests.increment(1);
                series.duration.record(elapsed);
                return;
            }
        }
        // First request of this series: register it (the only allocations).
        let status_label = status.to_string();
        let series = Series {
            method,
            status,
            requests: metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.to_owned(), "status" => status_label.clone()),
            duration: metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route.to_owned(), "status" => status_label),
        };
        series.requests.increment(1);
        series.duration.record(elapsed);
        let mut map = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let all = map.entry(route.into()).or_default();
        if !all.iter().any(|s| s.status == status && s.method == method) {
            all.push(series);
        }
    }
}

/// The standard methods by name; anything else is `other` (client-chosen labels would be
/// unbounded).
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

/// Records one request when its response head is ready.
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<Request> for HttpMetrics<S>
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
        self.shared.in_flight.increment(1);
        let pending = Pending {
            shared: self.shared.clone(),
            // An `Arc<str>` inside: cloning it does not allocate.
            route: req.extensions().get::<MatchedPath>().cloned(),
            method: method_label(req.method()),
            started: Instant::now(),
        };
        ResponseFuture {
            inner: self.inner.call(req),
            pending: Some(pending),
        }
    }
}

/// A request in flight; dropping it (finished or abandoned) lowers the in-flight gauge.
struct Pending {
    shared: Arc<Shared>,
    route: Option<MatchedPath>,
    method: &'static str,
    started: Instant,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.shared.in_flight.decrement(1);
    }
}

pin_project_lite::pin_project! {
    /// Future of [`HttpMetrics`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(p)) = (&result, this.pending.take()) {
            let route = p.route.as_ref().map_or_else(
                || {
                    response
                        .extensions()
                        .get::<RouteLabel>()
                        .map_or(UNMATCHED, |l| l.0)
                },
                MatchedPath::as_str,
            );
            p.shared
                .record(route, p.method, response.status().as_u16(), p.started);
        }
        Poll::Ready(result)
    }
}
