//! `get_weather` with the Open-Meteo provider against a local fake of its two endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use nanoclaw_agent::tools::get_weather::{GetWeather, MAX_RESPONSE_BYTES};
use nanoclaw_agent::{Tool, ToolContext};
use nanoclaw_core::config::{WeatherConfig, WeatherProvider};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A fake Open-Meteo: answers `GET <path>?<query>` from `route`, recording each target.
async fn fake(
    route: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let route = Arc::new(route);
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let log = log.clone();
            let route = route.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let text = String::from_utf8_lossy(&request);
                let target = text.split(' ').nth(1).unwrap_or("").to_owned();
                log.lock().unwrap().push(target.clone());
                let (status, body) = route(&target);
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    (base, seen)
}

fn tool(base: &str) -> GetWeather {
    GetWeather::from_config(&WeatherConfig {
        provider: WeatherProvider::OpenMeteo,
        geocoding_url: format!("{base}/v1/search"),
        forecast_url: format!("{base}/v1/forecast"),
        language: "de".into(),
        timeout: 10,
    })
    .unwrap()
}

async fn weather(tool: &GetWeather, city: &str) -> Result<Value, String> {
    let mut args = Map::new();
    args.insert("city".into(), json!(city));
    tool.run(args, &ToolContext::default()).await
}

fn route(target: &str) -> (u16, String) {
    if target.starts_with("/v1/search?name=Berlin&") {
        (
            200,
            json!({"results": [{"name": "Berlin", "latitude": 52.52, "longitude": 13.41, "country": "Deutschland"}]})
                .to_string(),
        )
    } else if target.starts_with("/v1/search?name=S%C3%A3o+Paulo") {
        (500, "{}".into())
    } else if target.starts_with("/v1/search?name=Huge") {
        (200, format!("\"{}\"", "x".repeat(MAX_RESPONSE_BYTES)))
    } else if target.starts_with("/v1/search") {
        (200, json!({"generationtime_ms": 0.1}).to_string())
    } else if target.starts_with("/v1/forecast?latitude=52.52&longitude=13.41&") {
        (
            200,
            json!({"current": {"time": "2026-12-03T11:15", "temperature_2m": 3.4,
                   "relative_humidity_2m": 81, "weather_code": 61, "wind_speed_10m": 12.5}})
            .to_string(),
        )
    } else {
        (404, "{}".into())
    }
}

#[tokio::test]
async fn open_meteo_geocodes_then_reads_the_current_weather() {
    let (base, seen) = fake(route).await;
    let tool = tool(&base);
    assert!(tool.has_side_effects(), "real weather must not be cached");
    let out = weather(&tool, " Berlin ").await.unwrap();
    assert_eq!(
        out,
        json!({
            "city": "Berlin",
            "temperature": 3.4,
            "humidity": 81,
            "description": "Rain",
            "wind_speed": 12.5,
            "query_time": "2026-12-03 11:15:00",
            "location": {"name": "Berlin", "country": "Deutschland", "latitude": 52.52, "longitude": 13.41},
            "provider": "open-meteo",
            "simulated": false,
        })
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        "/v1/search?name=Berlin&count=1&language=de&format=json"
    );
    assert_eq!(
        seen[1],
        "/v1/forecast?latitude=52.52&longitude=13.41&current=temperature_2m%2Crelative_humidity_2m%2Cweather_code%2Cwind_speed_10m&timezone=auto"
    );
}

#[tokio::test]
async fn provider_failures_are_failed_results() {
    let (base, _) = fake(route).await;
    let tool = tool(&base);
    assert_eq!(
        weather(&tool, "Atlantis").await,
        Ok(json!({"error": "City not found: Atlantis"}))
    );
    assert_eq!(
        weather(&tool, "São Paulo").await,
        Err("Weather provider error: HTTP 500".into())
    );
    assert_eq!(
        weather(&tool, "Huge").await,
        Err("Weather provider error: response too large".into())
    );
    assert_eq!(
        weather(&tool, "  ").await,
        Ok(json!({"error": "City name is empty"}))
    );
    let long = "x".repeat(201);
    assert!(weather(&tool, &long).await.unwrap()["error"].is_string());
    // Nothing listening: an error naming no URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = weather(&self::tool(&closed), "Berlin").await.unwrap_err();
    assert!(err.starts_with("Weather provider unreachable"), "{err}");
    assert!(!err.contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn the_default_is_the_simulated_table_and_says_so() {
    let tool = GetWeather::from_config(&WeatherConfig::default()).unwrap();
    assert!(!tool.has_side_effects());
    let out = weather(&tool, "上海").await.unwrap();
    assert_eq!(out["simulated"], json!(true));
    assert_eq!(out["temperature"], json!(28));
    assert!(tool.description().contains("simulated"));
}
