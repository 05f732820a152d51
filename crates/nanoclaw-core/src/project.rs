//! Projects as the rest of the program sees them: a named folder of a user's files.
//!
//! The name is only a label; the folder (`path`, relative to the workspace root) is chosen by
//! the server (`user_<id>/<uuid>`) and never derived from the name. Timestamps are naive UTC.

use chrono::NaiveDateTime;

/// `projects.name` is varchar(255).
pub const NAME_MAX: usize = 255;
/// `projects.path` is varchar(512).
pub const PATH_MAX: usize = 512;
/// Longest description accepted (characters); the column is `text`.
pub const DESCRIPTION_MAX: usize = 10_000;

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// UUID v4 (imported nanoClaw rows keep theirs).
    pub id: String,
    /// Owner.
    pub user_id: i64,
    /// The label, unique per owner.
    pub name: String,
    /// Folder relative to the workspace root, e.g. `user_1/0b6f…`.
    pub path: String,
    /// Free text (`""` when none).
    pub description: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change of the row (name or description).
    pub updated_at: NaiveDateTime,
    /// Conversations bound to it; only filled by the list and the detail read.
    pub conversation_count: Option<i64>,
}

/// A project to create (already validated; `path` chosen by the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    /// Owner.
    pub user_id: i64,
    /// The label.
    pub name: ProjectName,
    /// Folder relative to the workspace root.
    pub path: String,
    /// Free text.
    pub description: String,
}

/// Changes to a project; `None` leaves a field alone. The folder never moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectPatch {
    /// New label.
    pub name: Option<ProjectName>,
    /// New description.
    pub description: Option<String>,
}

/// A valid project name: trimmed, 1–255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectName(String);

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("the name is empty")]
    Empty,
    /// More than [`NAME_MAX`] characters.
    #[error("the name is longer than 255 characters")]
    TooLong,
    /// A control character (newline, tab, NUL, …).
    #[error("the name contains a control character")]
    Control,
}

impl ProjectName {
    /// Trims `raw` and checks it.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            Err(NameError::Empty)
        } else if name.chars().count() > NAME_MAX {
            Err(NameError::TooLong)
        } else if name.chars().any(char::is_control) {
            Err(NameError::Control)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ProjectName> for String {
    fn from(n: ProjectName) -> Self {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_labels() {
        assert_eq!(
            ProjectName::parse("  Algo Lab ").unwrap().as_str(),
            "Algo Lab"
        );
        // Slashes and dots are fine in a label: the folder never comes from it.
        assert_eq!(ProjectName::parse("zz/../..").unwrap().as_str(), "zz/../..");
        assert_eq!(ProjectName::parse("项目").unwrap().as_str(), "项目");
        assert_eq!(ProjectName::parse(" \t "), Err(NameError::Empty));
        assert_eq!(ProjectName::parse("a\nb"), Err(NameError::Control));
        assert_eq!(ProjectName::parse("a\0b"), Err(NameError::Control));
        assert!(ProjectName::parse(&"é".repeat(255)).is_ok());
        assert_eq!(
            ProjectName::parse(&"é".repeat(256)),
            Err(NameError::TooLong)
        );
    }
}
