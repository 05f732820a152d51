//! Runs untrusted Python in a real OS sandbox built with bubblewrap (`bwrap`).
//!
//! Each run gets its own user, mount, PID, network, IPC and UTS namespaces (no further user
//! namespaces inside), runs as uid/gid 65534, sees a read-only system view that holds only what
//! CPython needs (`/usr/lib*` and the interpreter's prefix — no `/usr/bin`, hence no shell and no
//! coreutils), a private size-capped tmpfs at `/tmp` (its working directory, gone with the run),
//! optionally the project's folder at `/project` (read-only or read-write), no `/proc` and no
//! `/sys`. A seccomp filter refuses the obvious escapes (ptrace, mount, namespaces, keyrings,
//! eBPF, perf, kexec, modules, non-`AF_UNIX` sockets, …), rlimits bound CPU time, address space,
//! file size and open files, a fresh pids cgroup bounds the number of processes (and, where the
//! controller is available, a memory cgroup the run's total memory). stdout and
//! stderr are each captured up to a cap (the rest is drained and counted) and the whole process
//! tree is killed at the deadline or on cancellation.
//!
//! Why no `/proc`: bwrap started by root maps the sandbox user onto root outside, so although
//! it has no capabilities, plain permission checks on root-owned files pass; a fresh procfs
//! would let it write global sysctls. Everything else it can see is mounted read-only or is
//! private to the run.
//!
//! ```no_run
//! # async fn demo() {
//! use nanoclaw_sandbox::{RunOptions, Sandbox, Settings, Strictness};
//! let sandbox = Sandbox::detect(&Settings::default()).await.unwrap();
//! let outcome = sandbox
//!     .run_python("print(6 * 7)", &RunOptions::new(Strictness::Standard), &Default::default())
//!     .await;
//! # }
//! ```

mod cgroup;
pub mod seccomp;
mod strictness;
mod sys;

use std::ffi::{CString, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

pub use strictness::{InvalidStrictness, Strictness};

use cgroup::PidsCgroups;

/// The Python code run before the user's (policy checks, then `exec`).
const PRELUDE: &str = include_str!("prelude.py");
const READY: &[u8] = b"\x1eNANOCLAW-READY\n";
const REJECT: &[u8] = b"\x1eNANOCLAW-REJECT ";
/// Where the project folder appears inside the sandbox.
pub const PROJECT_MOUNT: &str = "/project";

/// Operator settings of the sandbox (from `code_execution`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The interpreter; `None` = `python3` found on `PATH` (a pyenv shim is resolved to the
    /// real binary).
    pub python: Option<PathBuf>,
    /// The bubblewrap binary; `None` = `bwrap` on `PATH`.
    pub bwrap: Option<PathBuf>,
    /// `RLIMIT_AS` of every sandbox process, bytes.
    pub memory_bytes: u64,
    /// Memory of the whole run (all its processes and its `/tmp`), bytes, enforced by a memory
    /// cgroup where one is available; `None` = no such limit.
    pub run_memory_bytes: Option<u64>,
    /// Most processes (and threads) alive at once in one run.
    pub max_processes: u32,
    /// `RLIMIT_FSIZE`: largest file a run may write, bytes.
    pub max_file_bytes: u64,
    /// `RLIMIT_NOFILE`.
    pub max_open_files: u64,
    /// Size of the `/tmp` tmpfs, bytes.
    pub scratch_bytes: u64,
    /// Cap on each of stdout and stderr, bytes.
    pub output_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            python: None,
            bwrap: None,
            memory_bytes: 512 * 1024 * 1024,
            run_memory_bytes: Some(512 * 1024 * 1024),
            max_processes: 32,
            max_file_bytes: 16 * 1024 * 1024,
            max_open_files: 256,
            scratch_bytes: 64 * 1024 * 1024,
            output_bytes: 64 * 1024,
        }
    }
}

/// Why there is no sandbox; the tool reports it and never runs code without one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// No Python interpreter.
    #[error("Python interpreter not available: {0}")]
    Python(String),
    /// bwrap missing or unable to build the sandbox here.
    #[error("code execution is unavailable: {0}")]
    Sandbox(String),
}

/// How the project folder is mounted at [`PROJECT_MOUNT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectMount {
    /// Absolute host path of the project folder.
    pub host: PathBuf,
    /// Read-write instead of read-only.
    pub writable: bool,
}

