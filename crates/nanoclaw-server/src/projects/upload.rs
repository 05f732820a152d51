//! `POST /api/projects/upload`: a folder uploaded as a new project (api.md §6.7).
//!
//! The multipart body is read part by part and each file is streamed to disk chunk by chunk,
//! never held whole in memory. Every file name is checked before anything is written: no
//! absolute paths, no `..`, `.` or empty segments, no NUL (W-02); the sandbox then refuses
//! anything that would still lead outside the new folder. Limits (file count, total bytes,
//! single file bytes, the user's quota) are applied while streaming; any failure removes the
//! new folder, so an upload either creates a whole project or nothing.

use axum::extract::Multipart;
use axum::extract::multipart::Field;
use nanoclaw_core::User;
use nanoclaw_core::project::{NewProject, Project, ProjectName};
use nanoclaw_workspace::{Limits, Workspace};
use tokio::io::AsyncWriteExt;

use super::input::{check_description, project_name};
use super::{Projects, already_exists, blocking, ws_error};
use crate::error::{ApiResult, AppError};

/// Longest `name` or `description` form field read (bytes); the values are short texts.
const FORM_FIELD_MAX: usize = 64 * 1024;

/// What an upload wrote (api.md §6.7 `stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadStats {
    /// Files written.
    pub files: u64,
    /// Files not at the project root (nanoClaw's meaning: not a directory count).
    pub directories: u64,
    /// Bytes written.
    pub size: u64,
}

/// The upload under way: the folder once the first file arrives, and the running totals.
struct Upload {
    user_id: i64,
    limits: Limits,
    folder: Option<(String, Workspace)>,
    /// Bytes the user may still add (their quota less what they use), known once the folder
    /// exists.
    quota_left: u64,
    stats: UploadStats,
    /// The first file's first path segment: the name when the form gives none.
    first_segment: Option<String>,
}

fn bad_form() -> AppError {
    AppError::bad_request("Invalid multipart body")
}

/// The path below the project folder for an uploaded file name (`AlgoLab/src/main.py` →
/// `src/main.py`; a name of one segment stays as it is), or a 400 naming the refused name.
pub(super) fn upload_path(file_name: &str) -> ApiResult<(String, String)> {
    let refused = || AppError::bad_request(format!("Invalid file name in upload: '{file_name}'"));
    if file_name.starts_with('/') || file_name.contains('\0') {
        return Err(refused());
    }
    let segments: Vec<&str> = file_name.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(refused());
    }
    let first = segments.first().copied().unwrap_or_default().to_owned();
    let rest = if segments.len() > 1 {
        segments[1..].join("/")
    } else {
        file_name.to_owned()
    };
    Ok((first, rest))
}

/// A short text field, at most [`FORM_FIELD_MAX`] bytes of UTF-8.
async fn small_text(mut field: Field<'_>) -> ApiResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| bad_form())? {
        if bytes.len() + chunk.len() > FORM_FIELD_MAX {
            return Err(AppError::bad_request("Form field too long"));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| AppError::bad_request("Form fields must be UTF-8"))
}

impl Upload {
    /// The folder, made on first use, and the quota left for this user.
    async fn folder(&mut self, projects: &Projects, user: &User) -> ApiResult<Workspace> {
        if let Some((_, ws)) = &self.folder {
            return Ok(ws.clone());
        }
        let (path, ws) = projects.create_dir(user).await?;
        self.folder = Some((path, ws.clone()));
        let probe = ws.clone();
        self.quota_left = blocking(move || probe.quota_remaining())
            .await
            .map_err(|e| ws_error(e, "Directory not found", "quota"))?;
        Ok(ws)
    }

