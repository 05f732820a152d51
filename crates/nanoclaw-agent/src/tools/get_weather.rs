//! `get_weather` (tools.md §4.14): nanoClaw's simulated table, saying so, or the current
//! weather from Open-Meteo (config `weather.provider: open_meteo`).

use std::time::Duration;

use nanoclaw_core::config::{WeatherConfig, WeatherProvider};
use serde_json::{Map, Value, json};

use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// Longest `city` accepted, in characters.
pub const MAX_CITY_CHARS: usize = 200;

/// Most bytes read from one provider response.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// The `get_weather` tool.
#[derive(Debug, Clone)]
pub struct GetWeather {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Simulated,
    OpenMeteo(Box<OpenMeteo>),
}

#[derive(Debug, Clone)]
struct OpenMeteo {
    http: reqwest::Client,
    geocoding: reqwest::Url,
    forecast: reqwest::Url,
    language: String,
}

impl GetWeather {
    /// The simulated provider (no network).
    pub fn simulated() -> GetWeather {
        GetWeather {
            source: Source::Simulated,
        }
    }

    /// The provider `config` names; an error when the HTTP client cannot be built or a URL is
    /// not an http(s) URL.
    pub fn from_config(config: &WeatherConfig) -> Result<GetWeather, String> {
        match config.provider {
            WeatherProvider::Simulated => Ok(GetWeather::simulated()),
            WeatherProvider::OpenMeteo => {
                let url = |key: &str, text: &str| {
                    reqwest::Url::parse(text)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "http" | "https"))
                        .ok_or_else(|| format!("weather.{key} is not an http(s) URL"))
                };
                nanoclaw_llm::install_crypto_provider();
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(config.timeout.max(1)))
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("nanoclaw/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("building the weather HTTP client: {e}"))?;
                Ok(GetWeather {
                    source: Source::OpenMeteo(Box::new(OpenMeteo {
                        http,
                        geocoding: url("geocoding_url", &config.geocoding_url)?,
                        forecast: url("forecast_url", &config.forecast_url)?,
                        language: config.language.clone(),
                    })),
                })
            }
        }
    }
}

/// nanoClaw's fixed table (tools.md §4.14), marked as simulated.
pub fn simulated(city: &str) -> Value {
    let (temperature, humidity, description) = match city {
        "北京" => (25, 60, "晴天"),
        "上海" => (28, 75, "多云"),
        "广州" => (32, 85, "雷阵雨"),
        "深圳" => (30, 80, "阴天"),
        _ => (22, 65, "晴天"),
    };
    json!({
        "city": city,
        "temperature": temperature,
        "humidity": humidity,
        "description": description,
        "query_time": "2026-03-24 12:00:00",
        "simulated": true,
    })
}

/// The WMO weather interpretation code Open-Meteo reports, in words.
pub fn wmo_description(code: i64) -> &'static str {
    match code {
        0 => "Clear sky",
        1 => "Mainly clear",
        2 => "Partly cloudy",
        3 => "Overcast",
        45 | 48 => "Fog",
        51 | 53 | 55 => "Drizzle",
        56 | 57 => "Freezing drizzle",
        61 | 63 | 65 => "Rain",
        66 | 67 => "Freezing rain",
        71 | 73 | 75 => "Snow",
        77 => "Snow grains",
        80..=82 => "Rain showers",
        85 | 86 => "Snow showers",
        95 => "Thunderstorm",
        96 | 99 => "Thunderstorm with hail",
        _ => "Unknown",
    }
}

/// GET `url` and parse its JSON body, reading at most [`MAX_RESPONSE_BYTES`].
async fn get_json(http: &reqwest::Client, url: reqwest::Url) -> Result<Value, String> {
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("Weather provider unreachable: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("Weather provider error: HTTP {}", status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("Weather provider error: {}", e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err("Weather provider error: response too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body)
        .map_err(|_| "Weather provider error: the response is not JSON".to_owned())
}

