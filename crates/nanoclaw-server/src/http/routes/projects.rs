//! `/api/projects/*`: projects, their files, the folder upload and content search (api.md §6).
//! Another user's project id is a 404 `Project not found` everywhere.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use nanoclaw_core::project::Project;
use nanoclaw_core::time::to_rfc3339_micros;
use nanoclaw_workspace::{Entry, SearchResults};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::chat::page_params;
use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;
use crate::http::envelope::Data;
use crate::http::extract::CurrentUser;
use crate::http::openapi::{DataEnvelope, ErrorEnvelope};
use crate::http::path::Path;
use crate::projects::{FileRead, PROJECTS_PAGE, RawFile, TreeStats, UploadStats};
use crate::state::AppState;

/// The file routes as axum matches them (`{*filepath}` takes the rest of the URL, `/` included).
const FILE_ROUTE: &str = "/api/projects/{id}/files/{*filepath}";
/// The same path as the OpenAPI document names it (a parameter name cannot contain `*`).
const FILE_DOC_PATH: &str = "/api/projects/{id}/files/{filepath}";

/// Slack over `file_max_bytes` for a `PUT` body: JSON quoting and escapes of the content.
const WRITE_BODY_SLACK: u64 = 64 * 1024;

/// The project routes (each documented by its `#[utoipa::path]`).
pub fn router() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, delete_project))
        // The upload applies its own limits while streaming (413 envelopes).
        .routes(routes!(upload_project).layer(DefaultBodyLimit::disable()))
        .routes(routes!(list_files))
        .routes(
            routes!(read_file, write_file, rename_file, delete_file)
                .layer(DefaultBodyLimit::disable()),
        )
        .routes(routes!(make_directory))
        .routes(routes!(search_files));
    let paths = &mut router.get_openapi_mut().paths.paths;
    if let Some(item) = paths.remove(FILE_ROUTE) {
        paths.insert(FILE_DOC_PATH.to_owned(), item);
    }
    router
}

/// Query strings are read as text and checked by hand, so that a bad value is a clear 400.
#[derive(Deserialize)]
struct ProjectQuery {
    cursor: Option<String>,
    limit: Option<String>,
    path: Option<String>,
    raw: Option<String>,
}

fn query(q: Result<Query<ProjectQuery>, QueryRejection>) -> ApiResult<ProjectQuery> {
    q.map(|Query(q)| q)
        .map_err(|_| AppError::bad_request("Invalid query string"))
}

// ---- views (api.md §6.1) ----

/// A project in the list.
#[derive(Serialize, ToSchema)]
struct ProjectItem<'a> {
    id: &'a str,
    name: &'a str,
    /// Folder relative to the workspace root (`user_<id>/<uuid>`).
    path: &'a str,
    description: &'a str,
    #[schema(format = DateTime, examples("2026-11-27T02:42:22.617981Z"))]
    created_at: String,
    #[schema(format = DateTime, examples("2026-11-27T02:42:22.617981Z"))]
    updated_at: String,
    conversation_count: i64,
}

impl<'a> From<&'a Project> for ProjectItem<'a> {
    fn from(p: &'a Project) -> Self {
        Self {
            id: &p.id,
            name: &p.name,
            path: &p.path,
            description: &p.description,
            created_at: to_rfc3339_micros(&p.created_at),
            updated_at: to_rfc3339_micros(&p.updated_at),
            conversation_count: p.conversation_count.unwrap_or(0),
        }
    }
}

/// A page of projects with the caller's total.
#[derive(Serialize, ToSchema)]
struct ProjectPage<'a> {
    items: Vec<ProjectItem<'a>>,
    /// Id of the last item when `has_more`.
    #[schema(nullable)]
    next_cursor: Option<&'a str>,
    has_more: bool,
    /// Number of the caller's projects.
    total: u64,
}

/// Counts of a project folder.
#[derive(Serialize, ToSchema)]
struct StatsView {
    /// Regular files, recursively (hidden ones included).
    files: u64,
    /// Directories, recursively.
    directories: u64,
    /// Bytes in those files.
    total_size: u64,
}

impl From<TreeStats> for StatsView {
    fn from(s: TreeStats) -> Self {
        Self {
            files: s.files,
            directories: s.directories,
            total_size: s.total_size,
        }
    }
}

/// What an upload wrote.
#[derive(Serialize, ToSchema)]
struct UploadStatsView {
    /// Files written.
    files: u64,
    /// Files not at the project root (nanoClaw's meaning).
    directories: u64,
    /// Bytes written.
    size: u64,
}