    /// Streams one file part to disk.
    async fn save(
        &mut self,
        projects: &Projects,
        user: &User,
        mut field: Field<'_>,
        file_name: String,
    ) -> ApiResult<()> {
        let (first, rel) = upload_path(&file_name)?;
        self.stats.files += 1;
        if self.stats.files > self.limits.max_upload_files as u64 {
            return Err(AppError::TooLarge(
                format!("Too many files (max {})", self.limits.max_upload_files).into(),
            ));
        }
        self.first_segment.get_or_insert(first);
        let ws = self.folder(projects, user).await?;
        let target = rel.clone();
        let file = blocking(move || ws.create_file(&target))
            .await
            .map_err(|e| ws_error(e, "Directory not found", "create uploaded file"))?;
        let mut file = tokio::fs::File::from_std(file);
        let mut written = 0u64;
        while let Some(chunk) = field.chunk().await.map_err(|_| bad_form())? {
            let n = chunk.len() as u64;
            written += n;
            self.stats.size += n;
            if written > self.limits.max_file_bytes {
                return Err(AppError::TooLarge(
                    format!(
                        "File too large: '{file_name}' (max {} bytes)",
                        self.limits.max_file_bytes
                    )
                    .into(),
                ));
            }
            if self.stats.size > self.limits.max_upload_bytes {
                return Err(AppError::TooLarge(
                    format!(
                        "Upload too large (max {} bytes)",
                        self.limits.max_upload_bytes
                    )
                    .into(),
                ));
            }
            if self.stats.size > self.quota_left {
                return Err(AppError::TooLarge("Workspace quota exceeded".into()));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| AppError::internal(format!("Failed to save uploaded files: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| AppError::internal(format!("Failed to save uploaded files: {e}")))?;
        if rel.contains('/') {
            self.stats.directories += 1;
        }
        Ok(())
    }
}

impl Projects {
    /// Creates a project from a multipart folder upload.
    pub async fn upload(&self, user: &User, form: Multipart) -> ApiResult<(Project, UploadStats)> {
        let mut upload = Upload {
            user_id: user.id,
            limits: *self.workspaces.limits(),
            folder: None,
            quota_left: 0,
            stats: UploadStats::default(),
            first_segment: None,
        };
        let result = self.receive(user, form, &mut upload).await;
        let folder = upload.folder.take();
        let outcome = match (result, folder) {
            (Ok((name, description)), Some((path, _))) => {
                let new = NewProject {
                    user_id: upload.user_id,
                    name,
                    path: path.clone(),
                    description,
                };
                // The name may have been taken while the files streamed in.
                if self
                    .store
                    .project_name_taken(user.id, new.name.as_str())
                    .await?
                {
                    Err((already_exists(new.name.as_str()), Some(path)))
                } else {
                    // `insert` removes the folder itself when the row cannot be written.
                    return self.insert(new).await.map(|p| (p, upload.stats));
                }
            }
            (Ok(_), None) => Err((AppError::bad_request("No files uploaded"), None)),
            (Err(e), folder) => Err((e, folder.map(|(path, _)| path))),
        };
        match outcome {
            Ok(done) => Ok(done),
            Err((e, folder)) => {
                if let Some(path) = folder {
                    self.remove_dir_quietly(path).await;
                }
                Err(e)
            }
        }
    }

    /// Reads the form, saving the files; returns the name and description.
    async fn receive(
        &self,
        user: &User,
        mut form: Multipart,
        upload: &mut Upload,
    ) -> ApiResult<(ProjectName, String)> {
        let mut name: Option<ProjectName> = None;
        let mut description = String::new();
        while let Some(field) = form.next_field().await.map_err(|_| bad_form())? {
            match field.name() {
                Some("files") => {
                    let file_name = field.file_name().unwrap_or_default().to_owned();
                    if file_name.is_empty() {
                        continue;
                    }
                    upload.save(self, user, field, file_name).await?;
                }
                Some("name") => {
                    let text = small_text(field).await?;
                    if !text.trim().is_empty() {
                        let parsed = project_name(&text)?;
                        // Known before any file: refuse before writing anything.
                        if self
                            .store
                            .project_name_taken(user.id, parsed.as_str())
                            .await?
                        {
                            return Err(already_exists(parsed.as_str()));
                        }
                        name = Some(parsed);
                    }
                }
                Some("description") => {
                    description = small_text(field).await?;
                    check_description(&description)?;
                }
                // Other parts are read past and ignored.
                _ => {}
            }
        }
        let name = match (name, &upload.first_segment) {
            (Some(n), _) => n,
            (None, Some(first)) => project_name(first)?,
            (None, None) => project_name("untitled")?,
        };
        Ok((name, description))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_stay_inside() {
        assert_eq!(
            upload_path("AlgoLab/src/main.py").unwrap(),
            ("AlgoLab".to_owned(), "src/main.py".to_owned())
        );
        assert_eq!(
            upload_path("main.py").unwrap(),
            ("main.py".to_owned(), "main.py".to_owned())
        );
        for bad in [
            "X/../../../../tmp/f",
            "/etc/passwd",
            "X/a/../b",
            "X//b",
            "X/./b",
            "..",
            "X/",
            "X/a\0b",
            "",
        ] {
            assert!(upload_path(bad).is_err(), "{bad:?}");
        }
    }
}
