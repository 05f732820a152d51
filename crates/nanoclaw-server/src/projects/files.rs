//! A project's files (api.md §6.8–6.14): list, read, write, rename, delete, make directory,
//! search; and the walk behind the detail view's `stats`. Every call goes through the
//! project's sandbox on the blocking pool.

use nanoclaw_core::User;
use nanoclaw_workspace::{Entry, FileData, MAX_WALK_DEPTH, SearchQuery, SearchResults, Workspace};

use super::input::{SearchInput, required_str};
use super::{Projects, TreeStats, blocking, ws_error};
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;

/// Extensions served as raw image bytes by the read URL (api.md §6.9: the front end turns
/// the body into a blob for an `<img>`).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "bmp", "webp", "svg", "ico"];

/// Most entries the detail view's walk visits; past it the stats are a lower bound (W-46:
/// a read must not walk an unbounded tree).
const STATS_MAX_ENTRIES: u64 = 200_000;

/// A directory listing (api.md §6.8).
#[derive(Debug)]
pub struct Listing {
    /// The project.
    pub project_id: String,
    /// The `path` parameter as given, or `/`.
    pub current_path: String,
    /// Regular files, by name.
    pub files: Vec<Entry>,
    /// Directories, by name.
    pub directories: Vec<Entry>,
}

/// What the read URL answers.
#[derive(Debug)]
pub enum FileRead {
    /// A text file, as JSON.
    Text {
        /// Path relative to the project root.
        path: String,
        /// Size on disk in bytes.
        size: u64,
        /// The text as stored (line endings untouched, so a save writes back the same bytes).
        content: String,
    },
    /// A file to send as it is.
    Raw(RawFile),
}

/// A file streamed as raw bytes.
#[derive(Debug)]
pub struct RawFile {
    /// The open file.
    pub file: std::fs::File,
    /// Size when opened.
    pub size: u64,
    /// `Content-Type` to send.
    pub content_type: &'static str,
    /// The file's name (for `Content-Disposition`).
    pub name: String,
    /// Shown in the page (raster images) rather than downloaded.
    pub inline: bool,
}