/// A created (or uploaded) project.
#[derive(Serialize, ToSchema)]
struct ProjectCreated<'a> {
    id: &'a str,
    name: &'a str,
    path: &'a str,
    description: &'a str,
    #[schema(format = DateTime)]
    created_at: String,
    /// Uploads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<UploadStatsView>,
}

impl<'a> ProjectCreated<'a> {
    fn new(p: &'a Project, stats: Option<UploadStats>) -> Self {
        Self {
            id: &p.id,
            name: &p.name,
            path: &p.path,
            description: &p.description,
            created_at: to_rfc3339_micros(&p.created_at),
            stats: stats.map(|s| UploadStatsView {
                files: s.files,
                directories: s.directories,
                size: s.size,
            }),
        }
    }
}

/// One project with the counts of its folder. (nanoClaw's `absolute_path` is left out: it
/// revealed the server's directories, W-14.)
#[derive(Serialize, ToSchema)]
struct ProjectDetail<'a> {
    #[serde(flatten)]
    project: ProjectItem<'a>,
    stats: StatsView,
}

/// An updated project.
#[derive(Serialize, ToSchema)]
struct ProjectUpdated<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// `data` carrying a message (nanoClaw puts some confirmations there).
#[derive(Serialize, ToSchema)]
struct MessageData {
    message: String,
}

/// A file of a listing.
#[derive(Serialize, ToSchema)]
struct FileItem<'a> {
    name: &'a str,
    /// Relative to the project root.
    path: &'a str,
    size: u64,
    /// With its dot (`.py`), or `""`.
    extension: &'a str,
}

impl<'a> From<&'a Entry> for FileItem<'a> {
    fn from(e: &'a Entry) -> Self {
        Self {
            name: &e.name,
            path: &e.path,
            size: e.size,
            extension: e.extension(),
        }
    }
}

/// A directory of a listing.
#[derive(Serialize, ToSchema)]
struct DirItem<'a> {
    name: &'a str,
    path: &'a str,
}

/// One directory of a project.
#[derive(Serialize, ToSchema)]
struct ListingView<'a> {
    project_id: &'a str,
    /// The `path` parameter, or `/`.
    current_path: &'a str,
    files: Vec<FileItem<'a>>,
    directories: Vec<DirItem<'a>>,
    total_files: usize,
    total_dirs: usize,
}

/// A text file.
#[derive(Serialize, ToSchema)]
struct FileView<'a> {
    name: &'a str,
    path: &'a str,
    /// Bytes on disk.
    size: u64,
    extension: String,
    content: &'a str,
}

/// A written file.
#[derive(Serialize, ToSchema)]
struct WrittenView<'a> {
    name: &'a str,
    path: &'a str,
    size: u64,
}

/// A renamed file or directory, or a made directory (`name` absent).
#[derive(Serialize, ToSchema)]
struct PathView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    path: &'a str,
}

/// Search results (api.md §6.14).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation of `SearchResults`' JSON form
struct SearchView {
    query: String,
    results: Vec<SearchFile>,
    /// Number of files in `results`.
    total_matches: u64,
}

/// The matching lines of one file.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct SearchFile {
    path: String,
    matches: Vec<SearchLine>,
}

/// One matching line.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
struct SearchLine {
    /// 1-based.
    line: u64,
    content: String,
}

/// Request bodies, for the document only (parsed by `projects::input`).
#[derive(ToSchema)]
#[allow(dead_code)]
struct ProjectBody {
    /// 1–255 characters, no control characters; unique among the caller's projects.
    name: Option<String>,
    description: Option<String>,
}

