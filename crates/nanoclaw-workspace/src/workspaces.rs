//! The workspace root: where project directories are made, opened and removed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::path::MAX_NAME_BYTES;
use crate::walk;
use crate::workspace::Workspace;
use crate::{Limits, WsError};

/// The workspace root (config `workspace_root`) with the limits; cheap to clone.
#[derive(Clone)]
pub struct Workspaces {
    inner: Arc<Root>,
}

struct Root {
    dir: Dir,
    /// Absolute, symlink-free; for the search walk and for stripping absolute user paths.
    abs: PathBuf,
    limits: Limits,
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspaces")
            .field("root", &self.inner.abs)
            .field("limits", &self.inner.limits)
            .finish()
    }
}

/// The directory name of a user's projects.
fn user_dir_name(user_id: i64) -> String {
    format!("user_{user_id}")
}

impl Workspaces {
    /// Opens the workspace root, creating it if missing; it is resolved once to an absolute,
    /// symlink-free path (tools.md §5.1).
    pub fn new(root: &Path, limits: Limits) -> Result<Workspaces, WsError> {
        std::fs::create_dir_all(root).map_err(WsError::Io)?;
        let abs = std::fs::canonicalize(root).map_err(WsError::Io)?;
        // The only ambient-authority call: everything else goes through this handle.
        let dir = Dir::open_ambient_dir(&abs, ambient_authority()).map_err(WsError::Io)?;
        Ok(Workspaces {
            inner: Arc::new(Root { dir, abs, limits }),
        })
    }

    /// The limits every workspace applies.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The absolute workspace root (for logs and configuration checks; never show it to users).
    pub fn root_path(&self) -> &Path {
        &self.inner.abs
    }

    /// Makes a new, empty project directory `user_<id>/<uuid v4>` and opens it; returns the
    /// path to store in `projects.path` with the workspace. Never derived from user text (W-01).
    pub fn create_project_dir(&self, user_id: i64) -> Result<(String, Workspace), WsError> {
        let user = user_dir_name(user_id);
        self.ensure_real_dir(&self.inner.dir, &user, true)?;
        let stored = format!("{user}/{}", uuid::Uuid::new_v4());
        // create_dir, not create_dir_all: a fresh UUID that already exists is an error, not a
        // directory to share.
        self.inner.dir.create_dir(&stored)?;
        let workspace = self.open(&stored)?;
        Ok((stored, workspace))
    }

    /// Opens a stored `projects.path` (our `user_<id>/<uuid>`, or an imported nanoClaw
    /// `user_<id>/<name>`), re-creating a missing directory as nanoClaw did (tools.md §5.1).
    ///
    /// Refused unless it is relative, has no `..`, starts with a `user_<n>` directory, names
    /// something strictly below it, and no component is a symlink ([`WsError::OutsideProject`]
    /// or [`WsError::InvalidPath`]).
    pub fn open(&self, stored_path: &str) -> Result<Workspace, WsError> {
        let parts = parse_stored(stored_path)?;
        let mut dir = self.inner.dir.try_clone()?;
        let mut user_dir = None;
        for part in &parts {
            dir = self.ensure_real_dir(&dir, part, true)?;
            if user_dir.is_none() {
                user_dir = Some(dir.try_clone()?);
            }
        }
        let user_dir = user_dir.ok_or(WsError::OutsideProject)?;
        let stored = parts.join("/");
        let abs = self.inner.abs.join(&stored);
        Ok(Workspace::new(
            dir,
            user_dir,
            abs,
            stored,
            self.inner.limits,
        ))
    }

    /// [`Workspaces::open`], also refusing a path outside `user_<user_id>/`: the check that a
    /// stored path belongs to the project's owner (W-01).
    pub fn open_for_user(&self, user_id: i64, stored_path: &str) -> Result<Workspace, WsError> {
        let parts = parse_stored(stored_path)?;
        if parts.first().map(String::as_str) != Some(user_dir_name(user_id).as_str()) {
            return Err(WsError::OutsideProject);
        }
        self.open(stored_path)
    }

