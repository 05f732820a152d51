//! Time as nanoClaw stores it: naive UTC, microsecond precision.

use chrono::{DurationRound, NaiveDateTime, TimeDelta, Utc};

/// Now, in UTC, truncated to microseconds (what every supported database keeps).
pub fn now_utc() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// RFC 3339 UTC with microseconds and `Z`, e.g. `2026-11-27T02:41:12.079856Z`.
pub fn to_rfc3339_micros(t: &NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    // Written field by field: chrono's format strings are parsed anew on every call, and
    // user objects are on the hottest path.
    // A leap second is stored as nanoseconds past 10^9; chrono prints it as second 60.
    let (second, nanos) = match t.nanosecond() {
        n if n >= 1_000_000_000 => (t.second() + 1, n - 1_000_000_000),
        n => (t.second(), n),
    };
    let mut out = String::with_capacity(27);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        second,
        nanos / 1000
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_micros_and_zone() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .and_then(|d| d.and_hms_micro_opt(2, 41, 12, 79_856))
            .unwrap();
        assert_eq!(to_rfc3339_micros(&t), "2026-11-27T02:41:12.079856Z");
        let leap = chrono::NaiveDate::from_ymd_opt(2026, 6, 30)
            .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 1_000_001))
            .unwrap();
        assert_eq!(
            to_rfc3339_micros(&leap),
            leap.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
        );
        let early = chrono::NaiveDate::from_ymd_opt(987, 1, 2)
            .and_then(|d| d.and_hms_opt(3, 4, 5))
            .unwrap();
        assert_eq!(to_rfc3339_micros(&early), "0987-01-02T03:04:05.000000Z");
        assert_eq!(now_utc().and_utc().timestamp_subsec_nanos() % 1000, 0);
    }
}
