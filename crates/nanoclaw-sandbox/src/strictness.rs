//! The three strictness levels of tools.md §4.1: names, timeouts, module allowlists and blocked
//! builtins. They are a policy on the user code's *own* imports and calls; the OS sandbox is
//! the security boundary.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A strictness level, ordered from most restrictive to most permissive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strictness {
    /// Simple calculations, 5 s.
    Strict,
    /// The default, 10 s.
    Standard,
    /// Data processing, 30 s, every module allowed.
    Lenient,
}

/// The error text of tools.md §4.1 for an unknown level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid strictness level: {0}. Must be one of: lenient, standard, strict")]
pub struct InvalidStrictness(pub String);

impl FromStr for Strictness {
    type Err = InvalidStrictness;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lenient" => Ok(Strictness::Lenient),
            "standard" => Ok(Strictness::Standard),
            "strict" => Ok(Strictness::Strict),
            other => Err(InvalidStrictness(other.to_owned())),
        }
    }
}

impl fmt::Display for Strictness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const STANDARD_MODULES: &[&str] = &[
    "json",
    "csv",
    "re",
    "typing",
    "collections",
    "itertools",
    "functools",
    "operator",
    "heapq",
    "bisect",
    "array",
    "copy",
    "pprint",
    "enum",
    "math",
    "cmath",
    "statistics",
    "random",
    "fractions",
    "decimal",
    "numbers",
    "datetime",
    "time",
    "calendar",
    "string",
    "textwrap",
    "unicodedata",
    "difflib",
    "base64",
    "binascii",
    "quopri",
    "uu",
    "html",
    "xml.etree.ElementTree",
    "dataclasses",
    "hashlib",
    "hmac",
    "abc",
    "contextlib",
    "warnings",
    "logging",
];

const STRICT_MODULES: &[&str] = &[
    "collections",
    "itertools",
    "functools",
    "operator",
    "array",
    "copy",
    "enum",
    "math",
    "cmath",
    "numbers",
    "fractions",
    "decimal",
    "random",
    "statistics",
    "string",
    "textwrap",
    "unicodedata",
    "typing",
    "dataclasses",
    "abc",
    "contextlib",
];

const STANDARD_BLOCKED: &[&str] = &[
    "eval",
    "exec",
    "compile",
    "__import__",
    "open",
    "input",
    "globals",
    "locals",
    "vars",
    "breakpoint",
    "exit",
    "quit",
    "memoryview",
    "bytearray",
    "getattr",
    "setattr",
    "delattr",
];

const STRICT_EXTRA_BLOCKED: &[&str] = &["dir", "hasattr", "type", "isinstance", "issubclass"];

impl Strictness {
    /// All levels, most restrictive first.
    pub const ALL: [Strictness; 3] = [
        Strictness::Strict,
        Strictness::Standard,
        Strictness::Lenient,
    ];

    /// The level's name as the model and the config spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Strictness::Lenient => "lenient",
            Strictness::Standard => "standard",
            Strictness::Strict => "strict",
        }
    }

    /// Wall-clock limit of one run.
    pub fn timeout(self) -> Duration {
        Duration::from_secs(match self {
            Strictness::Lenient => 30,
            Strictness::Standard => 10,
            Strictness::Strict => 5,
        })
    }

    /// Modules the user code may import (a dotted entry allows that module and its
    /// submodules); `None` = everything.
    pub fn allowed_modules(self) -> Option<Vec<String>> {
        let list = match self {
            Strictness::Lenient => return None,
            Strictness::Standard => STANDARD_MODULES,
            Strictness::Strict => STRICT_MODULES,
        };
        Some(list.iter().map(|s| (*s).to_owned()).collect())
    }

    /// Builtins removed from the user code's namespace (and refused as bare-name calls).
    pub fn blocked_builtins(self) -> Vec<String> {
        let extra: &[&str] = match self {
            Strictness::Lenient => return Vec::new(),
            Strictness::Standard => &[],
            Strictness::Strict => STRICT_EXTRA_BLOCKED,
        };
        STANDARD_BLOCKED
            .iter()
            .chain(extra)
            .map(|s| (*s).to_owned())
            .collect()
    }
}
