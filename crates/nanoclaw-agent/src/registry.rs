//! The ordered set of tools offered to the model and listed by `GET /api/tools`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use nanoclaw_core::Config;
use nanoclaw_llm::ToolSpec;
use serde_json::{Value, json};

use crate::tool::Tool;

/// A registered tool with what is computed once about it.
struct Entry {
    tool: Arc<dyn Tool>,
    /// `tool.parameters()`, built once.
    parameters: Value,
}

/// Tools in registration order, looked up by name (tools.md §1).
#[derive(Default)]
pub struct ToolRegistry {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    /// What [`ToolRegistry::specs`] answers, without and with a workspace: built on first
    /// use after the last registration and shared by every answer (a stream holds its list
    /// while it runs).
    offered: OnceLock<[Arc<[ToolSpec]>; 2]>,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> ToolRegistry {
        ToolRegistry::default()
    }

    /// Every built-in tool a default configuration offers, in the order of tools.md §1.
    pub fn builtin() -> ToolRegistry {
        ToolRegistry::from_config(&Config::default())
    }

    /// The built-in tools `config` builds and switches on (its `tools:` section), in the order
    /// of tools.md §1.
    pub fn from_config(config: &Config) -> ToolRegistry {
        let mut registry = ToolRegistry::new();
        for tool in crate::tools::builtin(config) {
            if config.tools.is_enabled(tool.name(), tool.category()) {
                registry.register(tool);
            }
        }
        registry
    }

    /// Adds a tool; a second tool with the same name replaces the first in its position
    /// (as re-assigning a key of nanoClaw's registry dict did).
    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        let entry = Entry {
            parameters: tool.parameters(),
            tool,
        };
        match self.by_name.get(entry.tool.name()) {
            Some(&i) => self.entries[i] = entry,
            None => {
                self.by_name
                    .insert(entry.tool.name().to_owned(), self.entries.len());
                self.entries.push(entry);
            }
        }
        self.offered = OnceLock::new();
    }

    /// The tool called `name`, if registered.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.by_name.get(name).map(|&i| &self.entries[i].tool)
    }

    /// The tool called `name` with its parameter schema, built once at registration.
    pub(crate) fn lookup(&self, name: &str) -> Option<(&Arc<dyn Tool>, &Value)> {
        self.by_name
            .get(name)
            .map(|&i| (&self.entries[i].tool, &self.entries[i].parameters))
    }

    /// Number of tools.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no tool is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tools in registration order.
    pub fn tools(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.entries.iter().map(|e| &e.tool)
    }

    /// The tools as offered to the model, in registration order; tools that need a workspace
    /// only when `workspace_bound`.
    pub fn specs(&self, workspace_bound: bool) -> Arc<[ToolSpec]> {
        let offered = self
            .offered
            .get_or_init(|| [false, true].map(|bound| self.build_specs(bound)));
        Arc::clone(&offered[usize::from(workspace_bound)])
    }

    fn build_specs(&self, workspace_bound: bool) -> Arc<[ToolSpec]> {
        self.entries
            .iter()
            .filter(|e| workspace_bound || !e.tool.needs_workspace())
            .map(|e| ToolSpec {
                name: e.tool.name().to_owned(),
                description: e.tool.description().to_owned(),
                parameters: e.parameters.clone(),
            })
            .collect()
    }

    /// The body of `GET /api/tools`: `{"tools": [{"type":"function","function":{…}}, …], "total": n}`.
    pub fn catalog_json(&self) -> Value {
        let tools: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                json!({
                    "type": "function",
                    "function": {
                        "name": e.tool.name(),
                        "description": e.tool.description(),
                        "parameters": e.parameters,
                    }
                })
            })
            .collect();
        json!({ "total": tools.len(), "tools": tools })
    }
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| e.tool.name()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::calculator::Calculator;

    #[test]
    fn catalog_specs_and_replacement() {
        let mut registry = ToolRegistry::builtin();
        let owned: Vec<String> = registry.tools().map(|t| t.name().to_owned()).collect();
        let names: Vec<&str> = owned.iter().map(String::as_str).collect();
        // Registration order is tools.md §1's (tools that need configuration may be absent).
        let order: Vec<&str> = nanoclaw_core::config::BUILTIN_TOOLS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| names.contains(n))
            .collect();
        assert_eq!(names, order);
        for name in [
            "calculator",
            "text_process",
            "json_process",
            "file_read",
            "file_write",
            "file_delete",
            "file_list",
            "file_exists",
            "file_mkdir",
            "get_weather",
            "multi_agent",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        for tool in registry.tools() {
            let category = nanoclaw_core::config::BUILTIN_TOOLS
                .iter()
                .find(|(n, _)| *n == tool.name())
                .map(|(_, c)| *c);
            assert_eq!(Some(tool.category()), category, "{}", tool.name());
        }
        assert!(registry.get("calculator").is_some() && registry.get("nope").is_none());
        let total = registry.len();
        let catalog = registry.catalog_json();
        let at = |name: &str| names.iter().position(|n| *n == name).unwrap();
        let calc = &catalog["tools"][at("calculator")];
        // The catalog lists every tool, workspace or not.
        assert_eq!(catalog["total"], json!(total));
        assert_eq!(calc["type"], json!("function"));
        assert_eq!(calc["function"]["name"], json!("calculator"));
        assert_eq!(
            calc["function"]["parameters"],
            json!({"type": "object",
                   "properties": {"expression": {"type": "string", "description": calc["function"]["parameters"]["properties"]["expression"]["description"]}},
                   "required": ["expression"]})
        );
        assert!(calc["function"].get("category").is_none());
        // Registering the same name again replaces it in place.
        registry.register(Arc::new(Calculator));
        assert_eq!(registry.len(), total);
        assert_eq!(
            registry.tools().nth(at("calculator")).unwrap().name(),
            "calculator"
        );
        // File tools are offered only with a workspace.
        let specs = registry.specs(false);
        assert_eq!(specs.len(), total - 6);
        assert!(specs.iter().all(|s| !s.name.starts_with("file_")));
        let calc_spec = specs.iter().find(|s| s.name == "calculator").unwrap();
        assert_eq!(calc_spec.parameters, calc["function"]["parameters"]);
        let specs = registry.specs(true);
        assert_eq!(specs.len(), total);
        assert_eq!(specs[at("file_read")].name, "file_read");
    }
}
