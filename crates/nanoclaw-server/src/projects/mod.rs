//! Projects: the service behind `/api/projects/*` (api.md §6).
//!
//! A project is a row naming a folder `workspace_root/user_<id>/<uuid>`; the folder is chosen
//! here, never derived from the name (W-01). Every file access goes through the
//! `nanoclaw-workspace` sandbox, on the blocking pool. Another user's project is a 404
//! everywhere, exactly like a missing one.

mod files;
pub mod input;
mod upload;

use nanoclaw_core::User;
use nanoclaw_core::chat::Page;
use nanoclaw_core::project::{NewProject, Project};
use nanoclaw_core::time::now_utc;
use nanoclaw_store::{Store, StoreError, UniqueField};
use nanoclaw_workspace::{Workspace, Workspaces, WsError};

pub use files::{FileRead, Listing, RawFile, file_name};
pub use upload::UploadStats;

use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;
use input::CreateInput;

/// Projects per page unless asked otherwise (api.md §6.2).
pub const PROJECTS_PAGE: u64 = 20;

/// `stats` of the detail view: a walk of the project folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Regular files, recursively, hidden ones included.
    pub files: u64,
    /// Directories below the root, recursively.
    pub directories: u64,
    /// Sum of the regular files' sizes.
    pub total_size: u64,
}

/// The projects service.
#[derive(Debug, Clone)]
pub struct Projects {
    store: Store,
    workspaces: Workspaces,
}

fn not_found() -> AppError {
    AppError::NotFound("Project not found".into())
}

fn already_exists(name: &str) -> AppError {
    AppError::bad_request(format!("Project '{name}' already exists"))
}

/// Runs a sandbox call on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, WsError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, WsError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(WsError::Io(std::io::Error::other(e))))
}

/// The envelope for a sandbox refusal. `not_found` names what was missing (`File not found`,
/// `Directory not found`); `what` says what failed for the log of an I/O error.
pub(crate) fn ws_error(e: WsError, not_found: &'static str, what: &'static str) -> AppError {
    match e {
        WsError::OutsideProject => AppError::Forbidden(e.to_string().into()),
        WsError::NotFound => AppError::NotFound(not_found.into()),
        WsError::AlreadyExists
        | WsError::NotADirectory
        | WsError::IsADirectory
        | WsError::NotAFile
        | WsError::ProjectRoot
        | WsError::InvalidPath(_) => AppError::BadRequest(e.to_string().into()),
        WsError::TooLarge | WsError::QuotaExceeded => AppError::TooLarge(e.to_string().into()),
        WsError::Io(cause) => AppError::internal(format!("{what}: {cause}")),
    }
}

impl Projects {
    /// The service over `store` and the workspace root.
    pub fn new(store: Store, workspaces: Workspaces) -> Self {
        Self { store, workspaces }
    }

    /// The workspace root and its limits.
    pub fn workspaces(&self) -> &Workspaces {
        &self.workspaces
    }

    /// `GET /api/projects`: a page and the number of the caller's projects.
    pub async fn list(
        &self,
        user: &User,
        cursor: Option<&str>,
        limit: u64,
    ) -> ApiResult<(Page<Project>, u64)> {
        self.store
            .projects_page(user.id, cursor, limit)
            .await?
            .ok_or_else(|| AppError::bad_request("Invalid cursor"))
    }

    /// `POST /api/projects`: the folder first, then the row; the folder goes again if the
    /// row cannot be written.
    pub async fn create(&self, user: &User, body: &JsonObject) -> ApiResult<Project> {
        let input = CreateInput::parse(body)?;
        if self
            .store
            .project_name_taken(user.id, input.name.as_str())
            .await?
        {
            return Err(already_exists(input.name.as_str()));
        }
        let (path, _) = self.create_dir(user).await?;
        let new = NewProject {
            user_id: user.id,
            name: input.name,
            path,
            description: input.description,
        };
        self.insert(new).await
    }

    /// Makes a fresh project folder for `user`.
    async fn create_dir(&self, user: &User) -> ApiResult<(String, Workspace)> {
        let ws = self.workspaces.clone();
        let user_id = user.id;
        blocking(move || ws.create_project_dir(user_id))
            .await
            .map_err(|e| match e {
                WsError::Io(cause) => {
                    AppError::internal(format!("cannot create a project directory: {cause}"))
                }
                other => ws_error(other, "Directory not found", "create project directory"),
            })
    }

    /// Writes the row of a project whose folder exists; on failure the folder is removed.
    async fn insert(&self, new: NewProject) -> ApiResult<Project> {
        let path = new.path.clone();
        let name = new.name.clone();
        // The folder's generated name doubles as the project id, so that one names the other.
        let id = path.rsplit('/').next().unwrap_or_default().to_owned();
        let created = if uuid::Uuid::try_parse(&id).is_ok() {
            self.store.create_project_with_id(id, new, now_utc()).await
        } else {
            self.store.create_project(new, now_utc()).await
        };
        match created {
            Ok(p) => Ok(p),
            Err(e) => {
                self.remove_dir_quietly(path).await;
                match e {
                    // Taken meanwhile by a concurrent request.
                    StoreError::Conflict(UniqueField::ProjectName) => {
                        Err(already_exists(name.as_str()))
                    }
                    other => Err(other.into()),
                }
            }
        }
    }