/// `multipart/form-data` of a folder upload.
#[derive(ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// Project name (default: the first file's top folder, else `untitled`).
    name: Option<String>,
    description: Option<String>,
    /// One part per file; its filename is the relative path (`Top/src/main.py`).
    #[schema(format = Binary)]
    files: Vec<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ContentBody {
    /// The whole new text of the file.
    content: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct RenameBody {
    /// New path relative to the project root.
    new_path: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct DirectoryBody {
    /// Directory to make, relative to the project root (parents too).
    path: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct SearchBody {
    /// Literal text (not a regex), not empty.
    query: String,
    /// Directory to search (default: the project root).
    path: Option<String>,
    /// Files with matches to report: default 50, capped by `search_max_results` (200).
    max_results: Option<u32>,
    /// Default false.
    case_sensitive: Option<bool>,
}

// ---- projects ----

/// The caller's projects, most recently updated first, with their total.
#[utoipa::path(
    get,
    path = "/api/projects",
    tag = "projects",
    security(("bearer" = [])),
    params(
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1–100 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of projects", body = DataEnvelope<ProjectPage>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ),
)]
async fn list_projects(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    q: Result<Query<ProjectQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let (limit, cursor) = page_params(q.limit.as_deref(), q.cursor.as_deref(), PROJECTS_PAGE)?;
    let (page, total) = state
        .projects
        .list(&caller.user, cursor.as_deref(), limit)
        .await?;
    Ok(Data(ProjectPage {
        items: page.items.iter().map(ProjectItem::from).collect(),
        next_cursor: page.next_cursor.as_deref(),
        has_more: page.has_more,
        total,
    })
    .into_response())
}

/// Create a project; its folder is `user_<id>/<new uuid>`, whatever the name.
#[utoipa::path(
    post,
    path = "/api/projects",
    tag = "projects",
    security(("bearer" = [])),
    request_body = ProjectBody,
    responses(
        (status = 200, description = "The project", body = DataEnvelope<ProjectCreated>),
        (status = 400, description = "`No data provided`, `Project name is required`, `Project '<name>' already exists`, or a wrong type", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ),
)]
async fn create_project(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    body: JsonObject,
) -> ApiResult<Response> {
    let project = state.projects.create(&caller.user, &body).await?;
    Ok(Data(ProjectCreated::new(&project, None)).into_response())
}

/// Create a project from a folder upload (`multipart/form-data`), streamed to disk.
#[utoipa::path(
    post,
    path = "/api/projects/upload",
    tag = "projects",
    security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The project and what was written", body = DataEnvelope<ProjectCreated>),
        (status = 400, description = "`No files uploaded`, a file name with `..`, an absolute name, `Project '<name>' already exists`, or a malformed form", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 413, description = "Too many files, a file or the upload too large, or the quota exceeded", body = ErrorEnvelope),
    ),
)]
async fn upload_project(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let form =
        form.map_err(|_| AppError::bad_request("Content-Type must be multipart/form-data"))?;
    let (project, stats) = state.projects.upload(&caller.user, form).await?;
    Ok(Data(ProjectCreated::new(&project, Some(stats))).into_response())
}

/// One of the caller's projects with the counts of its folder.
#[utoipa::path(
    get,
    path = "/api/projects/{id}",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project", body = DataEnvelope<ProjectDetail>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "The stored folder lies outside the workspace", body = ErrorEnvelope),
        (status = 404, description = "`Project not found`", body = ErrorEnvelope),
    ),
)]
async fn get_project(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (project, stats) = state.projects.detail(&caller.user, &id).await?;
    Ok(Data(ProjectDetail {
        project: ProjectItem::from(&project),
        stats: stats.into(),
    })
    .into_response())
}

/// Change a project's name or description (the folder stays).
#[utoipa::path(
    put,
    path = "/api/projects/{id}",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body = ProjectBody,
    responses(
        (status = 200, description = "The updated fields", body = DataEnvelope<ProjectUpdated>),
        (status = 400, description = "`No data provided`, `Project name cannot be empty`, `Project '<name>' already exists`, or a wrong type", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "`Project not found`", body = ErrorEnvelope),
    ),
)]
async fn update_project(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    let p = state.projects.update(&caller.user, &id, &body).await?;
    Ok(Data(ProjectUpdated {
        id: &p.id,
        name: &p.name,
        description: &p.description,
        updated_at: to_rfc3339_micros(&p.updated_at),
    })
    .into_response())
}

/// Delete a project: its folder, its conversations and their messages.
#[utoipa::path(
    delete,
    path = "/api/projects/{id}",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "`Project deleted successfully` (inside `data`)", body = DataEnvelope<MessageData>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 404, description = "`Project not found`", body = ErrorEnvelope),
        (status = 500, description = "The folder could not be deleted (nothing was)", body = ErrorEnvelope),
    ),
)]
async fn delete_project(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.projects.delete(&caller.user, &id).await?;
    Ok(Data(MessageData {
        message: "Project deleted successfully".into(),
    })
    .into_response())
}

// ---- files ----

