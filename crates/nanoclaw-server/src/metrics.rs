//! Prometheus metrics: the process-wide recorder, every metric name, and the exporter that
//! serves `GET /metrics` on its own listener (`metrics_addr`), never on the public port.
//!
//! The `metrics` macros write to one global recorder, so it is installed once per process and
//! only when `metrics_addr` is set; until then every `counter!` call is a no-op.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use nanoclaw_store::Store;
use tokio::net::TcpListener;

use crate::error::AppError;

/// Counter: finished HTTP requests by `method`, `route` (the matched route pattern, or
/// `unmatched`) and `status`.
pub const HTTP_REQUESTS: &str = "nanoclaw_http_requests_total";
/// Histogram: seconds until the response head was ready, same labels as [`HTTP_REQUESTS`].
pub const HTTP_DURATION: &str = "nanoclaw_http_request_duration_seconds";
/// Gauge: requests being handled right now.
pub const HTTP_IN_FLIGHT: &str = "nanoclaw_http_requests_in_flight";
/// Counter: multi-mode logins by `outcome` (`success`, `failure`).
pub const LOGINS: &str = "nanoclaw_logins_total";
/// Counter: attempts refused by the login rate limiter (login, registration, password check).
pub const RATE_LIMITED: &str = "nanoclaw_rate_limit_trips_total";
/// Gauge: database pool connections by `state` (`idle`, `in_use`), read at scrape time.
pub const DB_POOL_CONNECTIONS: &str = "nanoclaw_db_pool_connections";
/// Gauge: the most connections the database pool opens.
pub const DB_POOL_MAX: &str = "nanoclaw_db_pool_max_connections";

/// Gauge: chat answers streaming right now.
pub const CHAT_STREAMS_OPEN: &str = "nanoclaw_chat_streams_open";
/// Histogram: seconds from the start of an answer to its first step, by `model`.
pub const LLM_FIRST_TOKEN: &str = "nanoclaw_llm_first_token_seconds";
/// Histogram: seconds an answer took, by `model` and `outcome`.
pub const LLM_ANSWER_DURATION: &str = "nanoclaw_llm_answer_duration_seconds";
/// Counter: answers that did not complete, by `model` and `kind` (`failed`, `exhausted`,
/// `cancelled`).
pub const LLM_ERRORS: &str = "nanoclaw_llm_errors_total";
/// Counter: tokens used, by `model` and `kind` (`prompt`, `completion`).
pub const LLM_TOKENS: &str = "nanoclaw_llm_tokens_total";

/// Histogram bucket bounds in seconds: sub-millisecond API calls up to slow upstreams.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// How often recorded histogram samples are folded into the buckets when nobody scrapes (it
/// bounds their memory).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the Prometheus recorder as the global one (once per process; later calls return
/// the same handle).
pub fn install() -> Result<PrometheusHandle, String> {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?
                .set_buckets_for_metric(Matcher::Full(LLM_FIRST_TOKEN.into()), LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?
                .set_buckets_for_metric(Matcher::Full(LLM_ANSWER_DURATION.into()), LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|e| e.to_string())?;
            describe();
            Ok(handle)
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time until the response head was ready"
    );
    describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests being handled");
    describe_counter!(LOGINS, "Multi-mode login attempts that got past validation");
    describe_counter!(RATE_LIMITED, "Attempts refused by the login rate limiter");
    describe_gauge!(DB_POOL_CONNECTIONS, "Open database connections by state");
    describe_gauge!(DB_POOL_MAX, "Maximum database connections");
    describe_gauge!(CHAT_STREAMS_OPEN, "Chat answers streaming right now");
    describe_histogram!(
        LLM_FIRST_TOKEN,
        Unit::Seconds,
        "Time from the start of an answer to its first step"
    );
    describe_histogram!(LLM_ANSWER_DURATION, Unit::Seconds, "Time an answer took");
    describe_counter!(LLM_ERRORS, "Answers that did not complete, by kind");
    describe_counter!(LLM_TOKENS, "Tokens used by answers");
}

/// An answer started streaming.
pub fn stream_opened() {
    metrics::gauge!(CHAT_STREAMS_OPEN).increment(1.0);
}

/// An answer's first step, `elapsed` after it started.
pub fn first_token(model: &str, elapsed: Duration) {
    metrics::histogram!(LLM_FIRST_TOKEN, "model" => model.to_owned()).record(elapsed.as_secs_f64());
}

/// An answer ended as `outcome`, `elapsed` after it started.
pub fn stream_closed(model: &str, outcome: &nanoclaw_agent::AnswerOutcome, elapsed: Duration) {
    use nanoclaw_agent::End;
    metrics::gauge!(CHAT_STREAMS_OPEN).decrement(1.0);
    let kind = match outcome.end {
        End::Completed => "completed",
        End::Failed(_) => "failed",
        End::Exhausted => "exhausted",
        End::Cancelled => "cancelled",
    };
    metrics::histogram!(LLM_ANSWER_DURATION, "model" => model.to_owned(), "outcome" => kind)
        .record(elapsed.as_secs_f64());
    if outcome.end != End::Completed {
        metrics::counter!(LLM_ERRORS, "model" => model.to_owned(), "kind" => kind).increment(1);
    }
    metrics::counter!(LLM_TOKENS, "model" => model.to_owned(), "kind" => "prompt")
        .increment(outcome.prompt_tokens);
    metrics::counter!(LLM_TOKENS, "model" => model.to_owned(), "kind" => "completion")
        .increment(outcome.completion_tokens);
}

#[derive(Clone)]
struct Exporter {
    handle: PrometheusHandle,
    store: Store,
}

/// Serves `GET /metrics` on `listener` until the task is dropped, and keeps the recorder's
/// histograms bounded meanwhile (installs the recorder if that has not happened yet).
pub async fn serve(listener: TcpListener, store: Store) -> std::io::Result<()> {
    let handle = install().map_err(std::io::Error::other)?;
    let upkeep = {
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        })
    };
    let app = Router::new()
        .route("/metrics", get(render))
        .fallback(|| async { AppError::NotFound("Not found".into()) })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .with_state(Exporter { handle, store });
    let result = axum::serve(listener, app).await;
    upkeep.abort();
    result
}

async fn render(State(exporter): State<Exporter>) -> Response {
    if let Some(pool) = exporter.store.pool_stats() {
        metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(pool.idle);
        metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(pool.in_use);
        metrics::gauge!(DB_POOL_MAX).set(pool.max);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        exporter.handle.render(),
    )
        .into_response()
}
