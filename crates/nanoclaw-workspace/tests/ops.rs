//! Every operation of the sandbox: results, refusals, and that nothing outside is touched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::{MARKER, fixture, fixture_with, snapshot};
use nanoclaw_workspace::{FileData, Kind, Limits, SearchQuery, WriteOutcome, WsError};

fn outside<T: std::fmt::Debug>(r: Result<T, WsError>) {
    assert!(
        matches!(r, Err(WsError::OutsideProject)),
        "expected OutsideProject, got {r:?}"
    );
}

#[test]
fn project_dirs_are_uuids_and_stored_paths_are_checked() {
    let f = fixture();
    let (first, second) = f.stored.split_once('/').unwrap();
    assert_eq!(first, "user_1");
    assert!(uuid_like(second), "{second}");
    // A project named `zz/../..` cannot matter: names never reach the filesystem, and a stored
    // path of that shape (an imported row) is refused.
    for bad in [
        "user_1/zz/../..",
        "user_1",
        "user_1/..",
        "../x/y",
        "/etc/x",
        "x/y",
        "",
    ] {
        assert!(f.workspaces.open(bad).is_err(), "{bad:?}");
    }
    outside(f.workspaces.open_for_user(2, &f.stored));
    assert!(f.workspaces.open_for_user(1, &f.stored).is_ok());
    // An imported nanoClaw path is kept and re-created when missing.
    let legacy = f.workspaces.open("user_1/AlgoLab").unwrap();
    assert_eq!(legacy.stored_path(), "user_1/AlgoLab");
    assert!(f.tmp.path().join("ws/user_1/AlgoLab").is_dir());
    // A stored path through a symlink is refused.
    std::os::unix::fs::symlink(
        f.tmp.path().join("secret"),
        f.tmp.path().join("ws/user_1/evil"),
    )
    .unwrap();
    outside(f.workspaces.open("user_1/evil"));
    outside(f.workspaces.open("user_1/evil/deeper"));
    outside(f.workspaces.remove_project_dir("user_1/evil/deeper"));
    assert!(f.tmp.path().join("secret/deeper/secret.py").exists());
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[test]
fn write_read_append_roundtrip() {
    let f = fixture();
    let ws = &f.ws;
    assert_eq!(
        ws.write("a/b/c.txt", b"one").unwrap(),
        WriteOutcome {
            created: true,
            size: 3
        }
    );
    assert_eq!(
        ws.write("./a/b/c.txt", b"two!").unwrap(),
        WriteOutcome {
            created: false,
            size: 4
        }
    );
    assert_eq!(
        ws.read("a/b/c.txt").unwrap(),
        FileData::Text {
            content: "two!".into(),
            size: 4
        }
    );
    assert_eq!(ws.append("a/b/c.txt", b"+").unwrap().size, 5);
    assert_eq!(
        ws.append("a/new.txt", b"x").unwrap(),
        WriteOutcome {
            created: true,
            size: 1
        }
    );
    // An absolute path inside the project is accepted.
    let abs = format!("{}/a/b/c.txt", f.project.display());
    assert!(matches!(ws.read(&abs).unwrap(), FileData::Text { content, .. } if content == "two!+"));
    // No temporary file is left behind.
    let names: Vec<String> = ws
        .list("a/b")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["c.txt"]);
    // Binary data is reported, not decoded.
    ws.write("img.png", &[0x89, b'P', b'N', b'G', 0xff])
        .unwrap();
    assert_eq!(
        ws.read("img.png").unwrap(),
        FileData::Binary {
            size: 5,
            mime: "image/png"
        }
    );
    let opened = ws.open_file("img.png").unwrap();
    assert_eq!((opened.size, opened.mime), (5, "image/png"));
    // Directories and the root are not files.
    assert!(matches!(ws.read("src"), Err(WsError::IsADirectory)));
    assert!(matches!(ws.read(""), Err(WsError::IsADirectory)));
    assert!(matches!(ws.write("src", b"x"), Err(WsError::IsADirectory)));
    assert!(matches!(ws.write(".", b"x"), Err(WsError::ProjectRoot)));
    assert!(matches!(
        ws.write("src/..", b"x"),
        Err(WsError::ProjectRoot)
    ));
    assert!(matches!(
        ws.write("README.md/x", b"x"),
        Err(WsError::NotADirectory)
    ));
    assert!(matches!(ws.read("nope"), Err(WsError::NotFound)));
    assert!(matches!(ws.create_file("src"), Err(WsError::IsADirectory)));
    assert!(matches!(ws.create_file(""), Err(WsError::ProjectRoot)));
    let mut upload = ws.create_file("up/loaded.bin").unwrap();
    std::io::Write::write_all(&mut upload, b"streamed").unwrap();
    drop(upload);
    assert_eq!(
        fs::read(f.project.join("up/loaded.bin")).unwrap(),
        b"streamed"
    );
    // Through a symlink inside the project: fine.
    assert!(matches!(
        ws.read("link_inside/main.py").unwrap(),
        FileData::Text { .. }
    ));
}

