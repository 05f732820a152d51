//! Embeds the git commit the binary is built from as `NANOCLAW_GIT_COMMIT` (shown by
//! `nanoclaw --version`). Never fails the build: without git or a repository it is `unknown`,
//! and a `NANOCLAW_GIT_COMMIT` set in the build environment (e.g. for a source tarball) wins.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=NANOCLAW_GIT_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("NANOCLAW_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            watch_git_head(&dir);
            git(&dir, &["rev-parse", "--short", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NANOCLAW_GIT_COMMIT={}", commit.trim());
}

/// Output of a successful git command, trimmed; `None` on any failure.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_owned())
}

/// Reruns this script when HEAD moves: a commit, a checkout, or a `git pack-refs`. Only
/// existing paths are watched (cargo reruns every time for a missing one).
fn watch_git_head(dir: &Path) {
    let path_of = |p: &str| {
        git(dir, &["rev-parse", "--git-path", p]).map(|p| {
            let p = PathBuf::from(p);
            if p.is_absolute() { p } else { dir.join(p) }
        })
    };
    let mut watched = vec![path_of("HEAD"), path_of("packed-refs")];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        let loose = path_of(&branch);
        // A branch whose ref is only packed gets a loose file at its next commit: watch the
        // directory it will appear in.
        watched.push(loose.and_then(|f| {
            if f.exists() {
                Some(f)
            } else {
                f.parent().map(Path::to_owned)
            }
        }));
    }
    for path in watched.into_iter().flatten().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
