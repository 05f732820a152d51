//! `${NAME}`, `$NAME` and `${NAME:-default}` expansion in configuration strings.

/// Expands environment references in `input`, looking names up with `lookup`.
///
/// * `${NAME}` and `$NAME` (`NAME` = letters, digits, `_`; the longest run) are replaced by the
///   variable's value; an unset variable is an error naming it.
/// * `${NAME:-default}` uses `default` when the variable is unset or empty.
/// * `$$` is a literal `$`; a `$` not followed by a name or `{` is kept as is.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    if !input.contains('$') {
        return Ok(input.to_owned());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| "has an unterminated `${`".to_owned())?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_name(name) {
                return Err("has a `${…}` that is not a variable reference".to_owned());
            }
            match (lookup(name), default) {
                (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!(
                        "environment variable {name} is not set (write ${{{name}:-}} to allow an empty value)"
                    ));
                }
            }
            rest = &body[end + 1..];
        } else {
            let len = after
                .char_indices()
                .find(|&(_, c)| !is_name_char(c))
                .map_or(after.len(), |(i, _)| i);
            if len == 0 {
                out.push('$');
                rest = after;
                continue;
            }
            let name = &after[..len];
            // The name is not shown: a bare `$` may be part of a secret (`pa$word`), not a
            // reference the user meant.
            let value = lookup(name).ok_or_else(|| {
                "refers to an unset environment variable with `$NAME` (write `$$` for a literal `$`, \
                 or ${NAME:-} to allow an empty value)"
                    .to_owned()
            })?;
            out.push_str(&value);
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_name_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_every_form() {
        assert_eq!(expand("plain", env).unwrap(), "plain");
        assert_eq!(expand("${KEY}", env).unwrap(), "sk-1");
        assert_eq!(expand("Bearer $KEY!", env).unwrap(), "Bearer sk-1!");
        assert_eq!(expand("${MISSING:-fallback}", env).unwrap(), "fallback");
        assert_eq!(expand("${EMPTY:-fallback}", env).unwrap(), "fallback");
        assert_eq!(expand("${KEY:-fallback}", env).unwrap(), "sk-1");
        assert_eq!(expand("${MISSING:-}", env).unwrap(), "");
        assert_eq!(
            expand("cost $$5 and $ alone", env).unwrap(),
            "cost $5 and $ alone"
        );
    }

    #[test]
    fn longest_name_is_taken() {
        assert!(expand("$KEYabc", env).is_err());
        assert_eq!(expand("$KEY.abc", env).unwrap(), "sk-1.abc");
    }

    #[test]
    fn errors_do_not_repeat_the_text() {
        for text in ["pa$word-s3cr3t", "${s3cr3t", "${s3-cr3t}", "x${a-s3cr3t}"] {
            let e = expand(text, env).unwrap_err();
            assert!(!e.contains("s3cr3t") && !e.contains("word"), "{e}");
        }
    }

    #[test]
    fn unset_and_malformed_references_are_errors() {
        assert!(
            expand("${MISSING}", env)
                .unwrap_err()
                .contains("MISSING is not set")
        );
        assert!(expand("$MISSING", env).is_err());
        assert!(expand("${KEY", env).unwrap_err().contains("unterminated"));
        assert!(expand("${a-b}", env).is_err());
    }
}
