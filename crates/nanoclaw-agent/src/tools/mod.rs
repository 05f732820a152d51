//! The built-in tools, one file each.

use std::sync::Arc;

use nanoclaw_core::Config;

use crate::tool::Tool;

pub mod calculator;
pub mod crawl_batch;
pub mod execute_python;
pub mod fetch_page;
pub mod file_delete;
pub mod file_exists;
pub mod file_list;
pub mod file_mkdir;
pub mod file_read;
pub mod file_write;
pub mod files;
pub mod get_weather;
pub mod json_process;
pub mod multi_agent;
pub mod text_process;
pub mod web_search;

/// The built-in tools in the registration order of tools.md §1 (the order of `GET /api/tools`
/// and of the `tools` array sent to the model). Adding a tool: one file, one line here; a tool
/// that needs settings takes them from `config` (its own section), and a tool that cannot work
/// without settings it lacks is left out here. The `tools:` switches are applied by
/// [`crate::ToolRegistry::from_config`].
pub fn builtin(config: &Config) -> Vec<Arc<dyn Tool>> {
    let fetcher = fetch_page::fetcher(config);
    let mut tools: Vec<Arc<dyn Tool>> = vec![
        Arc::new(execute_python::ExecutePython::new(&config.code_execution)),
        Arc::new(fetch_page::FetchPage::new(fetcher.clone())),
        Arc::new(crawl_batch::CrawlBatch::new(fetcher)),
        Arc::new(calculator::Calculator),
        Arc::new(text_process::TextProcess),
        Arc::new(json_process::JsonProcess),
        Arc::new(file_read::FileRead),
        Arc::new(file_write::FileWrite),
        Arc::new(file_delete::FileDelete),
        Arc::new(file_list::FileList),
        Arc::new(file_exists::FileExists),
        Arc::new(file_mkdir::FileMkdir),
    ];
    match get_weather::GetWeather::from_config(&config.weather) {
        Ok(tool) => tools.push(Arc::new(tool)),
        Err(e) => tracing::error!(error = %e, "get_weather is left out"),
    }
    tools.push(Arc::new(multi_agent::MultiAgent::new(
        config.sub_agent.clone(),
    )));
    // web_search (only with a configured backend) goes right before fetch_page.
    match web_search::WebSearch::from_config(config) {
        Ok(Some(tool)) => {
            let at = tools.iter().position(|t| t.name() == "fetch_page");
            tools.insert(at.unwrap_or(0), Arc::new(tool));
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "web_search is left out"),
    }
    tools
}
