//! Reading timestamp columns on the hot pages. SQLite keeps timestamps as text, which sqlx
//! decodes by trying up to a dozen chrono format strings in turn, each parsed anew (a twentieth
//! of a conversation page's CPU). The layout we and nanoClaw write is read here directly;
//! anything else is still left to sqlx, so no row reads differently.

use chrono::{NaiveDate, NaiveDateTime};
use sea_orm::{DbBackend, DbErr, QueryResult};

/// The timestamp in column `col` of `row`.
pub(crate) fn time_at(
    row: &QueryResult,
    backend: DbBackend,
    col: &str,
) -> Result<Option<NaiveDateTime>, DbErr> {
    if backend == DbBackend::Sqlite
        && let Ok(Some(text)) = row.try_get::<Option<String>>("", col)
        && let Some(t) = parse_plain(&text)
    {
        return Ok(Some(t));
    }
    row.try_get::<Option<NaiveDateTime>>("", col)
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), optionally with a fraction of 1 to 9 digits, and
/// nothing else: what chrono's `%F %T%.f` (or `%FT%T%.f`) reads, with the same result. `None` for any
/// other text, a leap second or an impossible date.
fn parse_plain(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b.get(range)?.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let value = num(20..b.len())?;
            value * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
        }
        _ => return None,
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let second = num(17..19)?;
    if second > 59 {
        return None;
    }
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)?.and_hms_nano_opt(
        num(11..13)?,
        num(14..16)?,
        second,
        nanos,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_timestamps_read_as_chrono_reads_them() {
        for text in [
            "2026-01-06 18:57:43.123456",
            "2026-01-06 18:57:43",
            "2026-01-06T18:57:43.1",
            "2026-12-31 23:59:59.999999999",
            "0001-01-01 00:00:00.000000",
            "2024-02-29 12:00:00.5",
        ] {
            let want = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
                .unwrap();
            assert_eq!(parse_plain(text), Some(want), "{text}");
        }
    }

    #[test]
    fn anything_else_is_left_to_sqlx() {
        for text in [
            "2026-01-06 18:57:43Z",
            "2026-01-06 18:57:43+02:00",
            "2026-01-06 18:57:43.",
            "2026-01-06 18:57:43.1234567890",
            "2026-01-06 18:57",
            "2026-02-30 10:00:00",
            "2026-01-06 24:00:00",
            "2026-06-30 23:59:60",
            "2026-1-06 18:57:43",
            "+2026-01-06 18:57:43",
            "2026-01-06 18:57:4x",
            "",
            "2026-01-06 18:57:43.12a",
        ] {
            assert_eq!(parse_plain(text), None, "{text}");
        }
    }
}