/// The last component of a project path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The extension of a name, lower-cased, without the dot (`""` when none; a leading dot is
/// not an extension, as in Python's `suffix`).
fn extension_of(name: &str) -> String {
    match name.rfind('.') {
        Some(at) if at > 0 => name[at + 1..].to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// How a raw file is sent: raster images inline with their own type; SVG (which can carry
/// script) and everything else as a download, the others as `application/octet-stream` so
/// that no browser renders HTML or script from this origin.
fn raw_form(name: &str, guessed: &'static str) -> (&'static str, bool) {
    match extension_of(name).as_str() {
        "svg" => ("image/svg+xml", false),
        "png" | "jpg" | "jpeg" | "gif" | "bmp" | "webp" | "ico"
            if guessed.starts_with("image/") =>
        {
            (guessed, true)
        }
        "png" => ("image/png", true),
        "jpg" | "jpeg" => ("image/jpeg", true),
        "gif" => ("image/gif", true),
        "bmp" => ("image/bmp", true),
        "webp" => ("image/webp", true),
        "ico" => ("image/x-icon", true),
        _ => ("application/octet-stream", false),
    }
}

/// The detail view's `stats`: files (hidden included), directories below the root, bytes.
/// Symlinks inside the project are counted as what they point to (the sandbox's listing
/// does so); a link cycle is cut by [`MAX_WALK_DEPTH`] and [`STATS_MAX_ENTRIES`].
pub(super) fn tree_stats(ws: &Workspace) -> Result<TreeStats, nanoclaw_workspace::WsError> {
    let mut stats = TreeStats::default();
    let mut pending = vec![(String::new(), 0usize)];
    let mut visited = 0u64;
    while let Some((dir, depth)) = pending.pop() {
        let entries = match ws.list(&dir) {
            Ok(e) => e,
            // Removed or swapped meanwhile: count what is there.
            Err(_) if !dir.is_empty() => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            visited += 1;
            if visited > STATS_MAX_ENTRIES {
                return Ok(stats);
            }
            if entry.is_dir {
                stats.directories += 1;
                if depth + 1 < MAX_WALK_DEPTH {
                    pending.push((entry.path, depth + 1));
                }
            } else {
                stats.files += 1;
                stats.total_size = stats.total_size.saturating_add(entry.size);
            }
        }
    }
    Ok(stats)
}

impl Projects {
    /// `GET /api/projects/:id/files?path=`: one directory, hidden entries left out.
    pub async fn list_files(
        &self,
        user: &User,
        id: &str,
        path: Option<&str>,
    ) -> ApiResult<Listing> {
        let ws = self.open_owned(user, id).await?;
        let subdir = path.unwrap_or_default().to_owned();
        let entries = blocking(move || ws.list(&subdir))
            .await
            .map_err(|e| ws_error(e, "Directory not found", "list directory"))?;
        let (directories, files) = entries
            .into_iter()
            .filter(|e| !e.is_hidden())
            .partition(|e| e.is_dir);
        Ok(Listing {
            project_id: id.to_owned(),
            current_path: path.unwrap_or("/").to_owned(),
            files,
            directories,
        })
    }

    /// `GET /api/projects/:id/files/*path`: text as JSON; image files, and any file when
    /// `raw`, as bytes.
    pub async fn read_file(
        &self,
        user: &User,
        id: &str,
        path: &str,
        raw: bool,
    ) -> ApiResult<FileRead> {
        let ws = self.open_owned(user, id).await?;
        let path = path.to_owned();
        let image = IMAGE_EXTENSIONS.contains(&extension_of(file_name(&path)).as_str());
        blocking(move || {
            let rel = ws.resolve(&path)?;
            if raw || image {
                let opened = ws.open_file(&path)?;
                let name = file_name(rel.as_str()).to_owned();
                let (content_type, inline) = raw_form(&name, opened.mime);
                return Ok(Some(FileRead::Raw(RawFile {
                    file: opened.file,
                    size: opened.size,
                    content_type,
                    name,
                    inline,
                })));
            }
            Ok(match ws.read(&path)? {
                FileData::Text { content, size } => Some(FileRead::Text {
                    path: rel.as_str().to_owned(),
                    size,
                    content,
                }),
                FileData::Binary { .. } => None,
            })
        })
        .await
        .map_err(|e| match e {
            nanoclaw_workspace::WsError::TooLarge => AppError::bad_request(format!(
                "File too large (max {} MB)",
                self.workspaces.limits().max_read_text_bytes / (1024 * 1024)
            )),
            nanoclaw_workspace::WsError::IsADirectory | nanoclaw_workspace::WsError::NotAFile => {
                AppError::bad_request("Path is not a file")
            }
            other => ws_error(other, "File not found", "read file"),
        })
        .and_then(|read| {
            read.ok_or_else(|| AppError::bad_request("Binary file, cannot preview as text"))
        })
    }

    /// `PUT /api/projects/:id/files/*path`: creates or replaces a text file; returns its
    /// project-relative path and size.
    pub async fn write_file(
        &self,
        user: &User,
        id: &str,
        path: &str,
        body: &JsonObject,
    ) -> ApiResult<(String, u64)> {
        let content = required_str(body, "content")?.as_bytes().to_vec();
        let ws = self.open_owned(user, id).await?;
        let path = path.to_owned();
        let max = self.workspaces.limits().max_file_bytes;
        blocking(move || {
            let rel = ws.resolve(&path)?;
            let outcome = ws.write(&path, &content)?;
            Ok((rel.as_str().to_owned(), outcome.size))
        })
        .await
        .map_err(|e| match e {
            nanoclaw_workspace::WsError::TooLarge => {
                AppError::TooLarge(format!("File too large (max {max} bytes)").into())
            }
            nanoclaw_workspace::WsError::IsADirectory => {
                AppError::bad_request("Path is a directory")
            }
            other => ws_error(other, "File not found", "write file"),
        })
    }

    /// `PATCH /api/projects/:id/files/*path`: rename or move; returns the new path.
    pub async fn rename_file(
        &self,
        user: &User,
        id: &str,
        path: &str,
        body: &JsonObject,
    ) -> ApiResult<String> {
        let to = required_str(body, "new_path")?.to_owned();
        let ws = self.open_owned(user, id).await?;
        let from = path.to_owned();
        blocking(move || {
            let to_rel = ws.resolve(&to)?;
            ws.rename(&from, &to)?;
            Ok(to_rel.as_str().to_owned())
        })
        .await
        .map_err(|e| ws_error(e, "File not found", "rename"))
    }

    /// `DELETE /api/projects/:id/files/*path`: a file, or a directory with its contents.
    pub async fn delete_file(&self, user: &User, id: &str, path: &str) -> ApiResult<()> {
        let ws = self.open_owned(user, id).await?;
        let path = path.to_owned();
        blocking(move || ws.delete(&path))
            .await
            .map_err(|e| ws_error(e, "File not found", "delete"))
    }

    /// `POST /api/projects/:id/directories`: makes a directory with its parents (an existing
    /// one is fine); returns its path (`.` for the root).
    pub async fn make_directory(
        &self,
        user: &User,
        id: &str,
        body: &JsonObject,
    ) -> ApiResult<String> {
        // api.md §6.13: the project is checked before the body here.
        let ws = self.open_owned(user, id).await?;
        let path = required_str(body, "path")?.to_owned();
        blocking(move || {
            let rel = ws.resolve(&path)?;
            ws.mkdir(&path)?;
            Ok(if rel.is_root() {
                ".".to_owned()
            } else {
                rel.as_str().to_owned()
            })
        })
        .await
        .map_err(|e| match e {
            nanoclaw_workspace::WsError::AlreadyExists => {
                AppError::bad_request("Directory already exists")
            }
            other => ws_error(other, "Directory not found", "create directory"),
        })
    }

    /// `POST /api/projects/:id/search`: literal text in the project's text files.
    pub async fn search(
        &self,
        user: &User,
        id: &str,
        body: &JsonObject,
    ) -> ApiResult<SearchResults> {
        let cap = self.workspaces.limits().max_search_results as u64;
        let input = SearchInput::parse(body, cap)?;
        let ws = self.open_owned(user, id).await?;
        let query = SearchQuery {
            query: input.query,
            path: input.path,
            max_results: usize::try_from(input.max_results).unwrap_or(usize::MAX),
            case_sensitive: input.case_sensitive,
        };
        blocking(move || ws.search(&query))
            .await
            .map_err(|e| ws_error(e, "Directory not found", "search"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_forms_never_render_active_content() {
        assert_eq!(raw_form("a.PNG", "image/png"), ("image/png", true));
        assert_eq!(
            raw_form("a.jpeg", "application/octet-stream"),
            ("image/jpeg", true)
        );
        assert_eq!(
            raw_form("logo.svg", "image/svg+xml"),
            ("image/svg+xml", false)
        );
        assert_eq!(
            raw_form("page.html", "text/html"),
            ("application/octet-stream", false)
        );
        assert_eq!(
            raw_form("x.png.html", "text/html"),
            ("application/octet-stream", false)
        );
        assert_eq!(
            raw_form(".png", "image/png"),
            ("application/octet-stream", false)
        );
    }
}
