//! Property test: hostile paths through every operation never read, write, rename or delete
//! anything outside the project.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;

use common::{Fixture, MARKER, fixture, snapshot};
use nanoclaw_workspace::{FileData, SearchQuery};
use proptest::prelude::*;

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just(String::new()),
        2 => prop::sample::select(vec![
            "src", "sub", "main.py", "README.md", "link_out_dir", "link_out_file", "link_rel_up",
            "link_sibling", "link_db", "link_root", "chain1", "chain2", "loopa", "link_inside",
            "up_and_out", "secret", "secret.txt", "deeper", "nano_claw.db", "ws", "user_1",
            "user_2", "etc", "passwd", "new.txt",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z]{1,8}",
        1 => "\\PC{1,6}",
        1 => Just("n".repeat(300)),
        1 => Just("a\0b".to_owned()),
        1 => Just("a\\..\\b".to_owned()),
    ]
}

/// Where a path starts: relative, `/`, the project's absolute path, or the temp dir's.
#[derive(Debug, Clone, Copy)]
enum Start {
    Relative,
    Slash,
    Project,
    Outer,
}

#[derive(Debug, Clone)]
struct HostilePath(Start, Vec<String>);

impl HostilePath {
    fn render(&self, f: &Fixture) -> String {
        let tail = self.1.join("/");
        match self.0 {
            Start::Relative => tail,
            Start::Slash => format!("/{tail}"),
            Start::Project => format!("{}/{tail}", f.project.display()),
            Start::Outer => format!("{}/{tail}", f.tmp.path().canonicalize().unwrap().display()),
        }
    }
}

fn hostile_path() -> impl Strategy<Value = HostilePath> {
    let start = prop_oneof![
        6 => Just(Start::Relative),
        1 => Just(Start::Slash),
        2 => Just(Start::Project),
        1 => Just(Start::Outer),
    ];
    (start, prop::collection::vec(component(), 0..6)).prop_map(|(s, c)| HostilePath(s, c))
}

#[derive(Debug, Clone)]
enum Op {
    Read(HostilePath),
    OpenFile(HostilePath),
    Write(HostilePath),
    Append(HostilePath),
    Create(HostilePath),
    Rename(HostilePath, HostilePath),
    Delete(HostilePath),
    DeleteFile(HostilePath),
    Mkdir(HostilePath),
    List(HostilePath),
    Glob(HostilePath, String),
    Stat(HostilePath),
    Search(HostilePath),
}

fn op() -> impl Strategy<Value = Op> {
    let p = hostile_path;
    prop_oneof![
        p().prop_map(Op::Read),
        p().prop_map(Op::OpenFile),
        p().prop_map(Op::Write),
        p().prop_map(Op::Append),
        p().prop_map(Op::Create),
        (p(), p()).prop_map(|(a, b)| Op::Rename(a, b)),
        p().prop_map(Op::Delete),
        p().prop_map(Op::DeleteFile),
        p().prop_map(Op::Mkdir),
        p().prop_map(Op::List),
        (
            p(),
            prop::collection::vec(
                prop_oneof![component(), Just("*".to_owned()), Just("**".to_owned())],
                1..4
            )
        )
            .prop_map(|(a, pat)| Op::Glob(a, pat.join("/"))),
        p().prop_map(Op::Stat),
        p().prop_map(Op::Search),
    ]
}

/// A listed path, checked to resolve inside the project (else reported as outside data).
fn listed(f: &Fixture, path: &str) -> String {
    match f.project.join(path).canonicalize() {
        Ok(real) if real.starts_with(&f.project) => path.to_owned(),
        other => format!("{MARKER}: {path} resolves to {other:?}"),
    }
}

/// Runs one operation; returns every text it handed back (to look for outside data).
fn run(f: &Fixture, op: &Op) -> Vec<String> {
    let ws = &f.ws;
    let r = |p: &HostilePath| p.render(f);
    let mut seen = Vec::new();
    match op {
        Op::Read(p) => {
            if let Ok(FileData::Text { content, .. }) = ws.read(&r(p)) {
                seen.push(content);
            }
        }
        Op::OpenFile(p) => {
            if let Ok(mut opened) = ws.open_file(&r(p)) {
                let mut bytes = Vec::new();
                opened.file.read_to_end(&mut bytes).unwrap();
                seen.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        Op::Write(p) => drop(ws.write(&r(p), b"pwned")),
        Op::Append(p) => drop(ws.append(&r(p), b"pwned")),
        Op::Create(p) => {
            if let Ok(mut file) = ws.create_file(&r(p)) {
                std::io::Write::write_all(&mut file, b"pwned").unwrap();
            }
        }
        Op::Rename(a, b) => drop(ws.rename(&r(a), &r(b))),
        Op::Delete(p) => drop(ws.delete(&r(p))),
        Op::DeleteFile(p) => drop(ws.delete_file(&r(p))),
        Op::Mkdir(p) => drop(ws.mkdir(&r(p))),
        Op::List(p) => {
            if let Ok(entries) = ws.list(&r(p)) {
                seen.extend(entries.into_iter().map(|e| listed(f, &e.path)));
            }
        }
        Op::Glob(p, pattern) => {
            if let Ok((entries, _)) = ws.glob(&r(p), pattern, 1000) {
                seen.extend(entries.into_iter().map(|e| listed(f, &e.path)));
            }
        }
        Op::Stat(p) => drop(ws.stat(&r(p))),
        Op::Search(p) => {
            for q in [MARKER, "e"] {
                let query = SearchQuery {
                    query: q.into(),
                    path: r(p),
                    max_results: 200,
                    case_sensitive: false,
                };
                if let Ok(found) = ws.search(&query) {
                    for file in found.results {
                        seen.push(file.path);
                        seen.extend(file.matches.into_iter().map(|m| m.content));
                    }
                }
            }
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn nothing_outside_the_project_is_touched(ops in prop::collection::vec(op(), 1..5)) {
        let f = fixture();
        let before = snapshot(&f);
        for op in &ops {
            let seen = run(&f, op);
            for text in &seen {
                prop_assert!(!text.contains(MARKER), "{op:?} returned outside data: {text:?}");
            }
            prop_assert_eq!(&snapshot(&f), &before, "{:?} changed something outside", op);
        }
        // The project directory itself is still there.
        prop_assert!(f.project.is_dir());
    }
}
