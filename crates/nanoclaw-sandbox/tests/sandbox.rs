//! Each bound of the sandbox, proven against a real bubblewrap sandbox. Skipped (loudly) only
//! when bwrap is not installed; CI installs it.

#![allow(clippy::unwrap_used)]

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nanoclaw_sandbox::{
    ProjectMount, RunOptions, RunOutcome, Sandbox, Settings, Strictness, Unavailable,
};
use tokio_util::sync::CancellationToken;

fn bwrap_installed() -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("bwrap").is_file()))
        .unwrap_or(false)
}

fn test_settings() -> Settings {
    Settings {
        memory_bytes: 256 * 1024 * 1024,
        max_processes: 12,
        ..Settings::default()
    }
}

/// The sandbox, or `None` (after printing SKIPPED) when bwrap is missing. With bwrap present
/// the sandbox must work.
async fn sandbox_with(settings: Settings) -> Option<Sandbox> {
    if !bwrap_installed() {
        eprintln!("SKIPPED: bubblewrap (bwrap) is not installed");
        return None;
    }
    Some(Sandbox::detect(&settings).await.unwrap())
}

async fn sandbox() -> Option<Sandbox> {
    sandbox_with(test_settings()).await
}

async fn run(sb: &Sandbox, code: &str, level: Strictness) -> RunOutcome {
    sb.run_python(code, &RunOptions::new(level), &CancellationToken::new())
        .await
}

/// stdout of a run that must have exited with 0.
fn ok_stdout(outcome: RunOutcome) -> String {
    match outcome {
        RunOutcome::Exited {
            code: Some(0),
            stdout,
            ..
        } => stdout.text,
        other => panic!("expected a clean exit, got {other:?}"),
    }
}

/// A directory outside every path the sandbox binds.
fn host_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sandbox-host-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn py_str(p: &Path) -> String {
    serde_json::to_string(p.to_str().unwrap()).unwrap()
}