/// One run's options.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The level: its allowlist and blocked builtins are applied to the user's code.
    pub strictness: Strictness,
    /// Extra modules allowed at this level (ignored for `lenient`).
    pub extra_modules: Vec<String>,
    /// Wall-clock deadline (CPU time is limited to this plus one second).
    pub timeout: Duration,
    /// The project folder, if any.
    pub project: Option<ProjectMount>,
}

impl RunOptions {
    /// The level's defaults: its timeout, no extra modules, no project.
    pub fn new(strictness: Strictness) -> RunOptions {
        RunOptions {
            strictness,
            extra_modules: Vec::new(),
            timeout: strictness.timeout(),
            project: None,
        }
    }
}

/// Captured text of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The text (lossy UTF-8), with a truncation note at the end when capped.
    pub text: String,
    /// Bytes the process wrote in total.
    pub total_bytes: u64,
    /// Whether the text was cut at the cap.
    pub truncated: bool,
}

/// What a run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The user code ran and the interpreter ended.
    Exited {
        /// Exit code, when it exited normally.
        code: Option<i32>,
        /// The signal that ended it, if any.
        signal: Option<i32>,
        /// User code's stdout.
        stdout: Captured,
        /// stderr.
        stderr: Captured,
    },
    /// The code was refused before it ran (syntax, imports, blocked calls); the text is the
    /// message of tools.md §4.1.
    Rejected(String),
    /// The deadline passed; everything was killed.
    TimedOut,
    /// The caller cancelled; everything was killed.
    Cancelled,
    /// The sandbox itself failed (spawn error, interpreter crash before the code ran, …).
    Failed(String),
}

/// A checked, ready sandbox. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bwrap: PathBuf,
    python: PathBuf,
    /// Mount arguments for the system view.
    mounts: Vec<OsString>,
    settings: Settings,
    cgroups: Option<PidsCgroups>,
    seccomp: Vec<u8>,
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// What the interpreter says about itself.
struct PythonInfo {
    executable: PathBuf,
    prefixes: Vec<PathBuf>,
}

/// Asks the interpreter for its real executable and prefixes. This runs a fixed one-liner of
/// ours outside the sandbox (a pyenv shim must be resolved before it can be bound); user code
/// never runs outside.
async fn probe_python(python: &Path) -> Result<PythonInfo, String> {
    let script = "import json,sys;print(json.dumps([sys.executable,sys.prefix,sys.base_prefix,\
                  sys.exec_prefix,sys.base_exec_prefix]))";
    let mut cmd = Command::new(python);
    cmd.args(["-I", "-c", script])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .map_err(|_| format!("{} did not answer within 30 s", python.display()))?
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let paths: Vec<String> = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{}: unexpected answer: {e}", python.display()))?;
    let mut iter = paths.into_iter().map(PathBuf::from);
    let exe = iter
        .next()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| format!("{} does not know its executable", python.display()))?;
    let executable = std::fs::canonicalize(&exe).map_err(|e| format!("{}: {e}", exe.display()))?;
    let mut prefixes: Vec<PathBuf> = Vec::new();
    for p in iter {
        if let Ok(p) = std::fs::canonicalize(&p)
            && !prefixes.contains(&p)
        {
            prefixes.push(p);
        }
    }
    Ok(PythonInfo {
        executable,
        prefixes,
    })
}

/// Read-only mounts of the system parts CPython needs.
fn system_mounts(info: &PythonInfo) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let ro = |args: &mut Vec<OsString>, path: &Path| {
        args.push("--ro-bind".into());
        args.push(path.into());
        args.push(path.into());
    };
    let mut bound: Vec<PathBuf> = Vec::new();
    for dir in [
        "/usr/lib",
        "/usr/lib64",
        "/usr/lib32",
        "/usr/libx32",
        "/usr/local/lib",
    ] {
        let p = Path::new(dir);
        if p.is_dir() {
            ro(&mut args, p);
            bound.push(p.to_owned());
        }
    }
    for dir in ["/usr/share/zoneinfo", "/etc/ld.so.cache", "/etc/localtime"] {
        let p = Path::new(dir);
        if p.exists()
            && let Ok(real) = std::fs::canonicalize(p)
        {
            args.push("--ro-bind".into());
            args.push(real.into());
            args.push(p.into());
        }
    }
    // /lib, /lib64 …: symlinks into /usr on merged-/usr systems, real directories elsewhere.
    for dir in ["/lib", "/lib64", "/lib32", "/libx32"] {
        let p = Path::new(dir);
        match std::fs::read_link(p) {
            Ok(target) => {
                args.push("--symlink".into());
                args.push(target.into());
                args.push(p.into());
            }
            Err(_) if p.is_dir() => {
                ro(&mut args, p);
                bound.push(p.to_owned());
            }
            Err(_) => {}
        }
    }
    // The interpreter's prefixes, unless already inside a bound directory; a prefix of `/usr`
    // itself is not bound whole (that would bring `/usr/bin` and a shell back): its stdlib and
    // site-packages live under /usr/lib and /usr/local/lib.
    for prefix in &info.prefixes {
        if prefix == Path::new("/usr")
            || prefix == Path::new("/usr/local")
            || prefix == Path::new("/")
            || bound.iter().any(|b| prefix.starts_with(b))
        {
            continue;
        }
        ro(&mut args, prefix);
        bound.push(prefix.clone());
    }
    if !bound.iter().any(|b| info.executable.starts_with(b)) {
        ro(&mut args, &info.executable);
    }
    args
}

