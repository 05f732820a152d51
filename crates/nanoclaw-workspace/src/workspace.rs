//! One project's directory and every operation on it.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use cap_std::fs::{Dir, File, Metadata, OpenOptions, OpenOptionsExt};

use crate::path::RelPath;
use crate::search::{FileMatches, Grep, SearchQuery, SearchResults, is_searched_name};
use crate::walk::{self, MAX_WALK_DEPTH};
use crate::{Limits, WsError};

/// What kind of thing a path names (symlinks inside the project are followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else (FIFO, socket, device).
    Other,
}

/// What [`Workspace::stat`] knows about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// File, directory or other.
    pub kind: Kind,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, when the filesystem tells.
    pub modified: Option<SystemTime>,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name.
    pub name: String,
    /// Path relative to the project root, `/`-separated.
    pub path: String,
    /// A directory (else a regular file; other kinds are never listed).
    pub is_dir: bool,
    /// Size in bytes (of the target, for a symlink).
    pub size: u64,
    /// Last modification, when the filesystem tells.
    pub modified: Option<SystemTime>,
}

impl Entry {
    /// The extension with its dot (`".py"`), or `""` (api.md §6.8, Python's `suffix`).
    pub fn extension(&self) -> &str {
        match self.name.rfind('.') {
            Some(0) | None => "",
            Some(i) if i + 1 == self.name.len() => "",
            Some(i) => &self.name[i..],
        }
    }

    /// Whether the name starts with `.` (the API listing skips those; `file_list` does not).
    pub fn is_hidden(&self) -> bool {
        self.name.starts_with('.')
    }
}

/// What [`Workspace::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileData {
    /// Valid UTF-8 of at most `max_read_text_bytes`.
    Text {
        /// The text as stored (line endings untouched).
        content: String,
        /// Size in bytes.
        size: u64,
    },
    /// Not UTF-8; stream it with [`Workspace::open_file`] if wanted.
    Binary {
        /// Size in bytes.
        size: u64,
        /// Content type guessed from the name.
        mime: &'static str,
    },
}

/// A regular file opened for reading, for streaming (images, downloads).
#[derive(Debug)]
pub struct OpenedFile {
    /// The open file (reads never block on a FIFO: only regular files are returned).
    pub file: std::fs::File,
    /// Size in bytes when opened.
    pub size: u64,
    /// Content type guessed from the name (`application/octet-stream` when unknown).
    pub mime: &'static str,
    /// Last modification, when the filesystem tells.
    pub modified: Option<SystemTime>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The file did not exist before.
    pub created: bool,
    /// Size of the file afterwards, in bytes.
    pub size: u64,
}

