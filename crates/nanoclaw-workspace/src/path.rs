//! Lexical checks of user paths, before anything touches the filesystem (tools.md §5.4).

use std::path::Path;

use crate::WsError;

/// Longest accepted path, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest accepted path component, in bytes (Linux `NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;

/// A path inside a project: `/`-joined normal components (no empty, `.` or `..` parts); empty
/// for the project root. Only [`RelPath::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelPath(String);

impl RelPath {
    /// Checks and normalises a user path against the project directory `project_abs`.
    ///
    /// Accepted: `""`, `"."`, relative paths whose `..` never climb above the root (`a/../b`
    /// is `b`), and absolute paths that lexically lie inside `project_abs` (stripped to
    /// relative, as nanoClaw accepted them). `\` is an ordinary character. Refused: NUL bytes
    /// and over-long paths or names ([`WsError::InvalidPath`]), anything that leaves the root
    /// ([`WsError::OutsideProject`]). Symlinks are not looked at here: the kernel resolver of
    /// the project's `Dir` refuses the ones leading outside.
    pub fn parse(input: &str, project_abs: &Path) -> Result<RelPath, WsError> {
        if input.contains('\0') {
            return Err(WsError::InvalidPath("contains a NUL byte".into()));
        }
        if input.len() > MAX_PATH_BYTES {
            return Err(WsError::InvalidPath("path too long".into()));
        }
        if input.starts_with('/') {
            let absolute = normalise(input, true)?;
            let root = project_abs.to_str().ok_or(WsError::OutsideProject)?;
            let root = normalise(root, true)?;
            let inside = if root.is_empty() {
                Some(absolute.as_str())
            } else if absolute == root {
                Some("")
            } else {
                absolute
                    .strip_prefix(root.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
            };
            return inside
                .map(|rest| RelPath(rest.to_owned()))
                .ok_or(WsError::OutsideProject);
        }
        normalise(input, false).map(RelPath)
    }

    /// The project root.
    pub fn root() -> RelPath {
        RelPath(String::new())
    }

    /// Whether this is the project root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The `/`-joined form; empty for the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to users: `.` for the root (tools.md §4.8–4.13).
    pub fn display(&self) -> &str {
        if self.is_root() { "." } else { &self.0 }
    }

    /// The form handed to `cap-std`: `.` for the root.
    pub(crate) fn as_path(&self) -> &Path {
        Path::new(self.display())
    }

    /// Parent (empty for a top-level entry) and last component; `None` for the root.
    pub fn split_last(&self) -> Option<(&str, &str)> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", self.0.as_str()),
        })
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        other.is_root()
            || self.0 == other.0
            || self
                .0
                .strip_prefix(other.0.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// `self` joined with one more component (the caller checked `name`).
    pub(crate) fn join(&self, name: &str) -> RelPath {
        if self.is_root() {
            RelPath(name.to_owned())
        } else {
            RelPath(format!("{}/{name}", self.0))
        }
    }
}

/// Drops empty and `.` components and applies `..` lexically; `..` above the start is an
/// escape unless `absolute` (where `/..` is `/`, as for the kernel).
fn normalise(input: &str, absolute: bool) -> Result<String, WsError> {
    let mut parts: Vec<&str> = Vec::new();
    for part in input.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && !absolute {
                    return Err(WsError::OutsideProject);
                }
            }
            name => {
                if name.len() > MAX_NAME_BYTES {
                    return Err(WsError::InvalidPath("name too long".into()));
                }
                parts.push(name);
            }
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<String, String> {
        RelPath::parse(input, Path::new("/srv/ws/user_1/p"))
            .map(|p| p.as_str().to_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn accepted_forms() {
        for (input, want) in [
            ("", ""),
            (".", ""),
            ("./", ""),
            ("a/b", "a/b"),
            ("./a", "a"),
            ("a//b/", "a/b"),
            ("a/../b", "b"),
            ("a/..", ""),
            ("a\\..\\b", "a\\..\\b"),
            ("/srv/ws/user_1/p", ""),
            ("/srv/ws/user_1/p/", ""),
            ("/srv/ws/user_1/p/src/x.py", "src/x.py"),
            ("//srv/./ws/user_1/p/a/../b", "b"),
            ("é/日本", "é/日本"),
        ] {
            assert_eq!(parse(input).as_deref(), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn refused_forms() {
        let outside = Err("Invalid path: outside project directory".to_owned());
        for input in [
            "..",
            "../x",
            "a/../../x",
            "./..",
            "/etc/passwd",
            "/srv/ws/user_1/p2/x",
            "/srv/ws/user_1/p/../p2",
            "/srv/ws/user_1",
            "/",
        ] {
            assert_eq!(parse(input), outside, "{input:?}");
        }
        assert_eq!(
            parse("a\0b"),
            Err("Invalid path: contains a NUL byte".to_owned())
        );
        assert_eq!(
            parse(&"x".repeat(256)),
            Err("Invalid path: name too long".to_owned())
        );
        assert!(parse(&"x".repeat(255)).is_ok());
        assert_eq!(
            parse(&"a/".repeat(2049)),
            Err("Invalid path: path too long".to_owned())
        );
    }

    #[test]
    fn helpers() {
        let p = RelPath::parse("a/b/c", Path::new("/r")).unwrap();
        assert_eq!(p.split_last(), Some(("a/b", "c")));
        assert_eq!(RelPath::root().split_last(), None);
        assert_eq!(RelPath::root().display(), ".");
        let a = RelPath::parse("a", Path::new("/r")).unwrap();
        let ab = RelPath::parse("ab", Path::new("/r")).unwrap();
        assert!(p.starts_with(&a) && !ab.starts_with(&a) && a.starts_with(&RelPath::root()));
        assert_eq!(a.join("x").as_str(), "a/x");
        assert_eq!(RelPath::root().join("x").as_str(), "x");
    }
}