impl Sandbox {
    /// Finds bwrap and Python, prepares the mounts, the seccomp program and the pids cgroup,
    /// and proves the whole sandbox works with one trivial run.
    pub async fn detect(settings: &Settings) -> Result<Sandbox, Unavailable> {
        let bwrap = match &settings.bwrap {
            Some(p) if p.is_file() => p.clone(),
            Some(p) => {
                return Err(Unavailable::Sandbox(format!(
                    "bubblewrap not found at {}",
                    p.display()
                )));
            }
            None => find_on_path("bwrap").ok_or_else(|| {
                Unavailable::Sandbox("bubblewrap (bwrap) is not installed".into())
            })?,
        };
        let python = match &settings.python {
            Some(p) => p.clone(),
            None => find_on_path("python3")
                .ok_or_else(|| Unavailable::Python("no python3 on PATH".into()))?,
        };
        let info = probe_python(&python).await.map_err(Unavailable::Python)?;
        let seccomp = seccomp::program()
            .map_err(|e| Unavailable::Sandbox(e.to_string()))?
            .iter()
            .flat_map(|insn| {
                let mut b = Vec::with_capacity(8);
                b.extend_from_slice(&insn.code.to_ne_bytes());
                b.push(insn.jt);
                b.push(insn.jf);
                b.extend_from_slice(&insn.k.to_ne_bytes());
                b
            })
            .collect();
        let cgroups = match PidsCgroups::detect() {
            Ok(c) => Some(c),
            // RLIMIT_NPROC does not bind a root-owned sandbox: without a cgroup a fork bomb
            // would be unbounded, so refuse.
            Err(e) if sys::is_root() => {
                return Err(Unavailable::Sandbox(format!(
                    "the server runs as root and cannot bound the sandbox's processes ({e})"
                )));
            }
            Err(_) => None,
        };
        let sandbox = Sandbox {
            inner: Arc::new(Inner {
                bwrap,
                python: info.executable.clone(),
                mounts: system_mounts(&info),
                settings: settings.clone(),
                cgroups,
                seccomp,
            }),
        };
        let probe = sandbox
            .run_python(
                "print(6 * 7)",
                &RunOptions::new(Strictness::Strict),
                &CancellationToken::new(),
            )
            .await;
        match probe {
            RunOutcome::Exited {
                code: Some(0),
                stdout,
                ..
            } if stdout.text == "42\n" => Ok(sandbox),
            RunOutcome::Exited { stderr, .. } => Err(Unavailable::Sandbox(format!(
                "the sandbox does not start: {}",
                stderr.text.trim()
            ))),
            RunOutcome::Failed(e) => Err(Unavailable::Sandbox(format!(
                "the sandbox does not start: {e}"
            ))),
            other => Err(Unavailable::Sandbox(format!(
                "the sandbox does not start: {other:?}"
            ))),
        }
    }

    /// The interpreter the sandbox runs.
    pub fn python(&self) -> &Path {
        &self.inner.python
    }

    /// Whether processes are bounded by a pids cgroup (otherwise by `RLIMIT_NPROC`).
    pub fn uses_pids_cgroup(&self) -> bool {
        self.inner.cgroups.is_some()
    }

