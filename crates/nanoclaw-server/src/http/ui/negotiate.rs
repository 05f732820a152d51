//! The request-side rules of serving the web interface, as plain functions: which encoding a
//! client accepts, whether its `If-None-Match` names what we have, whether it wants HTML, and
//! which embedded file a URL path may name.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// A content coding we hold precompressed variants in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// `br`.
    Brotli,
    /// `gzip` (or the legacy `x-gzip`).
    Gzip,
    /// No content coding.
    Identity,
}

/// The best coding among those available by the client's `Accept-Encoding` values: the
/// highest `q`, brotli before gzip on a tie; identity when the client lists neither (or
/// refuses both with `q=0`). Identity is always possible, even when refused: a 406 would help
/// nobody.
pub fn choose<'a>(
    accept_encoding: impl Iterator<Item = &'a str>,
    brotli: bool,
    gzip: bool,
) -> Coding {
    let (mut br_q, mut gz_q, mut any_q) = (None::<f32>, None::<f32>, None::<f32>);
    for item in accept_encoding.flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
            .next()
            .unwrap_or(1.0);
        let slot = if name.eq_ignore_ascii_case("br") {
            &mut br_q
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            &mut gz_q
        } else if name == "*" {
            &mut any_q
        } else {
            continue;
        };
        // A coding listed twice keeps its best value.
        *slot = Some(slot.map_or(q, |old| old.max(q)));
    }
    let br = if brotli { br_q.or(any_q) } else { None }.unwrap_or(0.0);
    let gz = if gzip { gz_q.or(any_q) } else { None }.unwrap_or(0.0);
    if br > 0.0 && br >= gz {
        Coding::Brotli
    } else if gz > 0.0 {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// True when an `If-None-Match` value matches one of `tags` (`"…"` with their quotes), by the
/// weak comparison RFC 9110 asks for here: `W/` prefixes are ignored, `*` matches anything.
pub fn none_match<'a>(if_none_match: impl Iterator<Item = &'a str>, tags: &[&str]) -> bool {
    if_none_match.flat_map(|v| v.split(',')).any(|t| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || tags.contains(&t)
    })
}

/// True when an `Accept` header names `text/html` (what browsers send when navigating to a
/// page; scripts, styles and images ask for other types, or `*/*`).
pub fn wants_html<'a>(accept: impl Iterator<Item = &'a str>) -> bool {
    accept.flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        media.eq_ignore_ascii_case("text/html") && !refused
    })
}

/// Why a path cannot name an embedded file.
#[derive(Debug, PartialEq, Eq)]
pub struct BadPath;

/// The embedded-file key a URL path names: percent-decoded, without the leading `/`. Refused:
/// invalid UTF-8 after decoding, NUL and other control characters, backslashes, and `.` or
/// `..` segments (including ones spelt `%2e%2e` or hidden behind an encoded `/`). The files
/// are an in-memory map, so nothing outside it is reachable anyway; refusing these answers
/// traversal probes with a 400 instead of the page.
pub fn file_key(path: &str) -> Result<Cow<'_, str>, BadPath> {
    let raw = path.strip_prefix('/').unwrap_or(path);
    let key = percent_decode_str(raw).decode_utf8().map_err(|_| BadPath)?;
    let bad_char = key.chars().any(|c| c.is_control() || c == '\\');
    let bad_segment = key.split('/').any(|s| s == "." || s == "..");
    if bad_char || bad_segment {
        return Err(BadPath);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(value: &str) -> Coding {
        choose(std::iter::once(value), true, true)
    }

    #[test]
    fn codings_follow_q_values_and_preference() {
        assert_eq!(pick("gzip, deflate, br, zstd"), Coding::Brotli);
        assert_eq!(pick("gzip, deflate"), Coding::Gzip);
        assert_eq!(pick("GZIP"), Coding::Gzip);
        assert_eq!(pick("x-gzip"), Coding::Gzip);
        assert_eq!(pick(""), Coding::Identity);
        assert_eq!(pick("identity"), Coding::Identity);
        assert_eq!(pick("deflate, zstd"), Coding::Identity);
        assert_eq!(pick("br;q=0, gzip"), Coding::Gzip);
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Coding::Gzip);
        assert_eq!(pick("br;q=0.8, gzip;q=0.8"), Coding::Brotli);
        assert_eq!(pick("br; q=0 , gzip ;q=0"), Coding::Identity);
        assert_eq!(pick("*"), Coding::Brotli);
        assert_eq!(pick("*;q=0"), Coding::Identity);
        assert_eq!(pick("br;q=0, *"), Coding::Gzip);
        assert_eq!(pick("br;q=nonsense, gzip"), Coding::Gzip);
        // Two header lines are one list.
        assert_eq!(
            choose(["br;q=0", "gzip"].into_iter(), true, true),
            Coding::Gzip
        );
        // Only variants that exist are chosen.
        assert_eq!(
            choose(std::iter::once("br, gzip"), false, true),
            Coding::Gzip
        );
        assert_eq!(
            choose(std::iter::once("br, gzip"), false, false),
            Coding::Identity
        );
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let tags = ["\"abc\"", "\"abc-br\""];
        assert!(none_match(std::iter::once("\"abc\""), &tags));
        assert!(none_match(std::iter::once("W/\"abc-br\""), &tags));
        assert!(none_match(std::iter::once("\"x\", \"abc\""), &tags));
        assert!(none_match(std::iter::once("*"), &tags));
        assert!(!none_match(std::iter::once("\"abd\""), &tags));
        assert!(!none_match(std::iter::once("abc"), &tags));
        assert!(!none_match(std::iter::empty(), &tags));
    }

    #[test]
    fn html_is_wanted_only_when_named() {
        assert!(wants_html(std::iter::once(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(wants_html(std::iter::once("TEXT/HTML")));
        assert!(!wants_html(std::iter::once("*/*")));
        assert!(!wants_html(std::iter::once("application/json")));
        assert!(!wants_html(std::iter::once("text/html;q=0")));
        assert!(!wants_html(std::iter::empty()));
    }

    #[test]
    fn traversal_spellings_are_refused() {
        assert_eq!(file_key("/").unwrap(), "");
        assert_eq!(
            file_key("/assets/index-ab12.js").unwrap(),
            "assets/index-ab12.js"
        );
        assert_eq!(file_key("/a%20b.txt").unwrap(), "a b.txt");
        assert_eq!(file_key("/chat/%C3%A9t%C3%A9").unwrap(), "chat/été");
        for bad in [
            "/../etc/passwd",
            "/..",
            "/./index.html",
            "/assets/../index.html",
            "/..%2fetc%2fpasswd",
            "/..%2Fetc",
            "/%2e%2e/etc",
            "/%2E%2E%2Fetc",
            "/assets/%2e%2e%2f%2e%2e%2fetc",
            "/..\\etc",
            "/..%5cetc",
            "/index.html%00.js",
            "/a%0d%0ab",
            "/%ff",
            "/%c0%ae%c0%ae/etc",
        ] {
            assert_eq!(file_key(bad), Err(BadPath), "{bad}");
        }
    }
}
