//! State shared by every request.

use std::sync::Arc;

use nanoclaw_core::Config;
use nanoclaw_store::Store;
use nanoclaw_workspace::Workspaces;

use crate::accounts::Accounts;
use crate::chat::Chat;
use crate::projects::Projects;

/// Cheap to clone: everything sits behind one `Arc`.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The parts of the state.
#[derive(Debug)]
pub struct Inner {
    /// The validated configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// Authentication and accounts.
    pub accounts: Accounts,
    /// Conversations and their answers.
    pub chat: Arc<Chat>,
    /// The workspace root: every project folder, with the size limits.
    pub workspaces: Workspaces,
    /// Projects and their files.
    pub projects: Projects,
    /// `GET /api/models`, rendered once: the model list never changes while running.
    pub models_json: serde_json::Value,
    /// `GET /api/tools`: the registered tools' definitions, rendered once.
    pub tools_json: serde_json::Value,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
