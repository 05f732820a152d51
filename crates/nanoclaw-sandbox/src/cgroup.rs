//! A pids cgroup per run: the process bound that holds when the server runs as root.
//!
//! `RLIMIT_NPROC` is not enforced for processes whose real user is root in the initial user
//! namespace, and bwrap started by root maps the sandbox user onto root. So the number of
//! processes is bounded by a fresh pids cgroup (`pids.max`) that the child joins before it
//! executes bwrap; every process of the sandbox inherits it. The cgroup is also how the run
//! knows that every process has gone (it can be removed only when empty).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where new per-run pids cgroups are made.
#[derive(Debug, Clone)]
pub struct PidsCgroups {
    parent: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One run's cgroup.
#[derive(Debug)]
pub struct RunCgroup {
    dir: PathBuf,
}

impl PidsCgroups {
    /// Finds this process's pids cgroup (v1 `pids` hierarchy, or v2 with `pids` enabled for
    /// children) and checks that a child cgroup can be made there.
    pub fn detect() -> Result<PidsCgroups, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let parent = find_v1(&own, &mountinfo)
            .or_else(|| find_v2(&own, &mountinfo))
            .ok_or_else(|| "no writable pids cgroup controller found".to_owned())?;
        let cgroups = PidsCgroups { parent };
        // Prove it works now rather than on the first run.
        let probe = cgroups.create(1)?;
        probe.remove_blocking();
        Ok(cgroups)
    }

    /// Makes a fresh cgroup limited to `max_pids` processes.
    pub fn create(&self, max_pids: u32) -> Result<RunCgroup, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = self
            .parent
            .join(format!("nanoclaw-sandbox-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir)
            .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
        let cg = RunCgroup { dir };
        std::fs::write(cg.dir.join("pids.max"), max_pids.to_string())
            .map_err(|e| format!("cannot set pids.max: {e}"))?;
        Ok(cg)
    }
}

impl RunCgroup {
    /// The `cgroup.procs` file a process writes `0` to in order to join.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// Process ids currently in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.procs_file())
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process in the cgroup until it is empty, then removes it. Gives up (and
    /// leaves an empty-or-not directory behind, logged) after about five seconds.
    pub async fn kill_and_remove(self) {
        for _ in 0..500 {
            let pids = self.pids();
            for pid in &pids {
                crate::sys::kill(*pid);
            }
            if pids.is_empty() && std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            // Killed processes leave the cgroup asynchronously; poll briefly.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::warn!(cgroup = %self.dir.display(), "sandbox cgroup could not be removed");
    }

    fn remove_blocking(self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// v1: the line `N:…pids…:/path` of /proc/self/cgroup and the cgroup mount with `pids` among
/// its super options.
fn find_v1(own: &str, mountinfo: &str) -> Option<PathBuf> {
    let rel = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        controllers
            .split(',')
            .any(|c| c == "pids")
            .then(|| path.to_owned())
    })?;
    let (root, mount) = mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mut post = post.split(' ');
        let fstype = post.next()?;
        let _source = post.next()?;
        let opts = post.next()?;
        if fstype != "cgroup" || !opts.split(',').any(|o| o == "pids") {
            return None;
        }
        let f: Vec<&str> = pre.split(' ').collect();
        Some((f.get(3)?.to_string(), f.get(4)?.to_string()))
    })?;
    let dir = join_cgroup(Path::new(&mount), &root, &rel);
    writable_dir(&dir).then_some(dir)
}

/// v2: the line `0::/path`, with `pids` in that cgroup's `cgroup.subtree_control` (enabling it
/// is tried; it fails where the cgroup holds processes itself, except at the root).
fn find_v2(own: &str, mountinfo: &str) -> Option<PathBuf> {
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
            .map(|s| s.split_whitespace().any(|c| c == "pids"))
            .unwrap_or(false)
    };
    if !enabled(&control) {
        let _ = std::fs::write(&control, "+pids");
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