    /// Whether a run's total memory is bounded by a memory cgroup.
    pub fn uses_memory_cgroup(&self) -> bool {
        self.inner.cgroups.as_ref().is_some_and(|c| c.has_memory())
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn bwrap_args(&self, opts: &RunOptions, seccomp_fd: i32) -> Result<Vec<OsString>, String> {
        let s = &self.inner.settings;
        let mut a: Vec<OsString> = Vec::new();
        push(
            &mut a,
            &[
                "--unshare-user",
                "--unshare-ipc",
                "--unshare-pid",
                "--unshare-net",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--disable-userns",
                "--uid",
                "65534",
                "--gid",
                "65534",
                "--hostname",
                "sandbox",
                "--die-with-parent",
                "--new-session",
                "--clearenv",
                "--setenv",
                "HOME",
                "/tmp",
                "--setenv",
                "PATH",
                "/usr/bin:/bin",
                "--setenv",
                "LANG",
                "C.UTF-8",
                "--setenv",
                "PYTHONIOENCODING",
                "utf-8",
            ],
        );
        a.extend(self.inner.mounts.iter().cloned());
        let scratch = s.scratch_bytes.to_string();
        push(
            &mut a,
            &["--dev", "/dev", "--size", &scratch, "--tmpfs", "/tmp"],
        );
        if let Some(project) = &opts.project {
            if !project.host.is_absolute() {
                return Err("the project path is not absolute".into());
            }
            a.push(
                if project.writable {
                    "--bind"
                } else {
                    "--ro-bind"
                }
                .into(),
            );
            a.push(project.host.clone().into());
            a.push(PROJECT_MOUNT.into());
        }
        let fd = seccomp_fd.to_string();
        push(
            &mut a,
            &[
                "--remount-ro",
                "/",
                "--chdir",
                "/tmp",
                "--seccomp",
                &fd,
                "--",
            ],
        );
        a.push(self.inner.python.clone().into());
        let allow = opts.strictness.allowed_modules().map(|mut list| {
            list.extend(opts.extra_modules.iter().cloned());
            list
        });
        let policy = serde_json::json!({
            "level": opts.strictness.as_str(),
            "allow": allow,
            "blocked": opts.strictness.blocked_builtins(),
        });
        push(
            &mut a,
            &["-I", "-X", "utf8", "-c", PRELUDE, &policy.to_string()],
        );
        Ok(a)
    }

    /// Runs `code` in a fresh sandbox and returns when every process of the run has ended.
    pub async fn run_python(
        &self,
        code: &str,
        opts: &RunOptions,
        cancel: &CancellationToken,
    ) -> RunOutcome {
        let s = &self.inner.settings;
        let seccomp_file = match seccomp_file(&self.inner.seccomp) {
            Ok(f) => f,
            Err(e) => return RunOutcome::Failed(format!("seccomp program: {e}")),
        };
        let args = match self.bwrap_args(opts, seccomp_file.as_raw_fd()) {
            Ok(a) => a,
            Err(e) => return RunOutcome::Failed(e),
        };
        let cgroup = match &self.inner.cgroups {
            Some(c) => match c.create(s.max_processes, s.run_memory_bytes) {
                Ok(cg) => Some(cg),
                Err(e) => return RunOutcome::Failed(e),
            },
            None => None,
        };
        let procs = match cgroup
            .as_ref()
            .map(|cg| cg.procs_files())
            .unwrap_or_default()
            .iter()
            .map(|f| CString::new(f.as_os_str().as_bytes()))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(p) => p,
            Err(e) => return RunOutcome::Failed(e.to_string()),
        };
        let mut cmd = Command::new(&self.inner.bwrap);
        cmd.args(&args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let limits = sys::Rlimits {
            cpu_secs: opts.timeout.as_secs().saturating_add(1),
            address_space: s.memory_bytes,
            processes: u64::from(s.max_processes),
            file_size: s.max_file_bytes,
            open_files: s.max_open_files,
        };
        sys::install_pre_exec(&mut cmd, limits, procs, seccomp_file.as_raw_fd());
        let outcome = self
            .supervise(cmd, code, opts, cancel, cgroup.as_ref())
            .await;
        drop(seccomp_file);
        if let Some(cg) = cgroup {
            cg.kill_and_remove().await;
        }
        outcome
    }

    async fn supervise(
        &self,
        mut cmd: Command,
        code: &str,
        opts: &RunOptions,
        cancel: &CancellationToken,
        cgroup: Option<&cgroup::RunCgroup>,
    ) -> RunOutcome {
        let cap = self.inner.settings.output_bytes;
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return RunOutcome::Failed(format!("cannot start bwrap: {e}")),
        };
        let pgid = child.id().and_then(|p| i32::try_from(p).ok());
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_all(&mut child, pgid, cgroup).await;
            return RunOutcome::Failed("the sandbox's pipes are missing".into());
        };
        let code = code.as_bytes().to_vec();
        // The pipes are served by their own tasks so a full pipe never blocks the wait.
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&code).await;
            let _ = stdin.shutdown().await;
        });
        let out_task = tokio::spawn(read_capped(stdout, cap + READY.len()));
        let err_task = tokio::spawn(read_capped(stderr, cap));

        let status = tokio::select! {
            status = child.wait() => Some(status),
            () = tokio::time::sleep(opts.timeout) => None,
            () = cancel.cancelled() => None,
        };
        let status = match status {
            Some(Ok(status)) => status,
            Some(Err(e)) => {
                kill_all(&mut child, None, cgroup).await;
                writer.abort();
                return RunOutcome::Failed(format!("waiting for the sandbox: {e}"));
            }
            None => {
                kill_all(&mut child, pgid, cgroup).await;
                writer.abort();
                out_task.abort();
                err_task.abort();
                return if cancel.is_cancelled() {
                    RunOutcome::Cancelled
                } else {
                    RunOutcome::TimedOut
                };
            }
        };
        // The interpreter has ended; anything it left behind goes now, so the pipes close.
        kill_all(&mut child, None, cgroup).await;
        writer.abort();
        let (Ok((out, out_total)), Ok((err, err_total))) = (out_task.await, err_task.await) else {
            return RunOutcome::Failed("reading the sandbox's output failed".into());
        };
        let body = if let Some(rest) = out.strip_prefix(READY) {
            rest
        } else if let Some(rest) = out.strip_prefix(REJECT) {
            let line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
            return match serde_json::from_slice::<String>(line) {
                Ok(message) => RunOutcome::Rejected(message),
                Err(_) => RunOutcome::Failed("the sandbox's policy check answered garbage".into()),
            };
        } else {
            let detail = String::from_utf8_lossy(&err);
            return RunOutcome::Failed(format!(
                "the interpreter did not start the code: {}",
                detail.trim()
            ));
        };
        let stdout_total = out_total.saturating_sub(READY.len() as u64);
        RunOutcome::Exited {
            code: status.code(),
            signal: status.signal(),
            stdout: captured(body, stdout_total, cap),
            stderr: captured(&err, err_total, cap),
        }
    }
}

