//! Parsing the project and file bodies into checked values; a wrong type is a 400 naming the
//! field (api.md §6; nanoClaw's messages where it has one).

use nanoclaw_core::project::{DESCRIPTION_MAX, NameError, ProjectName, ProjectPatch};
use serde_json::Value;

use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;

/// Default `max_results` of a search (api.md §6.14).
pub const SEARCH_DEFAULT_RESULTS: u64 = 50;

/// `POST /api/projects` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateInput {
    /// The label.
    pub name: ProjectName,
    /// Free text (default `""`).
    pub description: String,
}

fn no_data() -> AppError {
    AppError::bad_request("No data provided")
}

/// The message for a name that is present but not acceptable.
fn bad_name(e: NameError, empty: &'static str) -> AppError {
    match e {
        NameError::Empty => AppError::bad_request(empty),
        NameError::TooLong => AppError::bad_request("Project name must be at most 255 characters"),
        NameError::Control => {
            AppError::bad_request("Project name must not contain control characters")
        }
    }
}

/// Parses a name given in an upload form (or a body): trimmed, 1–255 characters.
pub fn project_name(raw: &str) -> ApiResult<ProjectName> {
    ProjectName::parse(raw).map_err(|e| bad_name(e, "Project name is required"))
}

fn description(body: &JsonObject) -> ApiResult<Option<String>> {
    match body.nullable_str_field("description")? {
        None => Ok(None),
        Some(d) => {
            let d = d.unwrap_or_default();
            check_description(d)?;
            Ok(Some(d.to_owned()))
        }
    }
}

/// 400 for a description over [`DESCRIPTION_MAX`] characters.
pub fn check_description(d: &str) -> ApiResult<()> {
    if d.chars().count() > DESCRIPTION_MAX {
        Err(AppError::bad_request(format!(
            "Field 'description' must be at most {DESCRIPTION_MAX} characters"
        )))
    } else {
        Ok(())
    }
}

impl CreateInput {
    /// Reads a create body (api.md §6.3 checks 1–2).
    pub fn parse(body: &JsonObject) -> ApiResult<Self> {
        if body.0.is_empty() {
            return Err(no_data());
        }
        let name = match body.0.get("name") {
            None | Some(Value::Null) => {
                return Err(AppError::bad_request("Project name is required"));
            }
            Some(Value::String(s)) => project_name(s)?,
            Some(_) => return Err(AppError::bad_request("Field 'name' must be a string")),
        };
        Ok(Self {
            name,
            description: description(body)?.unwrap_or_default(),
        })
    }
}

/// Reads an update body (api.md §6.5).
pub fn parse_patch(body: &JsonObject) -> ApiResult<ProjectPatch> {
    if body.0.is_empty() {
        return Err(no_data());
    }
    let name = body
        .str_field("name")?
        .map(|n| ProjectName::parse(n).map_err(|e| bad_name(e, "Project name cannot be empty")))
        .transpose()?;
    Ok(ProjectPatch {
        name,
        description: description(body)?,
    })
}

/// A required string field of a file body; absent (or the body empty) is nanoClaw's
/// `Missing '<name>' in request body`.
pub fn required_str<'a>(body: &'a JsonObject, name: &str) -> ApiResult<&'a str> {
    body.str_field(name)?
        .ok_or_else(|| AppError::bad_request(format!("Missing '{name}' in request body")))
}

/// `POST /api/projects/:id/search` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchInput {
    /// Literal text to find (not empty).
    pub query: String,
    /// Directory to search, relative to the project (`""` = root).
    pub path: String,
    /// Most files to report (1 to the configured cap).
    pub max_results: u64,
    /// Match case (default false).
    pub case_sensitive: bool,
}

impl SearchInput {
    /// Reads a search body; `max_results` is capped at `cap`. An empty query is refused
    /// (nanoClaw matched every line, W-45).
    pub fn parse(body: &JsonObject, cap: u64) -> ApiResult<Self> {
        let query = required_str(body, "query")?;
        if query.is_empty() {
            return Err(AppError::bad_request("Missing 'query' in request body"));
        }
        let path = match body.0.get("path") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(AppError::bad_request("Field 'path' must be a string")),
        };
        let max_results = match body.0.get("max_results") {
            None | Some(Value::Null) => SEARCH_DEFAULT_RESULTS,
            Some(v) => match v.as_i64() {
                Some(n) => u64::try_from(n.max(1)).unwrap_or(1),
                None => {
                    return Err(AppError::bad_request(
                        "Field 'max_results' must be a whole number",
                    ));
                }
            },
        }
        .min(cap);
        let case_sensitive = match body.0.get("case_sensitive") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(AppError::bad_request(
                    "Field 'case_sensitive' must be a boolean",
                ));
            }
        };
        Ok(Self {
            query: query.to_owned(),
            path,
            max_results,
            case_sensitive,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> JsonObject {
        JsonObject::parse(v.to_string().as_bytes()).unwrap()
    }

    fn message(r: ApiResult<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn create_bodies() {
        let c = CreateInput::parse(&body(json!({"name": " Lab ", "description": null}))).unwrap();
        assert_eq!((c.name.as_str(), c.description.as_str()), ("Lab", ""));
        assert_eq!(
            message(CreateInput::parse(&body(json!({})))),
            "No data provided"
        );
        assert_eq!(
            message(CreateInput::parse(&body(json!({"name": "  "})))),
            "Project name is required"
        );
        assert_eq!(
            message(CreateInput::parse(&body(json!({"description": "x"})))),
            "Project name is required"
        );
        for bad in [
            json!({"name": 5}),
            json!({"name": "a\nb"}),
            json!({"name": "x".repeat(256)}),
            json!({"name": "a", "description": 1}),
        ] {
            assert!(CreateInput::parse(&body(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn update_bodies() {
        assert_eq!(message(parse_patch(&body(json!({})))), "No data provided");
        assert_eq!(
            message(parse_patch(&body(json!({"name": " "})))),
            "Project name cannot be empty"
        );
        let p = parse_patch(&body(json!({"description": "d"}))).unwrap();
        assert_eq!((p.name, p.description.as_deref()), (None, Some("d")));
    }

    #[test]
    fn search_bodies() {
        let s = SearchInput::parse(&body(json!({"query": "x"})), 200).unwrap();
        assert_eq!(
            (s.max_results, s.case_sensitive, s.path.as_str()),
            (50, false, "")
        );
        let s = SearchInput::parse(&body(json!({"query": "x", "max_results": 999})), 200).unwrap();
        assert_eq!(s.max_results, 200);
        assert_eq!(
            message(SearchInput::parse(&body(json!({})), 200)),
            "Missing 'query' in request body"
        );
        for bad in [
            json!({"query": ""}),
            json!({"query": 1}),
            json!({"query": "x", "max_results": "5"}),
            json!({"query": "x", "case_sensitive": "yes"}),
            json!({"query": "x", "path": 3}),
        ] {
            assert!(
                SearchInput::parse(&body(bad.clone()), 200).is_err(),
                "{bad}"
            );
        }
    }
}
