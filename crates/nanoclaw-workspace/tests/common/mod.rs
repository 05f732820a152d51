//! A workspace next to things it must never touch.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nanoclaw_workspace::{Limits, Workspace, Workspaces};

/// Text found only in files outside the project.
pub const MARKER: &str = "TOP-SECRET";

/// A temp dir holding: `secret/` (beside the workspace root), `ws/nano_claw.db` (the database
/// beside the user dirs), `ws/user_1/<other project>`, `ws/user_2/p`, and the project under
/// test `ws/user_1/<uuid>` with ordinary files and hostile symlinks.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub workspaces: Workspaces,
    pub ws: Workspace,
    pub stored: String,
    pub project: PathBuf,
}

pub fn fixture() -> Fixture {
    fixture_with(Limits::default())
}

pub fn fixture_with(limits: Limits) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    fs::create_dir_all(base.join("secret/deeper")).unwrap();
    fs::write(base.join("secret/secret.txt"), format!("{MARKER} outside")).unwrap();
    fs::write(
        base.join("secret/deeper/secret.py"),
        format!("{MARKER} deep"),
    )
    .unwrap();
    let workspaces = Workspaces::new(&base.join("ws"), limits).unwrap();
    fs::write(base.join("ws/nano_claw.db"), format!("{MARKER} database")).unwrap();
    let (other, _) = workspaces.create_project_dir(1).unwrap();
    fs::write(
        base.join("ws").join(&other).join("sibling.txt"),
        format!("{MARKER} sibling"),
    )
    .unwrap();
    let (user2, _) = workspaces.create_project_dir(2).unwrap();
    fs::write(
        base.join("ws").join(user2).join("theirs.txt"),
        format!("{MARKER} user2"),
    )
    .unwrap();

    let (stored, ws) = workspaces.create_project_dir(1).unwrap();
    let project = base.join("ws").join(&stored);
    fs::create_dir_all(project.join("src/sub")).unwrap();
    fs::write(project.join("src/main.py"), "print('hello')\n").unwrap();
    fs::write(project.join("README.md"), "# readme\n").unwrap();
    fs::write(project.join(".hidden"), "hidden\n").unwrap();
    let links: [(&str, PathBuf); 9] = [
        ("link_out_dir", base.join("secret")),
        ("link_out_file", base.join("secret/secret.txt")),
        ("link_rel_up", PathBuf::from("../../../secret")),
        (
            "link_sibling",
            PathBuf::from(format!("../{}", other.rsplit('/').next().unwrap())),
        ),
        ("link_db", PathBuf::from("../../nano_claw.db")),
        ("link_root", PathBuf::from("/")),
        ("chain1", PathBuf::from("chain2")),
        ("chain2", PathBuf::from("link_out_dir")),
        ("loopa", PathBuf::from("loopb")),
    ];
    for (name, target) in links {
        symlink(target, project.join(name)).unwrap();
    }
    symlink("loopa", project.join("loopb")).unwrap();
    symlink("src", project.join("link_inside")).unwrap();
    symlink("../../link_out_dir", project.join("src/sub/up_and_out")).unwrap();
    Fixture {
        tmp,
        workspaces,
        ws,
        stored,
        project,
    }
}

/// Every path outside the project with its kind, content (files) or target (links) and mtime.
pub type Snapshot = BTreeMap<PathBuf, (String, Option<SystemTime>)>;

pub fn snapshot(f: &Fixture) -> Snapshot {
    let mut out = BTreeMap::new();
    walk(f.tmp.path(), &f.project, &mut out);
    out
}

fn walk(dir: &Path, skip: &Path, out: &mut Snapshot) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.canonicalize().ok().as_deref() == Some(skip) || path == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
        let mtime = meta.modified().ok();
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap();
            out.insert(path, (format!("link {}", target.display()), mtime));
        } else if meta.is_dir() {
            out.insert(path.clone(), ("dir".into(), mtime));
            walk(&path, skip, out);
        } else {
            let content = fs::read_to_string(&path).unwrap_or_default();
            out.insert(path, (content, mtime));
        }
    }
}