#[tokio::test]
async fn import_json_works_in_standard_and_the_levels_keep_their_lists() {
    let Some(sb) = sandbox().await else { return };
    let out = ok_stdout(
        run(
            &sb,
            "import json\nimport xml.etree.ElementTree as ET\nimport re\n\
             print(json.dumps({'a': [1, 2]}), re.compile('b+').findall('abbb'), ET.__name__)",
            Strictness::Standard,
        )
        .await,
    );
    assert_eq!(out, "{\"a\": [1, 2]} ['bbb'] xml.etree.ElementTree\n");

    assert_eq!(
        run(&sb, "import os\nimport sys", Strictness::Standard).await,
        RunOutcome::Rejected(
            "Blocked imports: os, sys. These modules are not allowed in 'standard' mode.".into()
        )
    );
    assert_eq!(
        run(&sb, "from subprocess import run", Strictness::Standard).await,
        RunOutcome::Rejected(
            "Blocked imports: subprocess. These modules are not allowed in 'standard' mode.".into()
        )
    );
    assert_eq!(
        run(&sb, "import json", Strictness::Strict).await,
        RunOutcome::Rejected(
            "Blocked imports: json. These modules are not allowed in 'strict' mode.".into()
        )
    );
    assert_eq!(
        run(&sb, "x = eval('1')", Strictness::Standard).await,
        RunOutcome::Rejected(
            "Blocked functions: eval. These functions are not allowed in 'standard' mode.".into()
        )
    );
    assert_eq!(
        run(&sb, "print(isinstance(1, int))", Strictness::Strict).await,
        RunOutcome::Rejected(
            "Blocked functions: isinstance. These functions are not allowed in 'strict' mode."
                .into()
        )
    );
    // Blocked builtins are gone from the namespace, not only refused by name.
    match run(&sb, "f = open\nprint(f)", Strictness::Standard).await {
        RunOutcome::Exited {
            code: Some(1),
            stderr,
            ..
        } => assert!(stderr.text.contains("NameError"), "{}", stderr.text),
        other => panic!("{other:?}"),
    }
    let out = ok_stdout(
        run(
            &sb,
            "import os, math\nprint(math.pi > 3, os.sep)",
            Strictness::Lenient,
        )
        .await,
    );
    assert_eq!(out, "True /\n");
    match run(&sb, "def f(:\n  pass", Strictness::Strict).await {
        RunOutcome::Rejected(m) => assert!(m.starts_with("Syntax error in code: "), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn extra_modules_extend_a_level() {
    let Some(sb) = sandbox().await else { return };
    let mut opts = RunOptions::new(Strictness::Strict);
    opts.extra_modules = vec!["json".into()];
    let out = sb
        .run_python(
            "import json\nprint(json.dumps(1))",
            &opts,
            &CancellationToken::new(),
        )
        .await;
    assert_eq!(ok_stdout(out), "1\n");
}

#[tokio::test]
async fn the_introspection_escape_reaches_no_shell() {
    let Some(sb) = sandbox().await else { return };
    let host = host_dir();
    let marker = host.path().join("pwned");
    // W-03: from `strict`, with no import and no blocked name, reach os.system.
    let code = format!(
        "for c in ().__class__.__base__.__subclasses__():\n\
         \x20   if c.__name__ == '_wrap_close':\n\
         \x20       print('status', c.__init__.__globals__['system']('id > ' + {m} + '; touch ' + {m}))\n",
        m = py_str(&marker)
    );
    let out = ok_stdout(run(&sb, &code, Strictness::Strict).await);
    // 127 << 8: the shell itself is not there.
    assert_eq!(out, "status 32512\n");
    assert!(!marker.exists());

    // Lenient, with every module: still no shell, no coreutils, no way to the host folder.
    let code = format!(
        "import os, subprocess\n\
         print(os.path.exists('/bin/sh'), os.path.exists('/usr/bin/env'))\n\
         try:\n    subprocess.run(['/bin/sh', '-c', 'true'])\nexcept OSError as e:\n    print('sh', e.errno)\n\
         try:\n    open({m}, 'w').write('x')\nexcept OSError as e:\n    print('open', e.errno)\n",
        m = py_str(&marker)
    );
    let out = ok_stdout(run(&sb, &code, Strictness::Lenient).await);
    assert_eq!(out, "False False\nsh 2\nopen 2\n");
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_fork_bomb_is_bounded_and_the_machine_stays_fine() {
    let Some(sb) = sandbox().await else { return };
    // Count how far forking gets: the pids bound (12) stops it.
    let code = "import os, time\nn = 0\ntry:\n    while n < 5000:\n        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('stopped', n, e.errno)\n";
    let out = ok_stdout(run(&sb, code, Strictness::Lenient).await);
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fields[0], "stopped", "{out}");
    let forked: u32 = fields[1].parse().unwrap();
    assert!(forked < 12, "{out}");
    assert_eq!(fields[2], "11", "EAGAIN expected: {out}");

    // The real thing: every process forks forever. It is bounded, then killed at the deadline.
    let mut opts = RunOptions::new(Strictness::Lenient);
    opts.timeout = Duration::from_secs(2);
    let bomb =
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
    assert_eq!(
        sb.run_python(bomb, &opts, &CancellationToken::new()).await,
        RunOutcome::TimedOut
    );
    // The next run works.
    assert_eq!(
        ok_stdout(run(&sb, "print(1)", Strictness::Strict).await),
        "1\n"
    );
}

#[tokio::test]
async fn a_memory_hog_fails() {
    let Some(sb) = sandbox().await else { return };
    for code in [
        "x = bytearray(1024 * 1024 * 1024)\nprint(len(x))",
        "a = []\nwhile True:\n    a.append(' ' * 10_000_000)",
    ] {
        match run(&sb, code, Strictness::Lenient).await {
            RunOutcome::Exited {
                code,
                stderr,
                stdout,
                ..
            } => {
                assert_ne!(code, Some(0));
                assert!(stderr.text.contains("MemoryError"), "{}", stderr.text);
                assert_eq!(stdout.text, "");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_runs_total_memory_is_bounded_by_its_memory_cgroup() {
    // Each process may map 512 MiB, the run as a whole may use 128 MiB.
    let Some(sb) = sandbox_with(Settings {
        memory_bytes: 512 * 1024 * 1024,
        run_memory_bytes: Some(128 * 1024 * 1024),
        ..test_settings()
    })
    .await
    else {
        return;
    };
    if !sb.uses_memory_cgroup() {
        eprintln!("SKIPPED: no memory cgroup controller here");
        return;
    }
    let code = "data = b'x' * (300 * 1024 * 1024)\nprint('allocated', len(data))";
    match run(&sb, code, Strictness::Lenient).await {
        RunOutcome::Exited { code, stdout, .. } => {
            assert_ne!(code, Some(0));
            assert_eq!(stdout.text, "");
        }
        other => panic!("{other:?}"),
    }
    // Under the bound the same allocation pattern works.
    let out = ok_stdout(
        run(
            &sb,
            "data = b'x' * (64 * 1024 * 1024)\nprint('allocated', len(data))",
            Strictness::Lenient,
        )
        .await,
    );
    assert_eq!(out, "allocated 67108864\n");
}

/// Host processes whose command line contains `needle`.
fn host_processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!("{:?}: {cmdline}", entry.file_name()));
            }
        }
    }
    found
}

#[tokio::test]
async fn an_endless_loop_is_killed_at_the_deadline_with_its_children() {
    let Some(sb) = sandbox().await else { return };
    let needle = format!("sleeper-{}", std::process::id());
    let code = format!(
        "import subprocess, sys\n\
         subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{needle}'])\n\
         subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(600)', '{needle}'])\n\
         print('started', flush=True)\n\
         while True:\n    pass\n"
    );
    let mut opts = RunOptions::new(Strictness::Lenient);
    opts.timeout = Duration::from_secs(2);
    assert_eq!(
        sb.run_python(&code, &opts, &CancellationToken::new()).await,
        RunOutcome::TimedOut
    );
    assert_eq!(host_processes_with(&needle), Vec::<String>::new());
}

#[tokio::test]
async fn cancelling_kills_the_run() {
    let Some(sb) = sandbox().await else { return };
    let cancel = CancellationToken::new();
    cancel.cancel();
    let outcome = sb
        .run_python(
            "while True:\n    pass",
            &RunOptions::new(Strictness::Lenient),
            &cancel,
        )
        .await;
    assert_eq!(outcome, RunOutcome::Cancelled);
}

#[tokio::test]
async fn a_ten_megabyte_print_is_capped_with_a_note() {
    let Some(sb) = sandbox().await else { return };
    let code = "import sys\nsys.stdout.write('x' * 10_000_000)\nsys.stderr.write('é' * 5_000_000)";
    match run(&sb, code, Strictness::Lenient).await {
        RunOutcome::Exited {
            code: Some(0),
            stdout,
            stderr,
            ..
        } => {
            assert!(stdout.truncated && stderr.truncated);
            assert_eq!(stdout.total_bytes, 10_000_000);
            assert_eq!(stderr.total_bytes, 10_000_000);
            let (body, note) = stdout.text.split_once("\n[output truncated").unwrap();
            assert_eq!(body.len(), 65536);
            assert!(body.bytes().all(|b| b == b'x'));
            assert!(note.contains("10000000 bytes written"), "{note}");
            // Cut on a character boundary: 32768 two-byte characters.
            let (body, _) = stderr.text.split_once("\n[output truncated").unwrap();
            assert_eq!(body.chars().count(), 32768);
            assert!(body.chars().all(|c| c == 'é'));
        }
        other => panic!("{other:?}"),
    }
    // Under the cap nothing is added.
    match run(&sb, "print('hi')", Strictness::Strict).await {
        RunOutcome::Exited { stdout, .. } => {
            assert_eq!(stdout.text, "hi\n");
            assert!(!stdout.truncated);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn writes_outside_the_scratch_folder_fail() {
    let Some(sb) = sandbox().await else { return };
    let host = host_dir();
    let host_file = host.path().join("planted");
    let code = format!(
        "import os\n\
         for p in ['/usr/lib/planted', '/etc/planted', '/planted', '/project/planted', {h}, '/proc/sys/vm/swappiness', '/sys/kernel/planted']:\n\
         \x20   try:\n        open(p, 'w').write('1')\n        print('WROTE', p)\n\
         \x20   except OSError as e:\n        print('refused', e.errno)\n\
         open('/tmp/scratch', 'w').write('ok')\n\
         print(open('/tmp/scratch').read(), os.getcwd(), os.getuid())\n",
        h = py_str(&host_file)
    );
    let out = ok_stdout(run(&sb, &code, Strictness::Lenient).await);
    assert!(!out.contains("WROTE"), "{out}");
    assert!(out.ends_with("ok /tmp 65534\n"), "{out}");
    assert!(!host_file.exists());
    // The scratch folder is private to a run.
    let out = ok_stdout(
        run(
            &sb,
            "import os\nprint(os.listdir('/tmp'))",
            Strictness::Lenient,
        )
        .await,
    );
    assert_eq!(out, "[]\n");
    // A file larger than RLIMIT_FSIZE cannot be written.
    let sb2 = sandbox_with(Settings {
        max_file_bytes: 1024 * 1024,
        ..test_settings()
    })
    .await
    .unwrap();
    let out = ok_stdout(
        run(
            &sb2,
            "import signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n\
             try:\n    open('/tmp/big', 'wb').write(b'x' * 2_000_000)\nexcept OSError as e:\n    print('refused', e.errno)",
            Strictness::Lenient,
        )
        .await,
    );
    assert_eq!(out, "refused 27\n");
}

#[tokio::test]
async fn no_network_and_no_escape_syscalls() {
    let Some(sb) = sandbox().await else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        "import socket, ctypes, os, struct\n\
         try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('CONNECTED')\n\
         except OSError as e:\n    print('inet', e.errno)\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         for name, args in [('unshare', (0x10000000,)), ('ptrace', (0, 0, 0, 0)), ('mount', (b'none', b'/tmp', b'tmpfs', 0, None))]:\n\
         \x20   r = getattr(libc, name)(*args)\n    print(name, r, ctypes.get_errno())\n\
         args = ctypes.create_string_buffer(struct.pack('8Q', 0x10000000, 0, 0, 0, 17, 0, 0, 0))\n\
         r = libc.syscall(435, args, 64)\n\
         if r == 0:\n    os._exit(0)\n\
         print('clone3', r, ctypes.get_errno())\n\
         a, b = socket.socketpair()\n\
         a.sendall(b'unix ok')\n\
         print(b.recv(16).decode())\n"
    );
    let out = ok_stdout(run(&sb, &code, Strictness::Lenient).await);
    // EPERM from the seccomp filter for AF_INET and every escape syscall. clone3 cannot be
    // filtered by its flags; a new user namespace is refused by bwrap's --disable-userns (the
    // namespace limit inside is 0: ENOSPC).
    assert_eq!(
        out,
        "inet 1\nunshare -1 1\nptrace -1 1\nmount -1 1\nclone3 -1 28\nunix ok\n"
    );
    listener.set_nonblocking(true).unwrap();
    let err = listener.accept().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
}

#[tokio::test]
async fn the_project_folder_is_read_only_unless_configured() {
    let Some(sb) = sandbox().await else { return };
    let project = host_dir();
    std::fs::write(project.path().join("data.csv"), "a,b\n1,2\n").unwrap();
    let code = "print(open('/project/data.csv').read().strip())\n\
                try:\n    open('/project/out.txt', 'w').write('new')\n    print('WROTE')\n\
                except OSError as e:\n    print('refused', e.errno)\n";
    let mut opts = RunOptions::new(Strictness::Lenient);
    opts.project = Some(ProjectMount {
        host: project.path().to_owned(),
        writable: false,
    });
    let out = ok_stdout(sb.run_python(code, &opts, &CancellationToken::new()).await);
    assert_eq!(out, "a,b\n1,2\nrefused 30\n");
    assert!(!project.path().join("out.txt").exists());

    opts.project = Some(ProjectMount {
        host: project.path().to_owned(),
        writable: true,
    });
    let out = ok_stdout(sb.run_python(code, &opts, &CancellationToken::new()).await);
    assert_eq!(out, "a,b\n1,2\nWROTE\n");
    assert_eq!(
        std::fs::read_to_string(project.path().join("out.txt")).unwrap(),
        "new"
    );
    // Without a project there is nothing at /project.
    let out = ok_stdout(
        run(
            &sb,
            "import os\nprint(os.path.exists('/project'))",
            Strictness::Lenient,
        )
        .await,
    );
    assert_eq!(out, "False\n");
}

#[tokio::test]
async fn missing_bwrap_or_python_is_reported_not_bypassed() {
    let nowhere = PathBuf::from("/nonexistent/bwrap");
    let err = Sandbox::detect(&Settings {
        bwrap: Some(nowhere),
        ..Settings::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Unavailable::Sandbox(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("code execution is unavailable: ")
    );
    if !bwrap_installed() {
        eprintln!("SKIPPED (rest): bubblewrap (bwrap) is not installed");
        return;
    }
    let err = Sandbox::detect(&Settings {
        python: Some(PathBuf::from("/nonexistent/python3")),
        ..Settings::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Unavailable::Python(_)), "{err:?}");
}