#[test]
fn write_keeps_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    f.ws.write("run.sh", b"#!/bin/sh\n").unwrap();
    fs::set_permissions(f.project.join("run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
    f.ws.write("run.sh", b"#!/bin/sh\necho\n").unwrap();
    let mode = fs::metadata(f.project.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
}

#[test]
fn hostile_paths_are_refused_and_nothing_outside_changes() {
    let f = fixture();
    let before = snapshot(&f);
    let ws = &f.ws;
    for path in [
        "../x",
        "../../nano_claw.db",
        "/etc/passwd",
        "link_out_file",
        "link_out_dir/secret.txt",
        "link_rel_up/secret.txt",
        "link_sibling/sibling.txt",
        "link_db",
        "link_root/etc/passwd",
        "chain1/secret.txt",
        "src/sub/up_and_out/secret.txt",
    ] {
        outside(ws.read(path));
        outside(ws.open_file(path));
        outside(ws.stat(path));
        outside(ws.write(&format!("{path}/new"), b"x"));
        outside(ws.mkdir(&format!("{path}/new")));
        outside(ws.list(path));
    }
    outside(ws.write("link_out_file", b"pwned"));
    outside(ws.append("link_out_file", b"pwned"));
    outside(ws.create_file("link_out_file"));
    outside(ws.write("link_out_dir/secret.txt", b"pwned"));
    outside(ws.rename("link_out_dir/secret.txt", "stolen.txt"));
    outside(ws.rename("README.md", "link_out_dir/README.md"));
    outside(ws.delete("link_out_dir/secret.txt"));
    outside(ws.delete("../../nano_claw.db"));
    outside(ws.delete_file("link_out_file"));
    outside(ws.glob(".", "../*", 100));
    outside(ws.glob("link_out_dir", "*", 100));
    assert!(matches!(ws.read("loopa"), Err(WsError::InvalidPath(_))));
    assert!(matches!(ws.read("a\0b"), Err(WsError::InvalidPath(_))));
    assert!(matches!(
        ws.read(&"n".repeat(300)),
        Err(WsError::InvalidPath(_))
    ));
    // The root itself is never a destructive target (W-08).
    for root in ["", ".", "src/..", "./", &f.project.display().to_string()] {
        assert!(
            matches!(ws.delete(root), Err(WsError::ProjectRoot)),
            "{root:?}"
        );
        assert!(matches!(
            ws.rename(root, "moved"),
            Err(WsError::ProjectRoot)
        ));
        assert!(matches!(
            ws.rename("README.md", root),
            Err(WsError::ProjectRoot)
        ));
    }
    // Deleting a link removes the link only; deleting a directory does not follow links in it.
    ws.delete("link_out_dir").unwrap();
    ws.delete("src").unwrap();
    assert_eq!(snapshot(&f), before);
}

#[test]
fn list_and_glob() {
    let f = fixture();
    let ws = &f.ws;
    let root = ws.list("").unwrap();
    let names: Vec<(&str, bool)> = root.iter().map(|e| (e.name.as_str(), e.is_dir)).collect();
    // Directories first, then files; symlinks shown as their (inside) targets; links leading
    // outside, loops and dangling links left out.
    assert_eq!(
        names,
        [
            ("link_inside", true),
            ("src", true),
            (".hidden", false),
            ("README.md", false)
        ]
    );
    let readme = root.iter().find(|e| e.name == "README.md").unwrap();
    assert_eq!(
        (readme.path.as_str(), readme.size, readme.extension()),
        ("README.md", 9, ".md")
    );
    assert!(root[2].is_hidden());
    let src = ws.list("src").unwrap();
    assert_eq!(src[0].path, "src/sub");
    assert_eq!(src[1].path, "src/main.py");
    assert!(matches!(ws.list("README.md"), Err(WsError::NotADirectory)));
    assert!(matches!(ws.list("nope"), Err(WsError::NotFound)));

    let paths = |subdir: &str, pattern: &str| -> Vec<String> {
        ws.glob(subdir, pattern, 100)
            .unwrap()
            .0
            .into_iter()
            .map(|e| e.path)
            .collect()
    };
    assert_eq!(paths(".", "*.md"), ["README.md"]);
    // `**` descends real directories only, never a symlinked one.
    assert_eq!(paths(".", "**/*.py"), ["src/main.py"]);
    assert_eq!(paths("src", "*"), ["src/main.py", "src/sub"]);
    assert_eq!(paths(".", "src/*.py"), ["src/main.py"]);
    let (few, truncated) = ws.glob(".", "**", 2).unwrap();
    assert_eq!((few.len(), truncated), (2, true));
    assert!(matches!(
        ws.glob(".", "/etc/*", 10),
        Err(WsError::InvalidPath(_))
    ));
}

#[test]
fn rename_delete_mkdir_exists() {
    let f = fixture();
    let ws = &f.ws;
    ws.rename("README.md", "docs/README.md").unwrap();
    assert_eq!(ws.exists("docs/README.md").unwrap(), Some(Kind::File));
    assert_eq!(ws.exists("README.md").unwrap(), None);
    assert!(matches!(ws.rename("nope", "x"), Err(WsError::NotFound)));
    assert!(matches!(
        ws.rename("src", "docs/README.md"),
        Err(WsError::AlreadyExists)
    ));
    assert!(matches!(
        ws.rename("src", "src/sub/inner"),
        Err(WsError::InvalidPath(_))
    ));
    ws.rename("src", "lib").unwrap();
    assert_eq!(ws.exists("lib/main.py").unwrap(), Some(Kind::File));

    assert!(ws.mkdir("a/b/c").unwrap());
    assert!(!ws.mkdir("a/b/c").unwrap());
    assert!(!ws.mkdir("").unwrap());
    assert!(matches!(
        ws.mkdir("docs/README.md"),
        Err(WsError::AlreadyExists)
    ));
    assert_eq!(ws.exists(".").unwrap(), Some(Kind::Dir));
    assert_eq!(
        ws.exists("loopa/x").map_err(|e| e.to_string()),
        Err("Invalid path: too many levels of symbolic links".into())
    );

    assert!(matches!(ws.delete_file("a"), Err(WsError::IsADirectory)));
    ws.delete_file("docs/README.md").unwrap();
    ws.delete("a").unwrap();
    assert_eq!(ws.exists("a").unwrap(), None);
    assert!(matches!(ws.delete("a"), Err(WsError::NotFound)));
    assert!(matches!(ws.delete_file("a/b"), Err(WsError::NotFound)));
}

#[test]
fn fifo_is_not_read_and_does_not_hang() {
    let f = fixture();
    let status = std::process::Command::new("mkfifo")
        .arg(f.project.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(matches!(f.ws.read("pipe"), Err(WsError::NotAFile)));
    assert!(matches!(f.ws.open_file("pipe"), Err(WsError::NotAFile)));
    assert_eq!(f.ws.exists("pipe").unwrap(), Some(Kind::Other));
    let found = f.ws.search(&query("hello", "")).unwrap();
    assert_eq!(found.total_matches, 1);
}

fn query(q: &str, path: &str) -> SearchQuery {
    SearchQuery {
        query: q.into(),
        path: path.into(),
        max_results: 50,
        case_sensitive: false,
    }
}

#[test]
fn search() {
    let f = fixture();
    let ws = &f.ws;
    ws.write("notes/a.txt", b"Hello world\nnothing\r\nHELLO again\r\n")
        .unwrap();
    ws.write("notes/b.png", b"hello in a png").unwrap();
    ws.write("notes/.secretive", b"hello hidden").unwrap();
    ws.write(".git/config.txt", b"hello in a hidden dir")
        .unwrap();
    ws.write("Makefile", b"hello: all").unwrap();
    ws.write("bin.txt", b"hello\0binary").unwrap();
    let found = ws.search(&query("hello", "")).unwrap();
    let paths: Vec<&str> = found.results.iter().map(|r| r.path.as_str()).collect();
    // Path order; hidden files skipped but not files in hidden directories; extensions
    // filtered; symlinked directories (inside or outside) never walked.
    assert_eq!(
        paths,
        [".git/config.txt", "Makefile", "notes/a.txt", "src/main.py"]
    );
    assert_eq!(found.total_matches, 4);
    let a = &found.results[2];
    assert_eq!(
        a.matches
            .iter()
            .map(|m| (m.line, m.content.as_str()))
            .collect::<Vec<_>>(),
        [(1, "Hello world"), (3, "HELLO again")]
    );
    let exact = ws
        .search(&SearchQuery {
            case_sensitive: true,
            ..query("HELLO", "notes")
        })
        .unwrap();
    assert_eq!(exact.results.len(), 1);
    assert_eq!(exact.results[0].matches.len(), 1);
    // Literal, not a regex.
    assert_eq!(ws.search(&query("h.llo", "")).unwrap().total_matches, 0);
    assert_eq!(ws.search(&query("", "")).unwrap().total_matches, 0);
    let one = ws
        .search(&SearchQuery {
            max_results: 1,
            ..query("hello", "")
        })
        .unwrap();
    assert_eq!(one.total_matches, 1);
    assert!(matches!(
        ws.search(&query("x", "nope")),
        Err(WsError::NotFound)
    ));
    outside(ws.search(&query("x", "link_out_dir")));
    outside(ws.search(&query("x", "../..")));
    assert!(ws.search(&query(MARKER, "")).unwrap().results.is_empty());
    // At most about 10 000 characters of lines per file.
    let long = format!("{}\n", "hello ".repeat(200)).repeat(100);
    ws.write("long.txt", long.as_bytes()).unwrap();
    let found = ws.search(&query("hello", "long.txt").clone());
    assert!(matches!(found, Err(WsError::NotADirectory)));
    ws.mkdir("l").unwrap();
    ws.rename("long.txt", "l/long.txt").unwrap();
    let found = ws.search(&query("hello", "l")).unwrap();
    assert_eq!(found.results[0].matches.len(), 9);
}

#[test]
fn limits_and_usage() {
    let limits = Limits {
        max_file_bytes: 10,
        user_quota_bytes: 200,
        max_read_text_bytes: 5,
        ..Limits::default()
    };
    let f = fixture_with(limits);
    let ws = &f.ws;
    assert!(matches!(
        ws.write("big", &[b'x'; 11]),
        Err(WsError::TooLarge)
    ));
    ws.write("ten", &[b'x'; 10]).unwrap();
    assert!(matches!(ws.append("ten", b"y"), Err(WsError::TooLarge)));
    assert!(matches!(ws.read("ten"), Err(WsError::TooLarge)));
    assert_eq!(ws.read_bytes("ten", 10).unwrap().len(), 10);
    let used = f.workspaces.user_usage_bytes(1).unwrap();
    // Both user 1 projects count: "print('hello')\n" + "# readme\n" + "hidden\n" + 10 bytes +
    // the sibling file; symlinks do not.
    let sibling = format!("{MARKER} sibling").len() as u64;
    assert_eq!(used, 15 + 9 + 7 + 10 + sibling);
    assert_eq!(ws.size_bytes().unwrap(), 15 + 9 + 7 + 10);
    assert_eq!(ws.quota_remaining().unwrap(), 200 - used);
    for i in 0.. {
        match ws.write(&format!("fill{i}"), &[b'x'; 10]) {
            Ok(_) => {}
            Err(WsError::QuotaExceeded) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(f.workspaces.user_usage_bytes(1).unwrap() <= 200);
    // Overwriting with the same size needs no new room.
    ws.write("ten", &[b'z'; 10]).unwrap();
    assert_eq!(f.workspaces.user_usage_bytes(3).unwrap(), 0);
}

#[test]
fn remove_project_and_user_dirs() {
    let f = fixture();
    let before_db = fs::read(f.tmp.path().join("ws/nano_claw.db")).unwrap();
    f.workspaces.remove_project_dir(&f.stored).unwrap();
    assert!(!f.project.exists());
    // Links inside it were removed as links.
    assert!(f.tmp.path().join("secret/secret.txt").exists());
    f.workspaces.remove_project_dir(&f.stored).unwrap();
    for bad in ["user_1", "user_1/..", "", "user_1/zz/../.."] {
        assert!(f.workspaces.remove_project_dir(bad).is_err(), "{bad:?}");
    }
    f.workspaces.remove_user_dir(2).unwrap();
    assert!(!f.tmp.path().join("ws/user_2").exists());
    f.workspaces.remove_user_dir(2).unwrap();
    assert!(f.tmp.path().join("ws/user_1").exists());
    assert_eq!(
        fs::read(f.tmp.path().join("ws/nano_claw.db")).unwrap(),
        before_db
    );
}

#[test]
fn errors_never_show_server_paths() {
    let f = fixture();
    let root = f.tmp.path().display().to_string();
    let errors = [
        f.ws.read("link_out_file").unwrap_err(),
        f.ws.read("nope").unwrap_err(),
        f.ws.read("src").unwrap_err(),
        f.ws.delete("").unwrap_err(),
        f.ws.read("loopa").unwrap_err(),
        f.ws.list("README.md").unwrap_err(),
    ];
    for e in errors {
        assert!(!e.to_string().contains(&root), "{e}");
    }
    assert!(!format!("{:?}", f.ws).contains(&root));
}

#[test]
fn workspace_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<nanoclaw_workspace::Workspace>();
    assert_send_sync::<nanoclaw_workspace::Workspaces>();
}

/// A directory large enough to be stat'ed on several threads lists exactly what a one-thread
/// listing would: every entry once, with its own size, links to the outside still skipped.
#[test]
fn a_large_directory_lists_every_entry_once_with_its_size() {
    let f = fixture();
    let big = f.project.join("big");
    fs::create_dir(&big).unwrap();
    let n = 5000;
    for i in 0..n {
        fs::write(big.join(format!("f{i:05}.txt")), "x".repeat(i % 13)).unwrap();
    }
    fs::create_dir(big.join("zdir")).unwrap();
    std::os::unix::fs::symlink("../../../secret", big.join("link_out")).unwrap();
    std::os::unix::fs::symlink("f00012.txt", big.join("link_in")).unwrap();
    let entries = f.ws.list("big").unwrap();
    assert_eq!(
        entries.len(),
        n + 2,
        "files, the link inside and the directory"
    );
    assert!(entries[0].is_dir && entries[0].name == "zdir");
    let files: Vec<_> = entries.iter().filter(|e| !e.is_dir).collect();
    for (i, e) in files.iter().take(n).enumerate() {
        assert_eq!(e.name, format!("f{i:05}.txt"));
        assert_eq!(e.path, format!("big/f{i:05}.txt"));
        assert_eq!(e.size, (i % 13) as u64, "{}", e.name);
    }
    let link = files.last().unwrap();
    assert_eq!((link.name.as_str(), link.size), ("link_in", 12));
    assert!(
        !entries
            .iter()
            .any(|e| e.name == "link_out" || e.path.contains(MARKER))
    );
}
