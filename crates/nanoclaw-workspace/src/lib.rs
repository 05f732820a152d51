//! nanoclaw's project workspaces: the one sandbox every file access goes through.
//!
//! [`Workspaces`] is the workspace root (config `workspace_root`). Each project directory is
//! `user_<id>/<uuid v4>`, never derived from user text (W-01); imported nanoClaw rows keep
//! their stored `user_<id>/<name>` after a check that it lies strictly below a user directory.
//! A [`Workspace`] holds a `cap-std` [`cap_std::fs::Dir`] for one project: every path is first
//! checked lexically ([`RelPath::parse`]: NUL bytes, over-long names, `..` above the root and
//! absolute paths outside the project are refused) and then resolved by the kernel beneath
//! that directory handle (openat2 `RESOLVE_BENEATH` on Linux), so a symlink pointing outside
//! is refused at the moment of use, with no window between check and open (W-02, W-08,
//! tools.md §5). Destructive operations refuse the project root itself.
//!
//! The file API (api.md §6.8–6.14), the folder upload and the six `file_*` tools all go
//! through this crate. Everything here blocks: call it from `spawn_blocking`. No HTTP, no
//! database.

#![warn(missing_docs)]

mod error;
mod limits;
mod path;
mod search;
mod walk;
mod workspace;
mod workspaces;

pub use error::WsError;
pub use limits::Limits;
pub use path::{MAX_NAME_BYTES, MAX_PATH_BYTES, RelPath};
pub use search::{
    FileMatches, LineMatch, MAX_CHARS_PER_FILE, SearchQuery, SearchResults, TEXT_EXTENSIONS,
};
pub use walk::MAX_WALK_DEPTH;
pub use workspace::{Entry, FileData, Kind, OpenedFile, Stat, Workspace, WriteOutcome};
pub use workspaces::Workspaces;
