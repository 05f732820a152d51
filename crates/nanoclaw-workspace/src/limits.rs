//! Size and count limits of the workspaces (issue 13, tools.md §5.4).

/// One MiB.
const MIB: u64 = 1024 * 1024;

/// Limits applied by [`crate::Workspace`] and, for uploads, by the caller.
///
/// Every value is a hard limit; the defaults are in [`Limits::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file [`crate::Workspace::write`] / [`crate::Workspace::append`] produce, and the
    /// largest single uploaded file (checked by the upload handler while streaming).
    /// Default 1 GiB.
    pub max_file_bytes: u64,
    /// Most bytes (sum of regular file sizes) all projects of one user may hold; checked by
    /// `write`/`append`, and by the upload handler against [`crate::Workspace::quota_remaining`].
    /// Default 10 GiB.
    pub user_quota_bytes: u64,
    /// Largest file [`crate::Workspace::read`] returns as text (api.md §6.9: 5 MiB).
    pub max_read_text_bytes: u64,
    /// Most files with matches one search returns (api.md §6.14 caps `max_results` at 200).
    pub max_search_results: usize,
    /// Most files in one folder upload (checked by the upload handler). Default 10 000.
    pub max_upload_files: usize,
    /// Most bytes in one folder upload (checked by the upload handler). Default 1 GiB.
    pub max_upload_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 1024 * MIB,
            user_quota_bytes: 10 * 1024 * MIB,
            max_read_text_bytes: 5 * MIB,
            max_search_results: 200,
            max_upload_files: 10_000,
            max_upload_bytes: 1024 * MIB,
        }
    }
}
