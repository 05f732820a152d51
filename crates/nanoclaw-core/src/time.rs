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
    Rfc3339Micros::new(t).as_str().to_owned()
}

/// A timestamp formatted without allocating: `N` bytes written in place for years 0 to 9999,
/// chrono's text for any other year. User objects, conversations and messages are on hot
/// paths, and serialise these directly (as a JSON string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormattedTime<const N: usize> {
    /// Years 0 to 9999: the fixed-width form, written in place.
    Fixed([u8; N]),
    /// Any other year, as chrono writes it.
    Other(String),
}

/// A timestamp as [`to_rfc3339_micros`] writes it: `0000-00-00T00:00:00.000000Z`.
pub type Rfc3339Micros = FormattedTime<27>;

/// A timestamp to the second, `0000-00-00T00:00:00Z`: how nanoClaw writes conversation and
/// message times.
pub type Rfc3339Seconds = FormattedTime<20>;

impl Rfc3339Micros {
    /// `t` formatted.
    pub fn new(t: &NaiveDateTime) -> Self {
        use chrono::{Datelike, Timelike};
        // Digits written in place: `format!` (let alone chrono's format strings, parsed anew
        // on every call) costs several times more.
        // A leap second is stored as nanoseconds past 10^9; chrono prints it as second 60.
        let (second, nanos) = match t.nanosecond() {
            n if n >= 1_000_000_000 => (t.second() + 1, n - 1_000_000_000),
            n => (t.second(), n),
        };
        let year = match u32::try_from(t.year()) {
            Ok(year) if year <= 9999 => year,
            _ => return Self::Other(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
        };
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        for (range, value) in [
            (0..4, year),
            (5..7, t.month()),
            (8..10, t.day()),
            (11..13, t.hour()),
            (14..16, t.minute()),
            (17..19, second),
            (20..26, nanos / 1000),
        ] {
            let mut n = value;
            for digit in out[range].iter_mut().rev() {
                *digit = b'0' + u8::try_from(n % 10).unwrap_or(0);
                n /= 10;
            }
        }
        Self::Fixed(out)
    }
}

impl Rfc3339Seconds {
    /// `t` formatted (the fraction dropped, not rounded).
    pub fn new(t: &NaiveDateTime) -> Self {
        match Rfc3339Micros::new(t) {
            FormattedTime::Fixed(micros) => {
                let mut out = [b'Z'; 20];
                out[..19].copy_from_slice(&micros[..19]);
                Self::Fixed(out)
            }
            FormattedTime::Other(_) => Self::Other(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        }
    }
}

impl<const N: usize> FormattedTime<N> {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits and punctuation are ever written, so this never fails.
            Self::Fixed(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            Self::Other(s) => s,
        }
    }
}

impl<const N: usize> std::fmt::Display for FormattedTime<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> serde::Serialize for FormattedTime<N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
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
        for (y, mo, d, h, mi, se, us) in [
            (1970, 1, 1, 0, 0, 0, 0),
            (2000, 2, 29, 12, 30, 59, 999_999),
            (9999, 12, 31, 23, 59, 59, 123_456),
            (10_000, 1, 1, 0, 0, 0, 1),
        ] {
            let t = chrono::NaiveDate::from_ymd_opt(y, mo, d)
                .and_then(|d| d.and_hms_micro_opt(h, mi, se, us))
                .unwrap();
            assert_eq!(
                to_rfc3339_micros(&t),
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            );
        }
        assert_eq!(now_utc().and_utc().timestamp_subsec_nanos() % 1000, 0);
        for t in [t, leap, early] {
            assert_eq!(
                Rfc3339Seconds::new(&t).as_str(),
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            );
        }
        let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1)
            .and_then(|d| d.and_hms_micro_opt(0, 0, 1, 999_999))
            .unwrap();
        assert_eq!(Rfc3339Seconds::new(&far).as_str(), "+10000-01-01T00:00:01Z");
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .and_then(|d| d.and_hms_micro_opt(2, 41, 12, 79_856))
            .unwrap();
        assert_eq!(
            serde_json::to_string(&Rfc3339Micros::new(&t)).unwrap(),
            r#""2026-11-27T02:41:12.079856Z""#
        );
    }
}
