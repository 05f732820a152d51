//! `execute_python` (tools.md §4.1): runs the model's Python in the OS sandbox of
//! `nanoclaw-sandbox` (bubblewrap namespaces, seccomp, rlimits, a pids cgroup, capped output).
//!
//! The strictness levels keep their names, timeouts and allowlists, applied to the user code's
//! own imports only. The operator's `code_execution.max_strictness` is the most permissive
//! level the model may ask for: a more permissive request runs at that level, and the result's
//! `strictness` names the level actually used. Without bwrap or Python the tool answers
//! `code execution is unavailable: …` / `Python interpreter not available`; it never runs code
//! outside the sandbox.

use nanoclaw_core::config::{CodeExecutionConfig, ProjectMountMode};
use nanoclaw_sandbox::{
    ProjectMount, RunOptions, RunOutcome, Sandbox, Settings, Strictness, Unavailable,
};
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

use crate::tool::{BoxFuture, Tool, ToolContext, ToolOutput};

/// Longest accepted code, in bytes.
pub const MAX_CODE_BYTES: usize = 256 * 1024;

/// The `execute_python` tool.
#[derive(Debug)]
pub struct ExecutePython {
    config: CodeExecutionConfig,
    settings: Settings,
    /// Found and proven on first use (bwrap, the interpreter, the cgroup), then reused.
    sandbox: OnceCell<Result<Sandbox, Unavailable>>,
}

impl ExecutePython {
    /// The tool with the `code_execution` settings.
    pub fn new(config: &CodeExecutionConfig) -> ExecutePython {
        let mib = 1024 * 1024;
        let settings = Settings {
            python: config.python.as_ref().map(Into::into),
            bwrap: None,
            memory_bytes: config.memory_mb.saturating_mul(mib),
            // The same bound for the whole run, where a memory cgroup is available.
            run_memory_bytes: Some(config.memory_mb.saturating_mul(mib)),
            max_processes: config.max_processes,
            max_file_bytes: config.max_file_mb.saturating_mul(mib),
            max_open_files: 256,
            scratch_bytes: config.scratch_mb.saturating_mul(mib),
            output_bytes: config.max_output_bytes,
        };
        ExecutePython {
            config: config.clone(),
            settings,
            sandbox: OnceCell::new(),
        }
    }

    async fn sandbox(&self) -> &Result<Sandbox, Unavailable> {
        self.sandbox
            .get_or_init(|| async {
                let found = Sandbox::detect(&self.settings).await;
                match &found {
                    Ok(sb) => tracing::info!(
                        python = %sb.python().display(),
                        pids_cgroup = sb.uses_pids_cgroup(),
                        memory_cgroup = sb.uses_memory_cgroup(),
                        "execute_python sandbox ready"
                    ),
                    Err(e) => tracing::warn!(error = %e, "execute_python has no sandbox"),
                }
                found
            })
            .await
    }

    async fn execute(&self, args: Map<String, Value>, ctx: &ToolContext) -> ToolOutput {
        let code = match args.get("code") {
            Some(Value::String(s)) => s,
            Some(_) => return Err("Argument 'code' must be a string".to_owned()),
            None => return Err("Missing required argument: 'code'".to_owned()),
        };
        let asked = match args.get("strictness") {
            None | Some(Value::Null) => self.config.default_strictness.clone(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let level: Strictness = match asked.parse() {
            Ok(level) => level,
            Err(e) => return Ok(failure(e.to_string())),
        };
        // The model may only tighten the operator's maximum (validated at start-up).
        let max: Strictness = self
            .config
            .max_strictness
            .parse()
            .unwrap_or(Strictness::Standard);
        let level = level.min(max);
        if code.len() > MAX_CODE_BYTES {
            return Ok(failure(format!(
                "Code too long: {} bytes (limit {MAX_CODE_BYTES})",
                code.len()
            )));
        }
        let sandbox = match self.sandbox().await {
            Ok(sb) => sb,
            Err(Unavailable::Python(_)) => {
                return Ok(failure("Python interpreter not available".to_owned()));
            }
            Err(e) => return Ok(failure(e.to_string())),
        };
        let mut opts = RunOptions::new(level);
        if level != Strictness::Lenient {
            opts.extra_modules = self
                .config
                .extra_allowed_modules
                .get(level.as_str())
                .cloned()
                .unwrap_or_default();
        }
        opts.project = match (&ctx.workspace, self.config.project_mount) {
            (Some(ws), ProjectMountMode::ReadOnly) => Some(ProjectMount {
                host: ws.host_path().to_owned(),
                writable: false,
            }),
            (Some(ws), ProjectMountMode::ReadWrite) => Some(ProjectMount {
                host: ws.host_path().to_owned(),
                writable: true,
            }),
            _ => None,
        };
        let outcome = sandbox.run_python(code, &opts, &ctx.cancel).await;
        Ok(result(outcome, level, &opts))
    }
}

fn failure(error: String) -> Value {
    json!({ "success": false, "error": error })
}

/// The result shapes of tools.md §4.1.
fn result(outcome: RunOutcome, level: Strictness, opts: &RunOptions) -> Value {
    let secs = opts.timeout.as_secs();
    match outcome {
        RunOutcome::Exited {
            code: Some(0),
            stdout,
            ..
        } => json!({
            "success": true,
            "output": stdout.text,
            "strictness": level.as_str(),
            "timeout": secs,
        }),
        RunOutcome::Exited { stderr, .. } if !stderr.text.is_empty() => failure(stderr.text),
        RunOutcome::Exited { .. } => failure("Execution failed".to_owned()),
        RunOutcome::Rejected(message) => failure(message),
        RunOutcome::TimedOut => failure(format!(
            "Execution timeout ({secs}s limit in '{}' mode)",
            level.as_str()
        )),
        RunOutcome::Cancelled => failure("Execution cancelled".to_owned()),
        RunOutcome::Failed(detail) => failure(format!("Execution error: {detail}")),
    }
}

impl Tool for ExecutePython {
    fn name(&self) -> &str {
        "execute_python"
    }

    fn description(&self) -> &str {
        "Run Python 3 code in an isolated sandbox (no network, private /tmp, the project's \
         folder at /project when the conversation has one) and return what it prints. Three \
         strictness levels: 'standard' (default, 10 s, common standard-library modules), \
         'strict' (5 s, simple calculations) and 'lenient' (30 s, any installed module, if the \
         operator allows it). Print the results you need."
    }

    fn category(&self) -> &str {
        "code"
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "The Python code to run; use print() for the output"
                },
                "strictness": {
                    "type": "string",
                    "enum": ["lenient", "standard", "strict"],
                    "description": "Sandbox level: 'standard' (default, 10 s), 'lenient' (30 s, \
                                    all modules) or 'strict' (5 s, calculations only)"
                }
            },
            "required": ["code"]
        })
    }

    fn has_side_effects(&self) -> bool {
        true
    }

    fn run<'a>(
        &'a self,
        args: Map<String, Value>,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(self.execute(args, ctx))
    }
}