async fn open_meteo(
    http: &reqwest::Client,
    geocoding: &reqwest::Url,
    forecast: &reqwest::Url,
    language: &str,
    city: &str,
) -> Result<Value, String> {
    let mut url = geocoding.clone();
    url.query_pairs_mut()
        .append_pair("name", city)
        .append_pair("count", "1")
        .append_pair("language", language)
        .append_pair("format", "json");
    let places = get_json(http, url).await?;
    let Some(place) = places
        .get("results")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
    else {
        return Ok(json!({"error": format!("City not found: {city}")}));
    };
    let (Some(latitude), Some(longitude)) = (
        place.get("latitude").and_then(Value::as_f64),
        place.get("longitude").and_then(Value::as_f64),
    ) else {
        return Err("Weather provider error: the place has no coordinates".into());
    };
    let mut url = forecast.clone();
    url.query_pairs_mut()
        .append_pair("latitude", &latitude.to_string())
        .append_pair("longitude", &longitude.to_string())
        .append_pair(
            "current",
            "temperature_2m,relative_humidity_2m,weather_code,wind_speed_10m",
        )
        .append_pair("timezone", "auto");
    let weather = get_json(http, url).await?;
    let Some(current) = weather.get("current") else {
        return Err("Weather provider error: no current weather in the response".into());
    };
    let code = current.get("weather_code").and_then(Value::as_i64);
    // "2026-03-24T12:00" (local time of the place) → nanoClaw's "2026-03-24 12:00:00".
    let query_time = current
        .get("time")
        .and_then(Value::as_str)
        .map(|t| {
            let t = t.replacen('T', " ", 1);
            if t.len() == 16 { format!("{t}:00") } else { t }
        })
        .unwrap_or_default();
    Ok(json!({
        "city": city,
        "temperature": current.get("temperature_2m").cloned().unwrap_or(Value::Null),
        "humidity": current.get("relative_humidity_2m").cloned().unwrap_or(Value::Null),
        "description": code.map_or("Unknown", wmo_description),
        "wind_speed": current.get("wind_speed_10m").cloned().unwrap_or(Value::Null),
        "query_time": query_time,
        "location": {
            "name": place.get("name").cloned().unwrap_or(Value::Null),
            "country": place.get("country").cloned().unwrap_or(Value::Null),
            "latitude": latitude,
            "longitude": longitude,
        },
        "provider": "open-meteo",
        "simulated": false,
    }))
}

impl Tool for GetWeather {
    fn name(&self) -> &str {
        "get_weather"
    }

    fn description(&self) -> &str {
        match self.source {
            Source::Simulated => {
                "Get the weather of a city. NOTE: this server's weather is simulated \
                 (fixed sample values, marked \"simulated\": true); say so when you use it."
            }
            Source::OpenMeteo(_) => {
                "Get the current weather of a city (temperature in °C, relative humidity in %, \
                 conditions, wind speed in km/h) from Open-Meteo."
            }
        }
    }

    fn category(&self) -> &str {
        "weather"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name, e.g. 北京 or Berlin."}},
            "required": ["city"]
        })
    }

    fn has_side_effects(&self) -> bool {
        // Real weather changes; the simulated table never does.
        matches!(self.source, Source::OpenMeteo(_))
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            let city = match args.get("city") {
                None => return Err("'city'".into()),
                Some(Value::String(s)) => s.as_str(),
                Some(_) => return Err("'city' must be a string".into()),
            };
            if city.chars().count() > MAX_CITY_CHARS {
                return Ok(
                    json!({"error": format!("City name longer than {MAX_CITY_CHARS} characters")}),
                );
            }
            match &self.source {
                Source::Simulated => Ok(simulated(city)),
                Source::OpenMeteo(provider) => {
                    let OpenMeteo {
                        http,
                        geocoding,
                        forecast,
                        language,
                    } = provider.as_ref();
                    if city.trim().is_empty() {
                        return Ok(json!({"error": "City name is empty"}));
                    }
                    tokio::select! {
                        () = ctx.cancel.cancelled() => Err("Cancelled".into()),
                        out = open_meteo(http, geocoding, forecast, language, city.trim()) => out,
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_table() {
        assert_eq!(
            simulated("北京"),
            json!({"city": "北京", "temperature": 25, "humidity": 60, "description": "晴天",
                   "query_time": "2026-03-24 12:00:00", "simulated": true})
        );
        assert_eq!(simulated("上海")["description"], json!("多云"));
        assert_eq!(simulated("广州")["temperature"], json!(32));
        assert_eq!(simulated("深圳")["humidity"], json!(80));
        let other = simulated("Berlin");
        assert_eq!(
            (
                &other["temperature"],
                &other["humidity"],
                &other["description"]
            ),
            (&json!(22), &json!(65), &json!("晴天"))
        );
        assert_eq!(other["city"], json!("Berlin"));
        assert_eq!(wmo_description(95), "Thunderstorm");
        assert_eq!(wmo_description(81), "Rain showers");
        assert_eq!(wmo_description(1000), "Unknown");
    }

    #[test]
    fn bad_provider_urls_are_refused() {
        let config = WeatherConfig {
            provider: WeatherProvider::OpenMeteo,
            forecast_url: "file:///etc/passwd".into(),
            ..WeatherConfig::default()
        };
        assert_eq!(
            GetWeather::from_config(&config).unwrap_err(),
            "weather.forecast_url is not an http(s) URL"
        );
    }
}