/// One directory of a project (hidden entries left out).
#[utoipa::path(
    get,
    path = "/api/projects/{id}/files",
    tag = "projects",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Project id"),
        ("path" = Option<String>, Query, description = "Directory relative to the project root (default: the root)"),
    ),
    responses(
        (status = 200, description = "Its files and directories", body = DataEnvelope<ListingView>),
        (status = 400, description = "`Path is not a directory`", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "`Invalid path: outside project directory`", body = ErrorEnvelope),
        (status = 404, description = "`Project not found` or `Directory not found`", body = ErrorEnvelope),
    ),
)]
async fn list_files(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let listing = state
        .projects
        .list_files(&caller.user, &id, q.path.as_deref())
        .await?;
    let files: Vec<FileItem<'_>> = listing.files.iter().map(FileItem::from).collect();
    let directories: Vec<DirItem<'_>> = listing
        .directories
        .iter()
        .map(|e| DirItem {
            name: &e.name,
            path: &e.path,
        })
        .collect();
    Ok(Data(ListingView {
        project_id: &listing.project_id,
        current_path: &listing.current_path,
        total_files: files.len(),
        total_dirs: directories.len(),
        files,
        directories,
    })
    .into_response())
}

/// Read a file: text as JSON; image files (`png jpg jpeg gif bmp webp svg ico`), and any file
/// with `?raw=1`, as raw bytes with `X-Content-Type-Options: nosniff` and
/// `Content-Security-Policy: sandbox`. Raster images are inline; SVG and everything else come
/// as attachments (non-images as `application/octet-stream`), never as active content.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/files/{*filepath}",
    tag = "projects",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Project id"),
        ("filepath" = String, Path, description = "File path relative to the project root (may contain `/`)"),
        ("raw" = Option<String>, Query, description = "`1`: send the bytes as they are"),
    ),
    responses(
        (status = 200, description = "The file", content(
            (DataEnvelope<FileView> = "application/json"),
            (String = "image/*"),
            (String = "application/octet-stream"),
        )),
        (status = 400, description = "`Path is not a file`, `File too large (max 5 MB)` or `Binary file, cannot preview as text`", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "`Invalid path: outside project directory`", body = ErrorEnvelope),
        (status = 404, description = "`Project not found` or `File not found`", body = ErrorEnvelope),
    ),
)]
async fn read_file(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((id, filepath)): Path<(String, String)>,
    q: Result<Query<ProjectQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let raw = matches!(q.raw.as_deref(), Some("1" | "true"));
    match state
        .projects
        .read_file(&caller.user, &id, &filepath, raw)
        .await?
    {
        FileRead::Text {
            path,
            size,
            content,
        } => {
            let name = crate::projects::file_name(&path);
            Ok(Data(FileView {
                name,
                path: &path,
                size,
                extension: extension_with_dot(name),
                content: &content,
            })
            .into_response())
        }
        FileRead::Raw(file) => Ok(raw_response(file)),
    }
}

/// `".py"` for `main.py`, `""` without one (Python's `suffix`).
fn extension_with_dot(name: &str) -> String {
    match name.rfind('.') {
        Some(at) if at > 0 => name[at..].to_owned(),
        _ => String::new(),
    }
}

