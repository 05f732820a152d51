//! Embeds the git commit the binary is built from as `NANOCLAW_GIT_COMMIT` (shown by
//! `nanoclaw --version`). Never fails the build: without git or a repository it is `unknown`,
//! and a `NANOCLAW_GIT_COMMIT` set in the build environment (e.g. for a source tarball) wins.
//!
//! Also links a release `nanoclaw` with the hot functions first (`link-order/README.md`).

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
    link_order(&dir);
}

/// The target whose default linker (rust-lld, since Rust 1.90) takes `--symbol-ordering-file`.
const LLD_TARGET: &str = "x86_64-unknown-linux-gnu";
/// The first release that links it with rust-lld by default.
const LLD_SINCE_MINOR: u32 = 90;

/// A release `nanoclaw` on x86_64 Linux is linked with the functions listed in
/// `link-order/hot-symbols.txt` (what start-up and the common requests run) placed first, so
/// that those pages of code are few and together. Skipped, and the link left as it is, for
/// another target or profile, a linker configured by the user, an older rustc, or
/// `NANOCLAW_LINK_ORDER=0`: the order changes memory, never behaviour.
fn link_order(dir: &Path) {
    println!("cargo:rerun-if-env-changed=NANOCLAW_LINK_ORDER");
    let list = dir.join("link-order").join("hot-symbols.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let flags = env("CARGO_ENCODED_RUSTFLAGS");
    let usable = env("NANOCLAW_LINK_ORDER") != "0"
        && env("PROFILE") == "release"
        && env("TARGET") == LLD_TARGET
        && std::env::var_os("RUSTC_LINKER").is_none()
        && !flags.contains("linker")
        && !flags.contains("fuse-ld")
        && rustc_minor().is_some_and(|minor| minor >= LLD_SINCE_MINOR)
        && list.is_file()
        // `-Wl,` splits its argument at commas.
        && !list.to_string_lossy().contains(',');
    if usable {
        println!(
            "cargo:rustc-link-arg-bin=nanoclaw=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        // A function renamed since the list was made is simply not moved.
        println!("cargo:rustc-link-arg-bin=nanoclaw=-Wl,--no-warn-symbol-ordering");
    }
}

/// The minor version of the compiler cargo runs (`rustc 1.95.0 (…)` gives 95).
fn rustc_minor() -> Option<u32> {
    let text = output(Command::new(std::env::var_os("RUSTC")?).arg("--version"))?;
    let version = text.split_whitespace().nth(1)?;
    let mut parts = version.split('.');
    (parts.next()? == "1").then_some(())?;
    parts.next()?.parse().ok()
}

/// Output of a successful git command, trimmed; `None` on any failure.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    output(Command::new("git").arg("-C").arg(dir).args(args))
}

/// Standard output of a successful command, trimmed; `None` on any failure or no output.
fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
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
