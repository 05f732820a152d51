//! `bench-reference`: the ceiling for `bench/run`.
//!
//! The same stack as nanoclaw (axum 0.8 over hyper on a multi-threaded tokio runtime, HTTP/1
//! on a loopback TCP listener) answering every request with one fixed JSON body of about
//! 200 bytes: no auth, no database, no logging, no middleware. Whatever nanoclaw spends on top
//! of this is ours; the ratio of the two, measured in the same run, is what the benchmark
//! reports, because absolute figures drift on a shared machine.

use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use clap::Parser;

/// Command line of the reference server.
#[derive(Parser)]
#[command(
    name = "bench-reference",
    about = "Fixed-JSON reference server for bench/run"
)]
struct Args {
    /// Port to listen on (0 = let the kernel pick one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind; loopback unless you really mean otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
}

/// The body, shaped like nanoclaw's success envelope around a user object, so the bytes on
/// the wire are comparable with `GET /api/auth/profile`.
fn body() -> Bytes {
    let value = serde_json::json!({
        "code": 0,
        "data": {
            "id": 1,
            "username": "reference",
            "email": null,
            "avatar": null,
            "role": "admin",
            "is_active": true,
            "created_at": "2025-01-01T00:00:00.000000+00:00",
            "last_login_at": "2025-01-01T00:00:00.000000+00:00"
        }
    });
    Bytes::from(value.to_string())
}

fn app() -> Router {
    // Serialised once: the reference is the ceiling, so it does the least work a JSON
    // endpoint can do (the clone is a reference-count increment).
    let body = body();
    let handler = move || {
        let body = body.clone();
        async move {
            let content_type = HeaderValue::from_static("application/json");
            (StatusCode::OK, [(CONTENT_TYPE, content_type)], body).into_response()
        }
    };
    Router::new().fallback(handler)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-reference: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-reference: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: &Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("listener has no address: {e}"))?;
    eprintln!("listening on http://{local}");
    axum::serve(listener, app())
        .await
        .map_err(|e| format!("server failed: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn body_is_json_of_about_200_bytes() {
        let body = super::body();
        assert!((150..=250).contains(&body.len()), "{} bytes", body.len());
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["code"], 0);
    }
}