/// A file streamed as it is, with headers that keep browsers from running anything in it.
fn raw_response(file: RawFile) -> Response {
    let reader = tokio::fs::File::from_std(file.file).take(file.size);
    let mut response = Response::new(Body::from_stream(ReaderStream::new(reader)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    let disposition = content_disposition(&file.name, file.inline);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `inline` or `attachment` with the name: an ASCII fallback and the RFC 5987 UTF-8 form.
fn content_disposition(name: &str, inline: bool) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Create or overwrite a text file (parents made); at most `file_max_bytes`.
#[utoipa::path(
    put,
    path = "/api/projects/{id}/files/{*filepath}",
    tag = "projects",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Project id"),
        ("filepath" = String, Path, description = "File path relative to the project root"),
    ),
    request_body = ContentBody,
    responses(
        (status = 200, description = "The written file", body = DataEnvelope<WrittenView>),
        (status = 400, description = "`Missing 'content' in request body`, a wrong type, a directory at that path, or the project root", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "`Invalid path: outside project directory`", body = ErrorEnvelope),
        (status = 404, description = "`Project not found`", body = ErrorEnvelope),
        (status = 413, description = "File too large, or the quota exceeded", body = ErrorEnvelope),
    ),
)]
async fn write_file(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((id, filepath)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let max = state.workspaces.limits().max_file_bytes;
    let limit = usize::try_from(max.saturating_add(max / 8).saturating_add(WRITE_BODY_SLACK))
        .unwrap_or(usize::MAX);
    let body = JsonObject::read(req, limit).await.map_err(|e| match e {
        AppError::PayloadTooLarge => {
            AppError::TooLarge(format!("File too large (max {max} bytes)").into())
        }
        other => other,
    })?;
    let (path, size) = state
        .projects
        .write_file(&caller.user, &id, &filepath, &body)
        .await?;
    Ok(Data(WrittenView {
        name: crate::projects::file_name(&path),
        path: &path,
        size,
    })
    .into_response())
}

/// Rename or move a file or directory (the destination's parents are made).
#[utoipa::path(
    patch,
    path = "/api/projects/{id}/files/{*filepath}",
    tag = "projects",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Project id"),
        ("filepath" = String, Path, description = "Path relative to the project root"),
    ),
    request_body = RenameBody,
    responses(
        (status = 200, description = "The new name and path", body = DataEnvelope<PathView>),
        (status = 400, description = "`Missing 'new_path' in request body`, `Destination already exists`, or the project root", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "`Invalid path: outside project directory`", body = ErrorEnvelope),
        (status = 404, description = "`Project not found` or `File not found`", body = ErrorEnvelope),
    ),
)]
async fn rename_file(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((id, filepath)): Path<(String, String)>,
    body: JsonObject,
) -> ApiResult<Response> {
    let path = state
        .projects
        .rename_file(&caller.user, &id, &filepath, &body)
        .await?;
    Ok(Data(PathView {
        name: Some(crate::projects::file_name(&path)),
        path: &path,
    })
    .into_response())
}

/// Delete a file, or a directory with everything in it (never the project root).
#[utoipa::path(
    delete,
    path = "/api/projects/{id}/files/{*filepath}",
    tag = "projects",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Project id"),
        ("filepath" = String, Path, description = "Path relative to the project root"),
    ),
    responses(
        (status = 200, description = "`Deleted '<filepath>'` (inside `data`)", body = DataEnvelope<MessageData>),
        (status = 400, description = "The project root itself", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "`Invalid path: outside project directory`", body = ErrorEnvelope),
        (status = 404, description = "`Project not found` or `File not found`", body = ErrorEnvelope),
    ),
)]
async fn delete_file(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path((id, filepath)): Path<(String, String)>,
) -> ApiResult<Response> {
    state
        .projects
        .delete_file(&caller.user, &id, &filepath)
        .await?;
    Ok(Data(MessageData {
        message: format!("Deleted '{filepath}'"),
    })
    .into_response())
}

/// Make a directory with its parents (an existing one is fine).
#[utoipa::path(
    post,
    path = "/api/projects/{id}/directories",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body = DirectoryBody,
    responses(
        (status = 200, description = "Its path (`.` for the root)", body = DataEnvelope<PathView>),
        (status = 400, description = "`Missing 'path' in request body` or `Directory already exists` (a file is there)", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "`Invalid path: outside project directory`", body = ErrorEnvelope),
        (status = 404, description = "`Project not found`", body = ErrorEnvelope),
    ),
)]
async fn make_directory(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    let path = state
        .projects
        .make_directory(&caller.user, &id, &body)
        .await?;
    Ok(Data(PathView {
        name: None,
        path: &path,
    })
    .into_response())
}

/// Find literal text in the project's text files (case-insensitive unless asked).
#[utoipa::path(
    post,
    path = "/api/projects/{id}/search",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body = SearchBody,
    responses(
        (status = 200, description = "Files with matching lines", body = DataEnvelope<SearchView>),
        (status = 400, description = "`Missing 'query' in request body`, or a wrong type", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "`Invalid path: outside project directory`", body = ErrorEnvelope),
        (status = 404, description = "`Project not found` or `Directory not found`", body = ErrorEnvelope),
    ),
)]
async fn search_files(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
    body: JsonObject,
) -> ApiResult<Response> {
    let results: SearchResults = state.projects.search(&caller.user, &id, &body).await?;
    Ok(Data(results).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_are_safe_header_values() {
        assert_eq!(
            content_disposition("a b.png", true),
            "inline; filename=\"a b.png\"; filename*=UTF-8''a%20b.png"
        );
        let d = content_disposition("x\"\r\n;图.svg", false);
        assert!(d.starts_with("attachment; filename=\"x____"), "{d}");
        assert!(HeaderValue::from_str(&d).is_ok());
        assert_eq!(extension_with_dot("main.py"), ".py");
        assert_eq!(extension_with_dot(".env"), "");
    }
}
