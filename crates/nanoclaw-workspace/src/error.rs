//! The one error type of the sandbox.

use std::io;

/// Why a workspace operation was refused or failed.
///
/// `Display` is a short message fit for a user: it never contains an absolute server path
/// (the io errors of `cap-std` and `std` carry none). The HTTP layer picks the status per
/// variant (api.md §6.8–6.14); the tools pick their own wording.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The path leaves the project: absolute outside it, `..` above its root, or a symlink
    /// pointing outside (API: 403 `Invalid path: outside project directory`).
    #[error("Invalid path: outside project directory")]
    OutsideProject,
    /// Nothing at that path (or a dangling symlink).
    #[error("File not found")]
    NotFound,
    /// The destination of a rename, or a file where a directory should be made, exists.
    #[error("Destination already exists")]
    AlreadyExists,
    /// A directory was expected (listing, search, a path's parent) but something else is there.
    #[error("Path is not a directory")]
    NotADirectory,
    /// A file was expected but the path is a directory.
    #[error("Path is a directory")]
    IsADirectory,
    /// A file was expected but the path is neither a regular file nor a directory (FIFO,
    /// socket, device).
    #[error("Path is not a file")]
    NotAFile,
    /// Delete, rename, write or overwrite aimed at the project root itself (W-08).
    #[error("Invalid path: the project root itself cannot be changed")]
    ProjectRoot,
    /// The file exceeds the limit of the operation ([`crate::Limits`]).
    #[error("File too large")]
    TooLarge,
    /// The write would take the user's workspaces over `user_quota_bytes`.
    #[error("Workspace quota exceeded")]
    QuotaExceeded,
    /// A path the sandbox refuses for its form (NUL byte, over-long name or path, a stored
    /// project path of the wrong shape, a directory moved into itself); the reason is for
    /// the user.
    #[error("Invalid path: {0}")]
    InvalidPath(String),
    /// Any other filesystem failure.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
}

impl WsError {
    /// Maps an io error of a sandboxed call; an escape refused by `cap-std` becomes
    /// [`WsError::OutsideProject`].
    pub(crate) fn from_io(e: io::Error) -> WsError {
        // cap-std reports an escape (a `..` or symlink resolving outside the Dir, the kernel's
        // EXDEV from RESOLVE_BENEATH) as a PermissionDenied error with no OS code; a real
        // EACCES keeps its code.
        if e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
            return WsError::OutsideProject;
        }
        #[cfg(unix)]
        match e.raw_os_error() {
            // A symlink loop, or a chain too long to resolve: refused like an escape would be
            // by nanoClaw (its resolver raised), as a path error.
            Some(libc::ELOOP) => {
                return WsError::InvalidPath("too many levels of symbolic links".into());
            }
            Some(libc::ENAMETOOLONG) => return WsError::InvalidPath("name too long".into()),
            Some(libc::EXDEV) => return WsError::OutsideProject,
            _ => {}
        }
        match e.kind() {
            io::ErrorKind::NotFound => WsError::NotFound,
            io::ErrorKind::AlreadyExists => WsError::AlreadyExists,
            io::ErrorKind::NotADirectory => WsError::NotADirectory,
            io::ErrorKind::IsADirectory => WsError::IsADirectory,
            _ => WsError::Io(e),
        }
    }
}

impl From<io::Error> for WsError {
    fn from(e: io::Error) -> WsError {
        WsError::from_io(e)
    }
}