    /// Removes a folder this request made, logging (not reporting) a failure.
    async fn remove_dir_quietly(&self, path: String) {
        let ws = self.workspaces.clone();
        let p = path.clone();
        if let Err(e) = blocking(move || ws.remove_project_dir(&p)).await {
            tracing::warn!(path, error = %e, "could not remove an unused project directory");
        }
    }

    /// The caller's project (404 otherwise).
    pub async fn get(&self, user: &User, id: &str) -> ApiResult<Project> {
        self.store.project(user.id, id).await?.ok_or_else(not_found)
    }

    /// `GET /api/projects/:id`: the project and a walk of its folder.
    pub async fn detail(&self, user: &User, id: &str) -> ApiResult<(Project, TreeStats)> {
        let project = self.get(user, id).await?;
        let ws = self.open(&project).await?;
        let stats = blocking(move || files::tree_stats(&ws))
            .await
            .map_err(|e| ws_error(e, "Directory not found", "walk project"))?;
        Ok((project, stats))
    }

    /// `PUT /api/projects/:id`: name and description; the folder stays where it is.
    pub async fn update(&self, user: &User, id: &str, body: &JsonObject) -> ApiResult<Project> {
        self.get(user, id).await?;
        let patch = input::parse_patch(body)?;
        let name = patch.name.clone();
        match self
            .store
            .update_project(user.id, id, patch, now_utc())
            .await
        {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(not_found()),
            Err(StoreError::Conflict(UniqueField::ProjectName)) => Err(already_exists(
                name.as_ref().map(|n| n.as_str()).unwrap_or_default(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// `DELETE /api/projects/:id`: the folder (when it lies inside the workspace), then the
    /// row with its conversations. A folder that cannot be removed leaves everything in place.
    pub async fn delete(&self, user: &User, id: &str) -> ApiResult<()> {
        let project = self.get(user, id).await?;
        let ws = self.workspaces.clone();
        let user_id = user.id;
        let path = project.path.clone();
        blocking(move || {
            // An imported path must lie strictly below the owner's own directory before
            // anything is deleted (W-01); the sandbox checks the rest (no `..`, no symlink).
            check_owned_path(user_id, &path)?;
            ws.remove_project_dir(&path)
        })
        .await
        .map_err(|e| match e {
            WsError::Io(cause) => {
                AppError::internal(format!("Failed to delete project directory: {cause}"))
            }
            _ => AppError::internal(format!(
                "Failed to delete project directory: {e} ({})",
                project.path
            )),
        })?;
        if self.store.delete_project(user.id, id).await? {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// The sandbox of a project of the caller, its stored path checked to lie below
    /// `user_<owner>/` (imported nanoClaw paths included).
    pub(crate) async fn open(&self, project: &Project) -> ApiResult<Workspace> {
        let ws = self.workspaces.clone();
        let (user_id, path) = (project.user_id, project.path.clone());
        blocking(move || ws.open_for_user(user_id, &path))
            .await
            .map_err(|e| match e {
                WsError::Io(cause) => {
                    AppError::internal(format!("cannot open a project directory: {cause}"))
                }
                // A stored path that escapes, or is not the owner's: refuse to touch it.
                other => {
                    tracing::warn!(project = %project.id, error = %other, "project path refused");
                    AppError::Forbidden("Invalid path: outside project directory".into())
                }
            })
    }

    /// The caller's project and its sandbox.
    pub(crate) async fn open_owned(&self, user: &User, id: &str) -> ApiResult<Workspace> {
        let project = self.get(user, id).await?;
        self.open(&project).await
    }
}

/// A stored path must name something strictly below `user_<user_id>/`.
fn check_owned_path(user_id: i64, path: &str) -> Result<(), WsError> {
    let prefix = format!("user_{user_id}/");
    let rest = path.strip_prefix(&prefix).ok_or(WsError::OutsideProject)?;
    if rest.split('/').all(|part| part.is_empty() || part == ".")
        || rest.split('/').any(|part| part == "..")
    {
        return Err(WsError::OutsideProject);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_below_the_owner_directory_are_deleted() {
        assert!(check_owned_path(1, "user_1/0b6f").is_ok());
        assert!(check_owned_path(1, "user_1/Algo Lab").is_ok());
        for bad in [
            "user_2/x",
            "user_1/",
            "user_1/.",
            "user_1/zz/../..",
            "user_1",
            "user_10/x",
            "../user_1/x",
        ] {
            assert!(check_owned_path(1, bad).is_err(), "{bad}");
        }
    }
}
