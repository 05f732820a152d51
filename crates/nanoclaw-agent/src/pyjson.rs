//! JSON text laid out as Python's `json.dumps(..., ensure_ascii=False)` writes it.
//!
//! Tool results travel as JSON *strings* (in `tool_result` steps, the stored message and the
//! next request to the model); nanoClaw wrote them with `", "` and `": "` separators. Keeping the
//! layout makes new results look like old ones to the user, the model and any string comparison.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// `serde_json`'s compact output with Python's default separators.
struct PyFormatter;

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// Serialises `value` with Python's separators; non-ASCII stays unescaped.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
    match value.serialize(&mut ser) {
        // serde_json only writes valid UTF-8.
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        // Only a map with non-string keys can fail, and we never build one; `null` keeps the
        // result parseable if that ever changes.
        Err(_) => "null".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn python_layout() {
        let v = json!({"a": [1, 2, {"b": null}], "c": "é\"\n", "d": {}, "e": []});
        assert_eq!(
            super::to_string(&v),
            r#"{"a": [1, 2, {"b": null}], "c": "é\"\n", "d": {}, "e": []}"#
        );
    }
}
