//! Log output: stderr, `RUST_LOG`-style filtering, JSON lines or human-readable ones. Every
//! line written while a request is handled carries its `request_id` (see
//! [`request_id`](crate::http::request_id)).

use std::fmt;
use std::io::IsTerminal;

use nanoclaw_core::config::LogFormat;
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Format, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::http::request_id;

/// Logs to stderr, filtered by `RUST_LOG`; JSON lines or human-readable ones per `log_format`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !terminal,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // The default reports a failed log write with eprintln!, which panics when stderr is a
        // closed pipe: a dead log collector must not take the server down with it.
        .log_internal_errors(false);
    if json {
        // `request_id` and the event's fields at the top level next to `message`; enclosing
        // spans, if any, in `spans`.
        let lines = tracing_subscriber::fmt::format()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true);
        builder
            .with_ansi(false)
            .json()
            .event_format(JsonLines(lines))
            .init();
    } else {
        builder
            .with_ansi(terminal)
            .fmt_fields(PrettyFields(DefaultFields::new()))
            .init();
    }
}

/// JSON lines with `"request_id"` as the first key inside a request.
struct JsonLines(Format<Json>);

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        request_id::with_current(|id| {
            let Some(id) = id else {
                return self.0.format_event(ctx, writer, event);
            };
            let mut line = String::new();
            self.0.format_event(ctx, Writer::new(&mut line), event)?;
            // Request ids are validated to `[A-Za-z0-9._-]`: nothing to escape.
            match line.strip_prefix('{') {
                Some(rest) => write!(writer, "{{\"request_id\":\"{id}\",{rest}"),
                None => writer.write_str(&line),
            }
        })
    }
}

/// Human-readable fields, followed by `request_id=…` inside a request.
struct PrettyFields(DefaultFields);

impl<'writer> FormatFields<'writer> for PrettyFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        self.0.format_fields(writer.by_ref(), fields)?;
        request_id::with_current(|id| match id {
            Some(id) => write!(writer, " request_id={id}"),
            None => Ok(()),
        })
    }
}
