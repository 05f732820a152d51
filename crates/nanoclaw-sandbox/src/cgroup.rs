//! A pids cgroup per run (the process bound that holds when the server runs as root), plus a
//! memory cgroup for the run's total memory where that controller is available.
//!
//! `RLIMIT_NPROC` is not enforced for processes whose real user is root in the initial user
//! namespace, and bwrap started by root maps the sandbox user onto root. So the number of
//! processes is bounded by a fresh pids cgroup (`pids.max`) that the child joins before it
//! executes bwrap; every process of the sandbox inherits it. The cgroup is also how the run
//! knows that every process has gone (it can be removed only when empty).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where new per-run cgroups are made: pids (required) and memory (used when available).
#[derive(Debug, Clone)]
pub struct PidsCgroups {
    parent: PathBuf,
    memory: Option<Memory>,
}

#[derive(Debug, Clone)]
struct Memory {
    parent: PathBuf,
    /// `memory.limit_in_bytes` (v1) or `memory.max` (v2).
    limit_file: &'static str,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One run's cgroups: the pids one first, then the memory one if any.
#[derive(Debug)]
pub struct RunCgroup {
    dirs: Vec<PathBuf>,
}

impl PidsCgroups {
    /// Finds this process's pids cgroup (v1 `pids` hierarchy, or v2 with `pids` enabled for
    /// children) and checks that a child cgroup can be made there.
    pub fn detect() -> Result<PidsCgroups, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let parent = find_v1(&own, &mountinfo, "pids")
            .or_else(|| find_v2(&own, &mountinfo, "pids"))
            .ok_or_else(|| "no writable pids cgroup controller found".to_owned())?;
        let memory = match find_v1(&own, &mountinfo, "memory") {
            Some(parent) => Some(Memory {
                parent,
                limit_file: "memory.limit_in_bytes",
            }),
            None => find_v2(&own, &mountinfo, "memory").map(|parent| Memory {
                parent,
                limit_file: "memory.max",
            }),
        };
        let mut cgroups = PidsCgroups { parent, memory };
        // Prove it works now rather than on the first run; a memory controller that does not
        // work is dropped (the per-process RLIMIT_AS still applies).
        match cgroups.create(1, Some(64 * 1024 * 1024)) {
            Ok(probe) => probe.remove_blocking(),
            Err(_) if cgroups.memory.is_some() => {
                cgroups.memory = None;
                cgroups.create(1, None)?.remove_blocking();
            }
            Err(e) => return Err(e),
        }
        Ok(cgroups)
    }

    /// Whether runs also get a memory cgroup.
    pub fn has_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// Makes fresh cgroups limited to `max_pids` processes and (when a memory controller is
    /// available and `memory_bytes` is given) that much memory for the whole run.
    pub fn create(&self, max_pids: u32, memory_bytes: Option<u64>) -> Result<RunCgroup, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("nanoclaw-sandbox-{}-{n}", std::process::id());
        let mut cg = RunCgroup { dirs: Vec::new() };
        let dir = self.parent.join(&name);
        std::fs::create_dir(&dir)
            .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
        cg.dirs.push(dir.clone());
        if let Err(e) = std::fs::write(dir.join("pids.max"), max_pids.to_string()) {
            cg.remove_blocking();
            return Err(format!("cannot set pids.max: {e}"));
        }
        if let (Some(memory), Some(bytes)) = (&self.memory, memory_bytes) {
            let dir = memory.parent.join(&name);
            if let Err(e) = std::fs::create_dir(&dir) {
                cg.remove_blocking();
                return Err(format!("cannot create cgroup {}: {e}", dir.display()));
            }
            cg.dirs.push(dir.clone());
            if let Err(e) = std::fs::write(dir.join(memory.limit_file), bytes.to_string()) {
                cg.remove_blocking();
                return Err(format!("cannot set {}: {e}", memory.limit_file));
            }
        }
        Ok(cg)
    }
}

impl RunCgroup {
    /// The `cgroup.procs` files a process writes `0` to in order to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Process ids currently in the run's cgroups.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = Vec::new();
        for file in self.procs_files() {
            if let Ok(s) = std::fs::read_to_string(file) {
                pids.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills every process in the cgroup until it is empty, then removes it. Gives up (and
    /// leaves an empty-or-not directory behind, logged) after about five seconds.
    pub async fn kill_and_remove(mut self) {
        for _ in 0..500 {
            let pids = self.pids();
            for pid in &pids {
                crate::sys::kill(*pid);
            }
            if pids.is_empty() {
                self.dirs
                    .retain(|d| std::fs::remove_dir(d).is_err() && d.exists());
                if self.dirs.is_empty() {
                    return;
                }
            }
            // Killed processes leave the cgroup asynchronously; poll briefly.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::warn!(cgroups = ?self.dirs, "sandbox cgroup could not be removed");
    }

    fn remove_blocking(&self) {
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// v1: the line `N:…controller…:/path` of /proc/self/cgroup and the cgroup mount with the
/// controller among its super options.
fn find_v1(own: &str, mountinfo: &str, controller: &str) -> Option<PathBuf> {
    let rel = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_owned())
    })?;
    let (root, mount) = mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mut post = post.split(' ');
        let fstype = post.next()?;
        let _source = post.next()?;
        let opts = post.next()?;
        if fstype != "cgroup" || !opts.split(',').any(|o| o == controller) {
            return None;
        }
        let f: Vec<&str> = pre.split(' ').collect();
        Some((f.get(3)?.to_string(), f.get(4)?.to_string()))
    })?;
    let dir = join_cgroup(Path::new(&mount), &root, &rel);
    writable_dir(&dir).then_some(dir)
}

/// v2: the line `0::/path`, with the controller in that cgroup's `cgroup.subtree_control`
/// (enabling it is tried; it fails where the cgroup holds processes itself, except at the root).
fn find_v2(own: &str, mountinfo: &str, controller: &str) -> Option<PathBuf> {
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_owned();
    let (root, mount) = mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split(' ').next()? != "cgroup2" {
            return None;
        }
        let f: Vec<&str> = pre.split(' ').collect();
        Some((f.get(3)?.to_string(), f.get(4)?.to_string()))
    })?;
    let dir = join_cgroup(Path::new(&mount), &root, &rel);
    let control = dir.join("cgroup.subtree_control");
    let enabled = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|s| s.split_whitespace().any(|c| c == controller))
            .unwrap_or(false)
    };
    if !enabled(&control) {
        let _ = std::fs::write(&control, format!("+{controller}"));
    }
    (enabled(&control) && writable_dir(&dir)).then_some(dir)
}

fn join_cgroup(mount: &Path, root: &str, rel: &str) -> PathBuf {
    let rel = rel.strip_prefix(root).unwrap_or(rel);
    mount.join(rel.trim_start_matches('/'))
}

/// Whether the directory exists (cgroup directories are often mode 0555 even where root may
/// create children; [`PidsCgroups::detect`] proves writability by creating one).
fn writable_dir(dir: &Path) -> bool {
    dir.is_dir()
}
