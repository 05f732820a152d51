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
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
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
        assert_eq!(now_utc().and_utc().timestamp_subsec_nanos() % 1000, 0);
    }
}