    /// Deletes a project directory recursively (never following symlinks); a missing
    /// directory is fine. The same checks as [`Workspaces::open`], so neither the workspace
    /// root nor a user directory can be the target (W-01, W-08).
    pub fn remove_project_dir(&self, stored_path: &str) -> Result<(), WsError> {
        let parts = parse_stored(stored_path)?;
        let Some((leaf, parents)) = parts.split_last() else {
            return Err(WsError::OutsideProject);
        };
        let mut dir = self.inner.dir.try_clone()?;
        for part in parents {
            dir = match self.ensure_real_dir(&dir, part, false) {
                Err(WsError::NotFound) => return Ok(()),
                other => other?,
            };
        }
        match dir.symlink_metadata(leaf) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
            Ok(meta) if meta.is_dir() => Ok(dir.remove_dir_all(leaf)?),
            Ok(_) => Err(WsError::NotADirectory),
        }
    }

    /// Deletes all of a user's project directories (account deletion); missing is fine.
    pub fn remove_user_dir(&self, user_id: i64) -> Result<(), WsError> {
        let user = user_dir_name(user_id);
        match self.inner.dir.symlink_metadata(&user) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
            Ok(meta) if meta.is_dir() => Ok(self.inner.dir.remove_dir_all(&user)?),
            Ok(_) => Err(WsError::NotADirectory),
        }
    }

    /// Sum of the sizes of the regular files in all of a user's projects (symlinks not
    /// followed); 0 when the user has no directory.
    pub fn user_usage_bytes(&self, user_id: i64) -> Result<u64, WsError> {
        match self.ensure_real_dir(&self.inner.dir, &user_dir_name(user_id), false) {
            Err(WsError::NotFound) => Ok(0),
            Err(e) => Err(e),
            Ok(dir) => walk::usage_bytes(&dir),
        }
    }

    /// Opens `name` in `dir` as a directory that is not a symlink, creating it if allowed.
    fn ensure_real_dir(&self, dir: &Dir, name: &str, create: bool) -> Result<Dir, WsError> {
        match dir.symlink_metadata(name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                match dir.create_dir(name) {
                    // Created meanwhile by a concurrent request: fine, it is checked below.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    other => other?,
                }
                let meta = dir.symlink_metadata(name)?;
                if !meta.is_dir() {
                    return Err(WsError::NotADirectory);
                }
            }
            Err(e) => return Err(e.into()),
            Ok(meta) if meta.file_type().is_symlink() => return Err(WsError::OutsideProject),
            Ok(meta) if !meta.is_dir() => return Err(WsError::NotADirectory),
            Ok(_) => {}
        }
        Ok(dir.open_dir(name)?)
    }
}

/// Splits a stored project path into checked components: at least two, the first `user_<n>`,
/// none empty after dropping `.`, no `..`, no NUL, not absolute.
fn parse_stored(stored: &str) -> Result<Vec<String>, WsError> {
    if stored.contains('\0') {
        return Err(WsError::InvalidPath("contains a NUL byte".into()));
    }
    if stored.starts_with('/') {
        return Err(WsError::OutsideProject);
    }
    let mut parts = Vec::new();
    for part in stored.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(WsError::OutsideProject),
            name if name.len() > MAX_NAME_BYTES => {
                return Err(WsError::InvalidPath("name too long".into()));
            }
            name => parts.push(name.to_owned()),
        }
    }
    let user_ok = parts.first().is_some_and(|first| {
        first
            .strip_prefix("user_")
            .is_some_and(|id| id.parse::<i64>().is_ok())
    });
    if !user_ok {
        return Err(WsError::InvalidPath("not a project directory".into()));
    }
    if parts.len() < 2 {
        // The user directory itself: every project of the user, never one project's.
        return Err(WsError::OutsideProject);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_paths() {
        assert_eq!(
            parse_stored("user_1/AlgoLab").unwrap(),
            ["user_1", "AlgoLab"]
        );
        assert_eq!(parse_stored("user_1/./a/b/").unwrap(), ["user_1", "a", "b"]);
        for bad in [
            "",
            ".",
            "user_1",
            "user_1/",
            "user_1/zz/../..",
            "user_1/..",
            "/etc",
            "x/y",
            "user_x/y",
            "user_1/a\0",
            "../user_1/a",
        ] {
            assert!(parse_stored(bad).is_err(), "{bad:?}");
        }
    }
}