/// SIGKILL to bwrap's process group and to every process of the run's cgroup (the PID
/// namespace's init dies with bwrap, which takes the rest of the namespace with it), then reap.
///
/// `pgid` only while bwrap is unreaped (after that its number may belong to someone else).
async fn kill_all(
    child: &mut tokio::process::Child,
    pgid: Option<i32>,
    cgroup: Option<&cgroup::RunCgroup>,
) {
    if let Some(pgid) = pgid {
        sys::kill_group(pgid);
    }
    if let Some(cg) = cgroup {
        for pid in cg.pids() {
            sys::kill(pid);
        }
    }
    let _ = child.kill().await;
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

fn seccomp_file(program: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = tempfile::tempfile()?;
    file.write_all(program)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// Reads a stream to its end, keeping the first `cap` bytes and counting the rest.
async fn read_capped<R: AsyncRead + Unpin>(mut reader: R, cap: usize) -> (Vec<u8>, u64) {
    let mut kept = Vec::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n as u64;
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    (kept, total)
}

/// Lossy UTF-8 of at most `cap` bytes, cut on a character boundary, with a note when cut.
fn captured(bytes: &[u8], total: u64, cap: usize) -> Captured {
    let truncated = total > cap as u64 || bytes.len() > cap;
    let mut end = bytes.len().min(cap);
    if truncated {
        // Do not split a UTF-8 sequence at the cut.
        if let Err(e) = std::str::from_utf8(&bytes[..end])
            && e.error_len().is_none()
        {
            end = e.valid_up_to();
        }
    }
    let mut text = String::from_utf8_lossy(&bytes[..end]).into_owned();
    if truncated {
        text.push_str(&format!(
            "\n[output truncated: {total} bytes written, only the first {cap} bytes are shown]"
        ));
    }
    Captured {
        text,
        total_bytes: total,
        truncated,
    }
}
