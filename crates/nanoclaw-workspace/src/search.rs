//! Content search (api.md §6.14) with the ripgrep crates.

use grep_regex::RegexMatcherBuilder;
use grep_searcher::sinks::Lossy;
use grep_searcher::{BinaryDetection, SearcherBuilder};
use serde::Serialize;

/// Extensions (lower-case, without the dot) of files the search reads; files without an
/// extension are read too (api.md §6.14).
pub const TEXT_EXTENSIONS: &[&str] = &[
    "py",
    "js",
    "ts",
    "jsx",
    "tsx",
    "vue",
    "html",
    "css",
    "scss",
    "less",
    "json",
    "yaml",
    "yml",
    "toml",
    "xml",
    "csv",
    "md",
    "txt",
    "log",
    "sh",
    "bash",
    "zsh",
    "bat",
    "ps1",
    "cmd",
    "c",
    "h",
    "cpp",
    "hpp",
    "java",
    "go",
    "rs",
    "rb",
    "php",
    "sql",
    "r",
    "swift",
    "kt",
    "dart",
    "lua",
    "pl",
    "m",
    "ini",
    "cfg",
    "conf",
    "env",
    "gitignore",
    "dockerignore",
    "dockerfile",
    "makefile",
    "cmake",
    "gradle",
    "properties",
    "proto",
    "graphql",
    "tf",
    "hcl",
];

/// Once the recorded lines of one file exceed this many characters, the file is done (the
/// line that crosses is kept).
pub const MAX_CHARS_PER_FILE: usize = 10_000;

/// A search request (api.md §6.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Literal text to find (not a regex); an empty query finds nothing.
    pub query: String,
    /// Directory to search below, relative to the project (`""` for the root).
    pub path: String,
    /// Most files with matches to return; bounded by `Limits::max_search_results`.
    pub max_results: usize,
    /// Match case exactly (default in the API: false).
    pub case_sensitive: bool,
}

/// The answer of a search, serialised as api.md §6.14's `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchResults {
    /// The query as given.
    pub query: String,
    /// Files with at least one matching line, in path order.
    pub results: Vec<FileMatches>,
    /// Number of files in `results`.
    pub total_matches: usize,
}

/// The matching lines of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileMatches {
    /// Path relative to the project root, `/`-separated.
    pub path: String,
    /// Matching lines in file order.
    pub matches: Vec<LineMatch>,
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineMatch {
    /// 1-based line number.
    pub line: u64,
    /// The whole line without its line terminator; undecodable bytes become U+FFFD.
    pub content: String,
}

/// Whether the search reads a file of this name (api.md §6.14).
pub(crate) fn is_searched_name(name: &str) -> bool {
    if name.starts_with('.') {
        return false;
    }
    match std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
    {
        None => true,
        Some(ext) => TEXT_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()),
    }
}

/// Builds the matcher and searcher for a query; `None` for an empty query.
pub(crate) struct Grep {
    matcher: grep_regex::RegexMatcher,
    searcher: grep_searcher::Searcher,
}

impl Grep {
    pub(crate) fn new(query: &str, case_sensitive: bool) -> Result<Option<Grep>, std::io::Error> {
        if query.is_empty() {
            return Ok(None);
        }
        let matcher = RegexMatcherBuilder::new()
            .fixed_strings(true)
            .case_insensitive(!case_sensitive)
            .line_terminator(Some(b'\n'))
            .build(query)
            .map_err(std::io::Error::other)?;
        let searcher = SearcherBuilder::new()
            .line_number(true)
            // A NUL byte means a binary file: stop there, as ripgrep does, rather than return
            // lines of garbage (nanoClaw decoded everything).
            .binary_detection(BinaryDetection::quit(b'\0'))
            .build();
        Ok(Some(Grep { matcher, searcher }))
    }

    /// The matching lines of one open file (empty when none).
    pub(crate) fn file(&mut self, file: &std::fs::File) -> Vec<LineMatch> {
        let mut matches = Vec::new();
        let mut chars = 0usize;
        let sink = Lossy(|line, text: &str| {
            let content = text.trim_end_matches(['\n', '\r']).to_owned();
            chars += content.chars().count();
            matches.push(LineMatch { line, content });
            Ok(chars <= MAX_CHARS_PER_FILE)
        });
        // An unreadable file contributes what was found before the error.
        let _ = self.searcher.search_file(&self.matcher, file, sink);
        matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searched_names() {
        assert!(is_searched_name("main.py") && is_searched_name("Makefile"));
        assert!(is_searched_name("README.MD"));
        assert!(!is_searched_name(".env") && !is_searched_name("x.png"));
        assert!(!is_searched_name("a.tar.gz"));
    }
}