/// One project's directory; every path is resolved beneath it by the kernel (`cap-std`).
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`. All methods block: call them from
/// `spawn_blocking`. Paths are user paths as [`RelPath::parse`] accepts them.
#[derive(Clone)]
pub struct Workspace {
    inner: Arc<Inner>,
}

struct Inner {
    dir: Dir,
    /// The owner's `user_<id>` directory, for the quota.
    user_dir: Dir,
    /// Absolute path of the project directory: for stripping absolute user paths and for the
    /// search walk (whose finds are then opened through `dir`).
    abs: PathBuf,
    /// The stored `projects.path`.
    stored: String,
    limits: Limits,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("path", &self.inner.stored)
            .finish_non_exhaustive()
    }
}

/// Options for reading: never block on a FIFO planted in the project.
fn read_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    options.custom_flags(libc::O_NONBLOCK);
    options
}

fn kind_of(meta: &Metadata) -> Kind {
    if meta.is_file() {
        Kind::File
    } else if meta.is_dir() {
        Kind::Dir
    } else {
        Kind::Other
    }
}

fn guess_mime(name: &str) -> &'static str {
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
}

/// Removes a temporary file when a write did not rename it into place.
struct TempGuard<'a> {
    dir: &'a Dir,
    name: String,
    armed: bool,
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.dir.remove_file(&self.name);
        }
    }
}

impl Workspace {
    pub(crate) fn new(
        dir: Dir,
        user_dir: Dir,
        abs: PathBuf,
        stored: String,
        limits: Limits,
    ) -> Workspace {
        Workspace {
            inner: Arc::new(Inner {
                dir,
                user_dir,
                abs,
                stored,
                limits,
            }),
        }
    }

    /// The stored `projects.path` this workspace was opened from.
    pub fn stored_path(&self) -> &str {
        &self.inner.stored
    }

    /// Absolute host path of the project directory, for handing the whole folder to an OS
    /// sandbox (`execute_python` mounts it); file access itself goes through this handle.
    pub fn host_path(&self) -> &std::path::Path {
        &self.inner.abs
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Checks and normalises a user path (see [`RelPath::parse`]).
    pub fn resolve(&self, path: &str) -> Result<RelPath, WsError> {
        RelPath::parse(path, &self.inner.abs)
    }

    /// Metadata of `rel`, following symlinks inside the project.
    fn metadata(&self, rel: &RelPath) -> Result<Metadata, WsError> {
        if rel.is_root() {
            return Ok(self.inner.dir.dir_metadata()?);
        }
        Ok(self.inner.dir.metadata(rel.as_path())?)
    }

    /// Kind, size and mtime of a path; `None` when nothing is there (or a dangling symlink).
    pub fn stat(&self, path: &str) -> Result<Option<Stat>, WsError> {
        let rel = self.resolve(path)?;
        match self.metadata(&rel) {
            Ok(meta) => Ok(Some(Stat {
                kind: kind_of(&meta),
                size: meta.len(),
                modified: meta.modified().ok().map(|t| t.into_std()),
            })),
            Err(WsError::NotFound | WsError::NotADirectory) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What is at a path, if anything (`Some(Kind::Dir)` for the root).
    pub fn exists(&self, path: &str) -> Result<Option<Kind>, WsError> {
        Ok(self.stat(path)?.map(|s| s.kind))
    }

    /// Opens a directory of the project.
    fn open_dir(&self, rel: &RelPath) -> Result<Dir, WsError> {
        if rel.is_root() {
            return Ok(self.inner.dir.try_clone()?);
        }
        match self.inner.dir.open_dir(rel.as_path()) {
            // open_dir on a regular file fails with ENOTDIR already; keep the same answer for
            // a FIFO or socket.
            Ok(dir) => Ok(dir),
            Err(e) => Err(WsError::from_io(e)),
        }
    }

    /// The entries of one directory (`""` or `"."` for the root): directories first, then
    /// files, each by name. Hidden entries are included ([`Entry::is_hidden`]); symlinks are
    /// reported as what they point to, and skipped when that is outside the project, missing,
    /// or neither file nor directory (api.md §6.8). Names that are not UTF-8 are skipped (no
    /// API path could name them).
    pub fn list(&self, subdir: &str) -> Result<Vec<Entry>, WsError> {
        let rel = self.resolve(subdir)?;
        let dir = self.open_dir(&rel)?;
        let mut entries = Vec::new();
        list_into(&dir, &rel, &mut entries)?;
        entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
        Ok(entries)
    }

    /// Entries below `subdir` whose path relative to `subdir` matches a glob (`file_list`,
    /// tools.md §4.11): `*`, `?`, `[..]` stay within a component, `**` spans directories; the
    /// walk is recursive only when the pattern has `**` (else as deep as it has components).
    /// Symlinked directories are never descended. Patterns that are absolute or contain a `..`
    /// component are refused. At most `limit` entries; the flag says whether more matched.
    pub fn glob(
        &self,
        subdir: &str,
        pattern: &str,
        limit: usize,
    ) -> Result<(Vec<Entry>, bool), WsError> {
        if pattern.contains('\0') {
            return Err(WsError::InvalidPath("contains a NUL byte".into()));
        }
        if pattern.starts_with('/') {
            return Err(WsError::InvalidPath(
                "non-relative patterns are unsupported".into(),
            ));
        }
        if pattern.split('/').any(|part| part == "..") {
            return Err(WsError::OutsideProject);
        }
        let matcher = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| WsError::InvalidPath(format!("bad pattern: {}", e.kind())))?
            .compile_matcher();
        let max_depth = if pattern.contains("**") {
            MAX_WALK_DEPTH
        } else {
            pattern.split('/').filter(|p| !p.is_empty()).count().max(1)
        };
        let rel = self.resolve(subdir)?;
        let dir = self.open_dir(&rel)?;
        let prefix_len = if rel.is_root() {
            0
        } else {
            rel.as_str().len() + 1
        };
        let mut found = Vec::new();
        let mut truncated = false;
        // Depth-first in name order, so the result is stable.
        let mut stack = vec![(dir, rel, 1usize)];
        while let Some((dir, rel, depth)) = stack.pop() {
            let mut entries = Vec::new();
            list_into(&dir, &rel, &mut entries)?;
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            let mut subdirs = Vec::new();
            for entry in entries {
                let below = &entry.path[prefix_len.min(entry.path.len())..];
                if matcher.is_match(below) {
                    if found.len() == limit {
                        truncated = true;
                        break;
                    }
                    found.push(entry.clone());
                }
                if entry.is_dir && depth < max_depth {
                    subdirs.push(entry);
                }
            }
            if truncated {
                break;
            }
            for entry in subdirs.into_iter().rev() {
                // Only real directories: a symlink to a directory is listed, never entered.
                let real = dir.symlink_metadata(&entry.name).is_ok_and(|m| m.is_dir());
                if real && let Ok(sub) = dir.open_dir(&entry.name) {
                    stack.push((sub, rel.join(&entry.name), depth + 1));
                }
            }
        }
        Ok((found, truncated))
    }

    /// Opens a regular file for reading through the sandbox.
    fn open_regular(&self, rel: &RelPath) -> Result<(File, Metadata), WsError> {
        if rel.is_root() {
            return Err(WsError::IsADirectory);
        }
        let file = self.inner.dir.open_with(rel.as_path(), &read_options())?;
        let meta = file.metadata()?;
        match kind_of(&meta) {
            Kind::File => Ok((file, meta)),
            Kind::Dir => Err(WsError::IsADirectory),
            Kind::Other => Err(WsError::NotAFile),
        }
    }

    /// The bytes of a regular file of at most `max_bytes` ([`WsError::TooLarge`] beyond).
    pub fn read_bytes(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, WsError> {
        let rel = self.resolve(path)?;
        let (file, meta) = self.open_regular(&rel)?;
        if meta.len() > max_bytes {
            return Err(WsError::TooLarge);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        // Bounded even if the file grows while being read.
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max_bytes {
            return Err(WsError::TooLarge);
        }
        Ok(bytes)
    }

    /// A file as text (UTF-8 of at most `max_read_text_bytes`, else [`WsError::TooLarge`]) or,
    /// when not UTF-8, its size and guessed content type (api.md §6.9).
    pub fn read(&self, path: &str) -> Result<FileData, WsError> {
        let bytes = self.read_bytes(path, self.inner.limits.max_read_text_bytes)?;
        let size = bytes.len() as u64;
        match String::from_utf8(bytes) {
            Ok(content) => Ok(FileData::Text { content, size }),
            Err(_) => Ok(FileData::Binary {
                size,
                mime: guess_mime(path),
            }),
        }
    }

    /// Opens a regular file for streaming, whatever its size or content.
    pub fn open_file(&self, path: &str) -> Result<OpenedFile, WsError> {
        let rel = self.resolve(path)?;
        let (file, meta) = self.open_regular(&rel)?;
        Ok(OpenedFile {
            file: file.into_std(),
            size: meta.len(),
            mime: guess_mime(rel.as_str()),
            modified: meta.modified().ok().map(|t| t.into_std()),
        })
    }

    /// Creates the parent directories of `rel` inside the project and opens the parent;
    /// returns it with the last component. Refuses the root.
    fn parent_of<'r>(&self, rel: &'r RelPath, create: bool) -> Result<(Dir, &'r str), WsError> {
        let (parent, name) = rel.split_last().ok_or(WsError::ProjectRoot)?;
        if parent.is_empty() {
            return Ok((self.inner.dir.try_clone()?, name));
        }
        if create {
            match self.inner.dir.create_dir_all(parent) {
                Ok(()) => {}
                // Something that is not a directory is in the way: opening says what (a
                // file, or a symlink leading outside).
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
        match self.inner.dir.open_dir(parent) {
            Ok(dir) => Ok((dir, name)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(WsError::NotADirectory),
            Err(e) => Err(e.into()),
        }
    }

    /// Bytes the owner may still add before the quota (all their projects together).
    pub fn quota_remaining(&self) -> Result<u64, WsError> {
        let used = walk::usage_bytes(&self.inner.user_dir)?;
        Ok(self.inner.limits.user_quota_bytes.saturating_sub(used))
    }

    /// Refuses growing the owner's usage by `grow` bytes past the quota.
    fn check_quota(&self, grow: u64) -> Result<(), WsError> {
        if grow > 0 && grow > self.quota_remaining()? {
            return Err(WsError::QuotaExceeded);
        }
        Ok(())
    }

    /// Creates or replaces a file with `content`, creating parent directories; atomic for
    /// readers (a temporary file in the same directory renamed over the target, keeping the
    /// old file's permissions). Refuses the root, a directory, a symlink pointing outside,
    /// more than `max_file_bytes`, and the quota. A symlink to a file inside the project is
    /// replaced by the new file, not written through.
    pub fn write(&self, path: &str, content: &[u8]) -> Result<WriteOutcome, WsError> {
        let rel = self.resolve(path)?;
        let size = content.len() as u64;
        if size > self.inner.limits.max_file_bytes {
            return Err(WsError::TooLarge);
        }
        let (parent, name) = self.parent_of(&rel, true)?;
        let old = match parent.metadata(name) {
            Ok(meta) if meta.is_dir() => return Err(WsError::IsADirectory),
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        self.check_quota(size.saturating_sub(old.as_ref().map_or(0, Metadata::len)))?;

        let temp = format!(".nanoclaw-{}.tmp", uuid::Uuid::new_v4());
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        let mut file = parent.open_with(&temp, &options)?;
        let mut guard = TempGuard {
            dir: &parent,
            name: temp,
            armed: true,
        };
        file.write_all(content)?;
        if let Some(old) = &old {
            file.set_permissions(old.permissions())?;
        }
        drop(file);
        parent.rename(&guard.name, &parent, name)?;
        guard.armed = false;
        Ok(WriteOutcome {
            created: old.is_none(),
            size,
        })
    }

    /// Appends `content` to a file (created if missing, with its parents); not atomic.
    pub fn append(&self, path: &str, content: &[u8]) -> Result<WriteOutcome, WsError> {
        let rel = self.resolve(path)?;
        let (parent, name) = self.parent_of(&rel, true)?;
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        options.custom_flags(libc::O_NONBLOCK);
        let existed = parent.metadata(name).is_ok();
        let mut file = parent.open_with(name, &options)?;
        let meta = file.metadata()?;
        if kind_of(&meta) != Kind::File {
            return Err(WsError::NotAFile);
        }
        let size = meta.len().saturating_add(content.len() as u64);
        if size > self.inner.limits.max_file_bytes {
            return Err(WsError::TooLarge);
        }
        self.check_quota(content.len() as u64)?;
        file.write_all(content)?;
        Ok(WriteOutcome {
            created: !existed,
            size,
        })
    }

    /// Creates (or truncates) a file for a streamed upload, creating parent directories.
    /// Refuses the root, directories and non-regular files. Size, count and quota limits are
    /// the caller's to apply while streaming ([`Limits`], [`Workspace::quota_remaining`]).
    pub fn create_file(&self, path: &str) -> Result<std::fs::File, WsError> {
        let rel = self.resolve(path)?;
        let (parent, name) = self.parent_of(&rel, true)?;
        if parent.metadata(name).is_ok_and(|m| m.is_dir()) {
            return Err(WsError::IsADirectory);
        }
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.custom_flags(libc::O_NONBLOCK);
        let file = parent.open_with(name, &options)?;
        if kind_of(&file.metadata()?) != Kind::File {
            return Err(WsError::NotAFile);
        }
        Ok(file.into_std())
    }

    /// Renames or moves a file or directory (api.md §6.11); the destination's parents are
    /// created. Refuses the root as source or destination, an existing destination, and a
    /// directory moved into itself. A symlink is moved as the link.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), WsError> {
        let from = self.resolve(from)?;
        let to = self.resolve(to)?;
        if from.is_root() || to.is_root() {
            return Err(WsError::ProjectRoot);
        }
        let (from_parent, from_name) = self.parent_of(&from, false)?;
        from_parent.symlink_metadata(from_name)?;
        if to.starts_with(&from) {
            return Err(WsError::InvalidPath(
                "cannot move a directory into itself".into(),
            ));
        }
        let (to_parent, to_name) = self.parent_of(&to, true)?;
        match to_parent.symlink_metadata(to_name) {
            Ok(_) => return Err(WsError::AlreadyExists),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        from_parent.rename(from_name, &to_parent, to_name)?;
        Ok(())
    }

    /// Deletes a file, a symlink (the link, not its target) or a directory with everything
    /// below it (never following symlinks). Refuses the root (W-08).
    pub fn delete(&self, path: &str) -> Result<(), WsError> {
        let rel = self.resolve(path)?;
        let (parent, name) = self.parent_of(&rel, false)?;
        let meta = parent.symlink_metadata(name)?;
        if meta.is_dir() {
            parent.remove_dir_all(name)?;
        } else {
            parent.remove_file(name)?;
        }
        Ok(())
    }

    /// Deletes only a file (`file_delete`): a directory is [`WsError::IsADirectory`], a
    /// FIFO or socket [`WsError::NotAFile`]; a symlink to a file inside is removed as the link.
    pub fn delete_file(&self, path: &str) -> Result<(), WsError> {
        let rel = self.resolve(path)?;
        let (parent, name) = self.parent_of(&rel, false)?;
        match kind_of(&parent.metadata(name)?) {
            Kind::File => Ok(parent.remove_file(name)?),
            Kind::Dir => Err(WsError::IsADirectory),
            Kind::Other => Err(WsError::NotAFile),
        }
    }

    /// Creates a directory with its parents; `Ok(false)` when it already was one (the root
    /// included), [`WsError::AlreadyExists`] when a file is there.
    pub fn mkdir(&self, path: &str) -> Result<bool, WsError> {
        let rel = self.resolve(path)?;
        match self.metadata(&rel) {
            Ok(meta) if meta.is_dir() => return Ok(false),
            Ok(_) => return Err(WsError::AlreadyExists),
            Err(WsError::NotFound) => {}
            Err(e) => return Err(e),
        }
        match self.inner.dir.create_dir_all(rel.as_path()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(WsError::NotADirectory),
            Err(e) => Err(e.into()),
        }
    }

    /// Literal content search below `q.path` (api.md §6.14): files in path order, at most
    /// `min(q.max_results, max_search_results)` files with matches. The walk never follows
    /// symlinks, and each found file is opened through the sandbox by its relative path, so
    /// a symlink swapped in during the walk cannot lead outside.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults, WsError> {
        let rel = self.resolve(&q.path)?;
        // Existence, kind and containment of the start, checked through the sandbox.
        drop(self.open_dir(&rel)?);
        let max = q.max_results.min(self.inner.limits.max_search_results);
        let mut results = Vec::new();
        let grep = Grep::new(&q.query, q.case_sensitive).map_err(WsError::Io)?;
        if let (Some(mut grep), true) = (grep, max > 0) {
            let start = self.inner.abs.join(rel.display());
            let walker = ignore::WalkBuilder::new(&start)
                .standard_filters(false)
                .follow_links(false)
                .max_depth(Some(MAX_WALK_DEPTH))
                .sort_by_file_name(|a, b| a.cmp(b))
                .build();
            for found in walker {
                let Ok(found) = found else { continue };
                if !found.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                let Some(name) = found.file_name().to_str() else {
                    continue;
                };
                if !is_searched_name(name) {
                    continue;
                }
                let Some(path) = found
                    .path()
                    .strip_prefix(&self.inner.abs)
                    .ok()
                    .and_then(|p| p.to_str())
                else {
                    continue;
                };
                let Ok(path) = RelPath::parse(path, &self.inner.abs) else {
                    continue;
                };
                let Ok((file, _)) = self.open_regular(&path) else {
                    continue;
                };
                let matches = grep.file(&file.into_std());
                if !matches.is_empty() {
                    results.push(FileMatches {
                        path: path.as_str().to_owned(),
                        matches,
                    });
                    if results.len() >= max {
                        break;
                    }
                }
            }
        }
        Ok(SearchResults {
            query: q.query.clone(),
            total_matches: results.len(),
            results,
        })
    }

    /// Sum of the sizes of the project's regular files (symlinks not followed).
    pub fn size_bytes(&self) -> Result<u64, WsError> {
        walk::usage_bytes(&self.inner.dir)
    }
}

/// Directories with at least this many entries are stat'ed on several threads: one `statx`
/// per entry (for its size) is most of a large listing's time (bench/RESULTS.md, project-list).
const PARALLEL_STAT_MIN: usize = 2048;

/// Most threads one listing stats on.
const MAX_STAT_THREADS: usize = 4;

/// Appends the file and directory entries of `dir` (at `rel`) to `out`, unsorted.
fn list_into(dir: &Dir, rel: &RelPath, out: &mut Vec<Entry>) -> Result<(), WsError> {
    // Names and kinds come with the directory read; sizes need one stat per entry.
    let mut found = Vec::new();
    for entry in dir.entries()? {
        let Ok(entry) = entry else { continue };
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        found.push((entry, name, file_type.is_symlink()));
    }
    let threads = if found.len() < PARALLEL_STAT_MIN {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_STAT_THREADS)
    };
    if threads <= 1 {
        out.extend(found.into_iter().filter_map(|f| stat_entry(dir, rel, f)));
        return Ok(());
    }
    let per = found.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    while found.len() > per {
        let rest = found.split_off(per);
        parts.push(found);
        found = rest;
    }
    parts.push(found);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .filter_map(|f| stat_entry(dir, rel, f))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            // A stat cannot panic; if a thread did anyway, its entries are left out.
            if let Ok(entries) = handle.join() {
                out.extend(entries);
            }
        }
    });
    Ok(())
}

/// The listing entry for one directory entry: `None` for what a listing skips.
fn stat_entry(
    dir: &Dir,
    rel: &RelPath,
    (entry, name, is_symlink): (cap_std::fs::DirEntry, String, bool),
) -> Option<Entry> {
    let meta = if is_symlink {
        // Followed through the sandbox: a link leading outside fails and is skipped.
        dir.metadata(&name)
    } else {
        entry.metadata()
    };
    let meta = meta.ok()?;
    let is_dir = match kind_of(&meta) {
        Kind::File => false,
        Kind::Dir => true,
        Kind::Other => return None,
    };
    Some(Entry {
        path: rel.join(&name).as_str().to_owned(),
        name,
        is_dir,
        size: meta.len(),
        modified: meta.modified().ok().map(|t| t.into_std()),
    })
}
