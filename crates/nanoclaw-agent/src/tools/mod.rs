//! The built-in tools, one file each.

use std::sync::Arc;

use crate::tool::Tool;

pub mod calculator;

/// The built-in tools in the registration order of tools.md §1 (the order of `GET /api/tools`
/// and of the `tools` array sent to the model). Adding a tool: one file, one line here.
pub fn builtin() -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(calculator::Calculator)]
}
