//! The few raw system calls: the pre-exec step of the sandbox child and `kill(2)`.
//! The only module allowed `unsafe` (see Cargo.toml).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;

/// Resource limits set in the child before it executes bwrap (inherited by the sandbox).
#[derive(Debug, Clone, Copy)]
pub struct Rlimits {
    /// `RLIMIT_CPU`, seconds.
    pub cpu_secs: u64,
    /// `RLIMIT_AS`, bytes.
    pub address_space: u64,
    /// `RLIMIT_NPROC` (enforced only for a non-root server; root relies on the pids cgroup).
    pub processes: u64,
    /// `RLIMIT_FSIZE`, bytes.
    pub file_size: u64,
    /// `RLIMIT_NOFILE`.
    pub open_files: u64,
}

/// Installs the pre-exec step: set the rlimits, join the cgroups (`procs`, by writing `0`),
/// and let `keep_fd` (the seccomp program) survive the exec.
pub fn install_pre_exec(
    cmd: &mut tokio::process::Command,
    limits: Rlimits,
    procs: Vec<CString>,
    keep_fd: RawFd,
) {
    let pre_exec = move || -> std::io::Result<()> {
        let set = |resource, value: u64| {
            let lim = libc::rlimit {
                rlim_cur: value as libc::rlim_t,
                rlim_max: value as libc::rlim_t,
            };
            // SAFETY: setrlimit reads the struct we own; async-signal-safe.
            if unsafe { libc::setrlimit(resource, &lim) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        };
        set(libc::RLIMIT_CPU, limits.cpu_secs)?;
        set(libc::RLIMIT_AS, limits.address_space)?;
        set(libc::RLIMIT_NPROC, limits.processes)?;
        set(libc::RLIMIT_FSIZE, limits.file_size)?;
        set(libc::RLIMIT_NOFILE, limits.open_files)?;
        set(libc::RLIMIT_CORE, 0)?;
        for path in &procs {
            // SAFETY: open/write/close on a NUL-terminated path prepared before the fork;
            // all three are async-signal-safe and nothing is allocated here.
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        // SAFETY: fcntl on a descriptor this process owns; async-signal-safe.
        if unsafe { libc::fcntl(keep_fd, libc::F_SETFD, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure only makes async-signal-safe system calls (setrlimit, open, write,
    // close, fcntl) on data captured before the fork, and allocates nothing.
    unsafe {
        cmd.as_std_mut().pre_exec(pre_exec);
    }
}

/// Sends SIGKILL to one process (errors, e.g. already gone, are ignored).
pub fn kill(pid: i32) {
    if pid > 0 {
        // SAFETY: kill(2) with a positive pid touches no memory.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Sends SIGKILL to a whole process group (errors ignored).
pub fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid touches no memory.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}
