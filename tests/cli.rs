//! The command line as users meet it: exit codes, messages, per-file apply,
//! bad input, `diff | git apply` and `diff | patch -p1` giving what `apply`
//! gives, the interactive review, JSON, standard input, completions.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

const LEAKY: &str = "def get_db_connection():\n    from src.db_compat import connect\n    return connect(use_pool=True)\n\n\ndef route():\n    conn = get_db_connection()\n    if conn: conn.close()\n";

const LEAKY_FIXED: &str = "def get_db_connection():\n    from src.db_compat import connect\n    from src.utils.connection_tracker import track_connection_acquired\n\n    conn = connect(use_pool=True)\n    # Track this connection acquisition\n    context, track_start = track_connection_acquired(\"a.py::get_db_connection\")\n    conn._tracking_context = context\n    conn._tracking_start = track_start\n    return conn\n\n\ndef route():\n    conn = get_db_connection()\n    if conn:\n        # Release tracking before closing connection\n        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n            from src.utils.connection_tracker import track_connection_released\n            track_connection_released(conn._tracking_context, conn._tracking_start)\n            del conn._tracking_context, conn._tracking_start\n        conn.close()\n";

/// What `apply` and `diff` say when the temporary trees of these tests,
/// which have no tracker module, get the tracker's imports.
const TRACKER_WARNING: &str = "connfix: warning: the tracker module `src.utils.connection_tracker` is not found above the paths given; the inserted imports fail unless it is importable (set `tracker_module` to yours)\n";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn connfix(dir: &Path, args: &[&str]) -> Run {
    connfix_with_input(dir, args, "")
}

/// Run with `input` on standard input (answers, or a source for `-`).
fn connfix_with_input(dir: &Path, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = Command::cargo_bin("connfix")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // connfix may exit (on a usage error) before reading: a broken pipe here
    // is its answer, which the assertions on the output then judge.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn read(dir: &Path, name: &str) -> String {
    String::from_utf8(std::fs::read(dir.join(name)).unwrap()).unwrap()
}

#[test]
fn apply_fixes_reports_and_exits_1_then_0() {
    let dir = tree(&[("a.py", LEAKY.as_bytes()), ("b.py", b"x = 1\n")]);
    let run = connfix(dir.path(), &["apply"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "fixed a.py (2 fixes)\n");
    assert_eq!(
        run.stderr,
        format!(
            "{TRACKER_WARNING}connfix: 2 files checked, 1 changed (2 fixes), 0 findings, 0 errors\n"
        )
    );
    assert_eq!(read(dir.path(), "a.py"), LEAKY_FIXED);
    let again = connfix(dir.path(), &["apply"]);
    assert_eq!((again.code, again.stdout.as_str()), (0, ""));
}

#[test]
fn check_lists_without_writing() {
    let dir = tree(&[("a.py", LEAKY.as_bytes())]);
    let run = connfix(dir.path(), &["check"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "would fix a.py (2 fixes)\n\
         a.py:1:1: tracked-helper: helper `get_db_connection` hands out a connection without tracking it [fixable] (error)\n\
         a.py:8:14: release-before-close: `conn` closed without releasing its connection tracking [fixable] (error)\n"
    );
    assert_eq!(read(dir.path(), "a.py"), LEAKY);
}

#[test]
fn diff_prints_a_patch_git_apply_takes_and_it_equals_apply() {
    let crlf = LEAKY.replace('\n', "\r\n");
    let tabs = LEAKY.replace("    ", "\t");
    let files: &[(&str, &[u8])] = &[
        ("pkg/a.py", LEAKY.as_bytes()),
        ("pkg/crlf.py", crlf.as_bytes()),
        ("tabs.py", tabs.as_bytes()),
    ];
    let patched = tree(files);
    let applied = tree(files);
    let diff = connfix(patched.path(), &["diff"]);
    assert_eq!(diff.code, 1);
    assert!(
        diff.stdout
            .starts_with("--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -1,8 +1,21 @@\n"),
        "{}",
        diff.stdout
    );
    let patch = patched.path().join("fix.patch");
    std::fs::write(&patch, &diff.stdout).unwrap();
    let git = Command::new("git")
        .args(["apply", "--unsafe-paths", "fix.patch"])
        .current_dir(patched.path())
        .output()
        .unwrap();
    assert!(
        git.status.success(),
        "git apply failed: {}",
        String::from_utf8_lossy(&git.stderr)
    );
    assert_eq!(connfix(applied.path(), &["apply"]).code, 1);
    for (name, _) in files {
        assert_eq!(
            std::fs::read(patched.path().join(name)).unwrap(),
            std::fs::read(applied.path().join(name)).unwrap(),
            "{name}"
        );
    }
    assert!(
        read(applied.path(), "pkg/crlf.py")
            .contains("\r\n        # Release tracking before closing connection\r\n")
    );
    assert!(
        read(applied.path(), "tabs.py")
            .contains("\n\t\t# Release tracking before closing connection\n\t\tif hasattr")
    );
}

#[test]
fn apply_on_one_file_touches_only_that_file() {
    let dir = tree(&[
        ("src/routes/branding.py", LEAKY.as_bytes()),
        ("src/routes/other.py", LEAKY.as_bytes()),
    ]);
    let run = connfix(dir.path(), &["apply", "src/routes/branding.py"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, "fixed src/routes/branding.py (2 fixes)\n")
    );
    assert!(
        read(dir.path(), "src/routes/branding.py").contains("\"branding.py::get_db_connection\"")
    );
    assert_eq!(read(dir.path(), "src/routes/other.py"), LEAKY);
}

#[test]
fn bad_files_are_reported_left_alone_and_the_rest_processed() {
    let files: &[(&str, &[u8])] = &[
        ("a.py", LEAKY.as_bytes()),
        ("syntax.py", b"def get_db_connection(:\n    pass\n"),
        (
            "conflict.py",
            b"x = get_db_connection()\n<<<<<<< HEAD\ny = 1\n=======\ny = 2\n>>>>>>> other\n",
        ),
        ("latin.py", b"s = '\xe9'  # get_db_connection\n"),
        ("binary.py", b"\x7fELF\x00\x00get_db_connection"),
        ("utf16.py", b"\xff\xfeg\x00"),
        ("empty.py", b""),
    ];
    let dir = tree(files);
    let run = connfix(dir.path(), &["apply"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "fixed a.py (2 fixes)\n");
    assert_eq!(
        run.stderr,
        "binary.py:1:5: error: binary file (it contains a NUL byte); it is not Python source\n\
         conflict.py:2:1: error: unresolved merge-conflict marker; resolve the conflict, then run connfix again\n\
         latin.py:1:6: error: the file is not valid UTF-8 and declares no encoding (PEP 263); convert it to UTF-8 or add a `# -*- coding: ... -*-` line\n\
         syntax.py:1:23: error: syntax error: expected a parameter or the end of the parameter list; CPython would not compile this file either, so it is left unchanged: fix the syntax (or set `target_version` if the code is for a newer Python)\n\
         utf16.py: error: the file is UTF-16 or UTF-32, which connfix does not read; convert it to UTF-8\n\
         connfix: warning: the tracker module `src.utils.connection_tracker` is not found above the paths given; the inserted imports fail unless it is importable (set `tracker_module` to yours)\n\
         connfix: 2 files checked, 1 changed (2 fixes), 0 findings, 5 errors\n"
    );
    for (name, content) in &files[1..] {
        assert_eq!(
            &std::fs::read(dir.path().join(name)).unwrap(),
            content,
            "{name} must stay byte-identical"
        );
    }
}

#[test]
fn missing_path_and_unreadable_file_are_errors() {
    let dir = tree(&[("a.py", LEAKY.as_bytes())]);
    let run = connfix(dir.path(), &["check", "nope.py"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "nope.py: error: cannot read this path: no such file or folder\nconnfix: 0 files checked, 0 would change (0 fixes), 0 findings, 1 error\n"
    );
}

#[test]
fn read_only_file_is_not_written() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[("a.py", LEAKY.as_bytes())]);
    let path = dir.path().join("a.py");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let run = connfix(dir.path(), &["apply"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.lines().next().unwrap(),
        "a.py: error: the file is read-only; it is left unchanged (make it writable to apply the fix)"
    );
    assert_eq!(read(dir.path(), "a.py"), LEAKY);
}

#[test]
fn configuration_from_pyproject_and_errors_naming_file_and_key() {
    let dir = tree(&[
        (
            "pyproject.toml",
            b"[tool.connfix]\nhelpers = [\"get_conn\"]\n",
        ),
        ("a.py", b"def route():\n    c = get_conn()\n    c.close()\n"),
        ("b.py", LEAKY.as_bytes()),
    ]);
    let run = connfix(dir.path(), &["check", "--quiet"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, "would fix a.py (1 fix)\n")
    );

    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.connfix]\nhelper = [\"get_conn\"]\n",
    )
    .unwrap();
    let run = connfix(dir.path(), &["check"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.starts_with("connfix: error: "), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("pyproject.toml: unknown field `helper`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_pyproject_without_a_connfix_table_is_not_parsed() {
    // Not valid TOML, and no `[tool.connfix]` in it: not connfix's file to
    // judge (it is not read as TOML at all), so the defaults apply. With the
    // table, the same error is reported.
    let dir = tree(&[
        ("pyproject.toml", b"[project\nname = \"app\"\n"),
        ("b.py", LEAKY.as_bytes()),
    ]);
    let run = connfix(dir.path(), &["check", "--quiet"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (1, "would fix b.py (2 fixes)\n", "")
    );
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project\nname = \"app\"\n[tool.connfix]\n",
    )
    .unwrap();
    let run = connfix(dir.path(), &["check", "--quiet"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("connfix: error: ") && run.stderr.contains("pyproject.toml: "),
        "{}",
        run.stderr
    );
}

#[test]
fn select_ignore_and_exclude() {
    let dir = tree(&[
        ("a.py", LEAKY.as_bytes()),
        ("vendor/b.py", LEAKY.as_bytes()),
    ]);
    let run = connfix(
        dir.path(),
        &[
            "check",
            "--quiet",
            "--select",
            "release-before-close",
            "--exclude",
            "vendor",
        ],
    );
    assert_eq!(run.stdout, "would fix a.py (1 fix)\n");
    let run = connfix(
        dir.path(),
        &[
            "check",
            "--quiet",
            "--ignore",
            "release-before-close,tracked-helper",
        ],
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
    let run = connfix(dir.path(), &["check", "--select", "no-such-rule"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "connfix: error: unknown rule `no-such-rule`; the rules are: tracked-helper, unrecognised-helper, not-a-helper, untrackable-connection, release-before-close, close-in-expression, dispose-engine, engine-escapes, module-engine, never-closed, early-return-leak, close-not-guaranteed, with-does-not-close, orm-bypass, unparsed-region\n"
    );
}

#[test]
fn hidden_folders_virtualenvs_and_gitignored_files_are_skipped_unless_named() {
    let dir = tree(&[
        (".hidden/a.py", LEAKY.as_bytes()),
        ("venv/lib/a.py", LEAKY.as_bytes()),
        ("env2/pyvenv.cfg", b"home = /usr\n"),
        ("env2/a.py", LEAKY.as_bytes()),
        ("ignored/a.py", LEAKY.as_bytes()),
        (".gitignore", b"ignored/\n"),
        ("kept.py", LEAKY.as_bytes()),
    ]);
    let run = connfix(dir.path(), &["check", "--quiet"]);
    assert_eq!(run.stdout, "would fix kept.py (2 fixes)\n");
    let run = connfix(dir.path(), &["check", "--quiet", "ignored/a.py"]);
    assert_eq!(run.stdout, "would fix ignored/a.py (2 fixes)\n");
}

#[test]
fn symlink_loops_are_not_followed() {
    let dir = tree(&[("a.py", LEAKY.as_bytes())]);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let run = connfix(dir.path(), &["check", "--quiet"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, "would fix a.py (2 fixes)\n")
    );
}

const LEAKS: &str = "def route(tid):\n    conn = get_db_connection()\n    row = fetch(conn, tid)\n    if row is None:\n        return None\n    conn.close()\n    return row\n\n\ndef ok():\n    with connection_ctx() as conn:\n        conn.cursor()\n";

#[test]
fn report_ranks_findings_and_summarises_like_the_audit() {
    let dir = tree(&[
        ("leaks.py", LEAKS.as_bytes()),
        (
            "good.py",
            b"def ok():\n    with connection_ctx() as conn:\n        conn.cursor()\n",
        ),
        (
            "fixed.py",
            LEAKY_FIXED.replace("a.py::", "fixed.py::").as_bytes(),
        ),
        ("plain.py", b"x = 1\n"),
    ]);
    let run = connfix(dir.path(), &["report"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "leaks.py:5:9: early-return-leak: this `return` leaves `conn` (acquired on line 2) open: the close on line 6 is not reached; close it first, or close it in a `finally` (error)\n\
         leaks.py:6:5: release-before-close: `conn` closed without releasing its connection tracking [fixable] (error)\n\
         leaks.py:2:5: close-not-guaranteed: `conn` (line 2) is closed on line 6 outside any `finally`: an exception or return before that leaks the connection; close it in a `finally` [unsafe fix] (warning)\n\
         \n\
         Files needing fixes: 1\n  error    leaks.py (2 errors, 1 warning)\n\
         Files already fixed (tracking in place): 1\n  fixed.py\n\
         Files correct (using connection_ctx): 1\n  good.py\n\
         Findings per rule:\n\
         \x20 release-before-close       1  (error)\n\
         \x20 early-return-leak          1  (error)\n\
         \x20 close-not-guaranteed       1  (warning)\n"
    );
    assert_eq!(run.stderr, "");
    let clean = tree(&[(
        "good.py",
        b"def ok():\n    with connection_ctx() as conn:\n        conn.cursor()\n",
    )]);
    assert_eq!(connfix(clean.path(), &["report"]).code, 0);
    let warn_only = tree(&[("w.py", b"def f():\n    db.session.query(X)\n")]);
    assert_eq!(connfix(warn_only.path(), &["report"]).code, 0);
    assert_eq!(
        connfix(warn_only.path(), &["report", "--fail-on", "warning"]).code,
        1
    );
    assert_eq!(
        connfix(dir.path(), &["report", "--fail-on", "never"]).code,
        0
    );
}

#[test]
fn report_json_and_github_formats() {
    let dir = tree(&[
        ("leaks.py", LEAKS.as_bytes()),
        ("bad.py", b"def get_db_connection(:\n"),
    ]);
    let run = connfix(dir.path(), &["report", "--format", "json"]);
    assert_eq!(run.code, 2);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["files"][0]["path"], "leaks.py");
    assert_eq!(value["files"][0]["status"], "needs-fixes");
    assert_eq!(
        value["files"][0]["findings"][0],
        serde_json::json!({"rule": "early-return-leak", "severity": "error", "line": 5, "column": 9, "fix": "none",
            "message": "this `return` leaves `conn` (acquired on line 2) open: the close on line 6 is not reached; close it first, or close it in a `finally`"})
    );
    assert_eq!(value["errors"][0]["path"], "bad.py");
    assert_eq!(
        value["errors"][0]["position"],
        serde_json::json!({"line": 1, "column": 23})
    );
    assert_eq!(
        value["summary"]["findings_by_rule"],
        serde_json::json!({"release-before-close": 1, "early-return-leak": 1, "close-not-guaranteed": 1})
    );

    let run = connfix(dir.path(), &["report", "--format", "github", "leaks.py"]);
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        "::error file=leaks.py,line=5,col=9,title=early-return-leak::this `return` leaves `conn` (acquired on line 2) open: the close on line 6 is not reached; close it first, or close it in a `finally`"
    );
}

#[test]
fn check_fails_on_error_findings_without_fixes() {
    let dir = tree(&[(
        "a.py",
        b"def f():\n    conn = get_db_connection()\n    conn.cursor()\n",
    )]);
    let run = connfix(dir.path(), &["check"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "a.py:2:5: never-closed: `conn` is never closed, returned or passed on: the connection stays checked out; close it in a `finally` (error)\n"
    );
    let run = connfix(dir.path(), &["check", "--ignore", "never-closed"]);
    assert_eq!(run.code, 0);
}

#[test]
fn unsafe_fixes_only_on_request() {
    let dir = tree(&[("a.py", LEAKS.as_bytes())]);
    let run = connfix(dir.path(), &["apply", "--select", "close-not-guaranteed"]);
    assert_eq!((run.code, read(dir.path(), "a.py")), (0, LEAKS.to_string()));
    let run = connfix(
        dir.path(),
        &[
            "apply",
            "--select",
            "close-not-guaranteed",
            "--unsafe-fixes",
        ],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        read(dir.path(), "a.py"),
        "def route(tid):\n    conn = get_db_connection()\n    try:\n        row = fetch(conn, tid)\n        if row is None:\n            return None\n    finally:\n        conn.close()\n    return row\n\n\ndef ok():\n    with connection_ctx() as conn:\n        conn.cursor()\n"
    );
}
/// Copy a folder of the repository (the example app) into a new temporary one.
fn copy_of(folder: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-R")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(folder).join("."))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

/// Every file below `dir`, relative path and bytes, in order.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "py") {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn diff_of_the_example_app_applies_with_git_apply_and_patch_p1_and_equals_apply() {
    let applied = copy_of("examples/app");
    let original = contents(applied.path());
    let run = connfix(applied.path(), &["apply"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let fixed = contents(applied.path());
    assert_ne!(original, fixed);

    for tool in [
        &["git", "apply", "--unsafe-paths", "-"][..],
        &["patch", "-p1", "--quiet"][..],
    ] {
        let patched = copy_of("examples/app");
        let diff = connfix(patched.path(), &["diff"]);
        assert_eq!(diff.code, 1, "{}", diff.stderr);
        let mut child = Command::new(tool[0])
            .args(&tool[1..])
            .current_dir(patched.path())
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(diff.stdout.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{tool:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            contents(patched.path()) == fixed,
            "{tool:?} of the diff differs from apply"
        );
    }
}

#[test]
fn patch_p1_takes_crlf_tabs_and_a_missing_final_newline() {
    let crlf = LEAKY.replace('\n', "\r\n");
    let tabs = LEAKY.replace("    ", "\t");
    let unterminated = LEAKY.trim_end();
    let files: &[(&str, &[u8])] = &[
        ("pkg/crlf.py", crlf.as_bytes()),
        ("tabs.py", tabs.as_bytes()),
        ("end.py", unterminated.as_bytes()),
    ];
    let patched = tree(files);
    let applied = tree(files);
    let diff = connfix(patched.path(), &["diff"]);
    std::fs::write(patched.path().join("fix.patch"), &diff.stdout).unwrap();
    let patch = Command::new("patch")
        .args(["-p1", "--quiet", "--binary", "-i", "fix.patch"])
        .current_dir(patched.path())
        .output()
        .unwrap();
    assert!(
        patch.status.success(),
        "patch -p1 failed: {}{}",
        String::from_utf8_lossy(&patch.stdout),
        String::from_utf8_lossy(&patch.stderr)
    );
    assert_eq!(connfix(applied.path(), &["apply"]).code, 1);
    for (name, _) in files {
        assert_eq!(
            read(patched.path(), name),
            read(applied.path(), name),
            "{name}"
        );
    }
}

/// The snapshot case with every rule, including an engine whose block holds
/// a close (those two fixes overlap: the close's waits for a second pass).
fn audit_module() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/all/audit-route-module/input.py");
    std::fs::read_to_string(path).unwrap()
}

/// The questions of an interactive session: the line above each diff.
fn questions(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("branding.py: ") || l.starts_with("a.py: ") || l.starts_with("b.py: ")
        })
        .map(|l| l.split(": ").nth(1).unwrap())
        .collect()
}

#[test]
fn interactive_writes_exactly_the_accepted_fixes_and_never_asks_twice() {
    let source = audit_module();
    let dir = tree(&[("branding.py", source.as_bytes())]);
    // helper: yes; close in the `if row is None` branch: no; close in
    // `finally`: yes; engine: yes; then, in the second pass, the close the
    // engine's block held: no. The declined close is not asked again.
    let run = connfix_with_input(dir.path(), &["apply", "--interactive"], "y\nn\ny\ny\nn\n");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        questions(&run.stdout),
        [
            "tracked-helper",
            "release-before-close",
            "release-before-close",
            "dispose-engine",
            "release-before-close"
        ]
    );
    let answers: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Apply this fix? [y]es [n]o [a]ll [q]uit: "))
        .collect();
    assert_eq!(
        answers,
        ["y", "n", "y", "y", "n"],
        "scripted answers are echoed"
    );
    assert!(
        run.stdout.contains(
            "branding.py: dispose-engine: engine `engine` from `create_engine(...)` is never disposed\n\
             --- a/branding.py\n+++ b/branding.py\n"
        ),
        "each question shows that fix's own diff: {}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("fixed branding.py (3 fixes)\n"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        format!(
            "{TRACKER_WARNING}connfix: 1 file checked, 1 changed (3 fixes), 0 findings, 0 errors\n"
        )
    );
    let expected = source
        .replace(
            "    from src.db_compat import connect\n    return connect(use_pool=True)\n",
            "    from src.db_compat import connect\n    \
             from src.utils.connection_tracker import track_connection_acquired\n\n    \
             conn = connect(use_pool=True)\n    \
             # Track this connection acquisition\n    \
             context, track_start = track_connection_acquired(\"branding.py::get_db_connection\")\n    \
             conn._tracking_context = context\n    \
             conn._tracking_start = track_start\n    return conn\n",
        )
        .replace(
            "        if conn:\n            conn.close()\n",
            "        if conn:\n            \
             # Release tracking before closing connection\n            \
             if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n                \
             from src.utils.connection_tracker import track_connection_released\n                \
             track_connection_released(conn._tracking_context, conn._tracking_start)\n                \
             del conn._tracking_context, conn._tracking_start\n            \
             conn.close()\n",
        )
        .replace(
            "    engine = create_engine(DATABASE_URL)\n    conn = get_db_connection()\n    conn.close()\n    return \"ok\"\n",
            "    engine = create_engine(DATABASE_URL)\n    try:\n        conn = get_db_connection()\n        \
             conn.close()\n        return \"ok\"\n    finally:\n        engine.dispose()\n",
        );
    assert_ne!(expected, source);
    assert_eq!(read(dir.path(), "branding.py"), expected);
}

#[test]
fn interactive_all_accepts_the_rest_and_quit_declines_the_rest() {
    let files: &[(&str, &[u8])] = &[("a.py", LEAKY.as_bytes()), ("b.py", LEAKY.as_bytes())];
    let helper_only = |name: &str| {
        LEAKY_FIXED
            .replace("a.py::", &format!("{name}::"))
            .replace(
                "    if conn:\n        # Release tracking before closing connection\n        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n            from src.utils.connection_tracker import track_connection_released\n            track_connection_released(conn._tracking_context, conn._tracking_start)\n            del conn._tracking_context, conn._tracking_start\n        conn.close()\n",
                "    if conn: conn.close()\n",
            )
    };

    // `n` for a.py's helper, then `a`: everything after is applied unasked.
    let dir = tree(files);
    let run = connfix_with_input(dir.path(), &["apply", "-i"], "n\na\n");
    assert_eq!(
        questions(&run.stdout),
        ["tracked-helper", "release-before-close"]
    );
    assert!(
        run.stdout
            .ends_with("fixed a.py (1 fix)\nfixed b.py (2 fixes)\n"),
        "{}",
        run.stdout
    );
    assert_eq!(
        read(dir.path(), "b.py"),
        LEAKY_FIXED.replace("a.py::", "b.py::")
    );
    assert_eq!(
        read(dir.path(), "a.py"),
        LEAKY.replace(
            "    if conn: conn.close()\n",
            "    if conn:\n        # Release tracking before closing connection\n        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n            from src.utils.connection_tracker import track_connection_released\n            track_connection_released(conn._tracking_context, conn._tracking_start)\n            del conn._tracking_context, conn._tracking_start\n        conn.close()\n"
        )
    );

    // `y` for a.py's helper, then `q`: nothing else is asked or written.
    let dir = tree(files);
    let run = connfix_with_input(dir.path(), &["apply", "-i"], "y\nq\n");
    assert_eq!(run.code, 1);
    assert_eq!(
        questions(&run.stdout),
        ["tracked-helper", "release-before-close"]
    );
    assert!(
        run.stdout.ends_with("fixed a.py (1 fix)\n"),
        "{}",
        run.stdout
    );
    assert_eq!(read(dir.path(), "a.py"), helper_only("a.py"));
    assert_eq!(read(dir.path(), "b.py"), LEAKY);
    assert_eq!(
        run.stderr,
        format!(
            "{TRACKER_WARNING}connfix: 2 files checked, 1 changed (1 fix), 1 skipped, 0 findings, 0 errors\n"
        )
    );

    // The answers running out is a quit; unknown answers are asked again.
    let dir = tree(files);
    let run = connfix_with_input(dir.path(), &["apply", "-i"], "maybe\nn\n");
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.matches("Please answer y, n, a or q.\n").count(),
        1
    );
    assert!(
        run.stdout
            .ends_with("Apply this fix? [y]es [n]o [a]ll [q]uit: \n(no more answers: quitting)\n"),
        "{}",
        run.stdout
    );
    assert_eq!(read(dir.path(), "a.py"), LEAKY);
    assert_eq!(read(dir.path(), "b.py"), LEAKY);
    assert_eq!(
        run.stderr,
        "connfix: 2 files checked, 0 changed (0 fixes), 2 skipped, 0 findings, 0 errors\n"
    );
}

#[test]
fn json_gives_the_first_pass_edits_in_file_offsets() {
    let source = "\u{feff}def route():\n    conn = get_db_connection()\n    conn.close()\n    with get_db_connection() as c:\n        pass\n";
    let dir = tree(&[
        ("a.py", source.as_bytes()),
        ("bad.py", b"def get_db_connection(:\n"),
    ]);
    let run = connfix(dir.path(), &["check", "--json"]);
    assert_eq!(run.code, 2);
    let with = "`with get_db_connection()`: the connection's tracking is never released there, and a DB-API connection's `with` does not close it; bind it with `conn = get_db_connection()` and close it in a `finally`";
    let release = "# Release tracking before closing connection\\n    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\\n        from src.utils.connection_tracker import track_connection_released\\n        track_connection_released(conn._tracking_context, conn._tracking_start)\\n        del conn._tracking_context, conn._tracking_start\\n    conn.close()";
    assert_eq!(
        run.stdout,
        format!(
            "{{\"version\":1,\"files\":[\
             {{\"path\":\"a.py\",\"changed\":true,\"complete\":true,\"edits\":[\
             {{\"rule\":\"release-before-close\",\"fix\":1,\
             \"start\":{{\"line\":3,\"column\":5,\"offset\":51}},\"end\":{{\"line\":3,\"column\":17,\"offset\":63}},\
             \"replacement\":\"{release}\"}}],\
             \"findings\":[\
             {{\"rule\":\"release-before-close\",\"severity\":\"error\",\"message\":\"`conn` closed without releasing its connection tracking\",\
             \"start\":{{\"line\":3,\"column\":5,\"offset\":51}},\"fixable\":true,\"fix\":\"safe\"}},\
             {{\"rule\":\"with-does-not-close\",\"severity\":\"warning\",\"message\":\"{with}\",\
             \"start\":{{\"line\":4,\"column\":10,\"offset\":73}},\"fixable\":false,\"fix\":\"none\"}}],\"error\":null}},\
             {{\"path\":\"bad.py\",\"changed\":false,\"complete\":true,\"edits\":[],\"findings\":[],\
             \"error\":{{\"message\":\"syntax error: expected a parameter or the end of the parameter list; CPython would not compile this file either, so it is left unchanged: fix the syntax (or set `target_version` if the code is for a newer Python)\",\"line\":1,\"column\":23}}}}]}}\n"
        )
    );
    assert_eq!(
        run.stderr,
        "bad.py:1:23: error: syntax error: expected a parameter or the end of the parameter list; CPython would not compile this file either, so it is left unchanged: fix the syntax (or set `target_version` if the code is for a newer Python)\n\
         connfix: 1 file checked, 1 would change (1 fix), 1 finding, 1 error\n"
    );
}

#[test]
fn json_edits_applied_in_reverse_give_what_apply_writes() {
    let dir = tree(&[("a.py", LEAKY.as_bytes())]);
    let run = connfix(dir.path(), &["diff", "--json"]);
    assert_eq!(run.code, 1);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let file = &document["files"][0];
    assert_eq!(file["path"], "a.py");
    assert_eq!(file["complete"], true);
    let mut text = LEAKY.as_bytes().to_vec();
    let mut edits: Vec<&serde_json::Value> = file["edits"].as_array().unwrap().iter().collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e["start"]["offset"].as_u64().unwrap()));
    for edit in edits {
        let start = edit["start"]["offset"].as_u64().unwrap() as usize;
        let end = edit["end"]["offset"].as_u64().unwrap() as usize;
        let replacement = edit["replacement"].as_str().unwrap().as_bytes();
        text.splice(start..end, replacement.iter().copied());
    }
    assert_eq!(String::from_utf8(text).unwrap(), LEAKY_FIXED);
    assert_eq!(
        read(dir.path(), "a.py"),
        LEAKY,
        "diff --json writes nothing"
    );
}

#[test]
fn stdin_source_goes_to_stdout_fixed_under_its_name() {
    let dir = tree(&[]);
    let args = ["apply", "--stdin-filename", "src/routes/branding.py", "-"];
    let run = connfix_with_input(dir.path(), &args, LEAKY);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            1,
            LEAKY_FIXED.replace("a.py::", "branding.py::").as_str(),
            ""
        )
    );
    let run = connfix_with_input(dir.path(), &args, "x = 1\n");
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "x = 1\n", "")
    );

    // A source it cannot fix comes back unchanged, the error names it.
    let bad = "def get_db_connection(:\n";
    let run = connfix_with_input(dir.path(), &args, bad);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, bad);
    assert!(
        run.stderr
            .starts_with("src/routes/branding.py:1:23: error: syntax error"),
        "{}",
        run.stderr
    );

    let run = connfix_with_input(dir.path(), &["diff", "--stdin-filename", "x/a.py"], LEAKY);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("--- a/x/a.py\n+++ b/x/a.py\n"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stderr, "");

    let run = connfix_with_input(dir.path(), &["apply", "-"], LEAKY);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "connfix: error: `-` reads the source from standard input and needs --stdin-filename PATH (its name decides the helper's context string)\n"
    );
}

#[test]
fn completions_and_manual_page_come_from_the_command_line_definition() {
    let dir = tree(&[]);
    let bash = connfix(dir.path(), &["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.starts_with("_connfix() {\n"), "{}", bash.stdout);
    assert!(bash.stdout.contains("--stdin-filename"));
    let zsh = connfix(dir.path(), &["completions", "zsh"]);
    assert!(
        zsh.stdout.starts_with("#compdef connfix\n"),
        "{}",
        zsh.stdout
    );
    let fish = connfix(dir.path(), &["completions", "fish"]);
    assert!(
        fish.stdout
            .contains("complete -c connfix -n \"__fish_connfix_needs_command\" -f -a \"apply\""),
        "{}",
        fish.stdout
    );
    let man = connfix(dir.path(), &["man"]);
    assert_eq!(man.code, 0);
    assert!(man.stdout.contains(".TH connfix 1 "), "{}", man.stdout);
    assert!(man.stdout.contains("connfix\\-apply(1)") || man.stdout.contains("apply"));
}

#[test]
fn no_tracker_warning_when_the_module_is_there() {
    let dir = tree(&[
        (
            "app/src/utils/connection_tracker.py",
            b"def track_connection_released(c, s):\n    pass\n",
        ),
        ("app/src/routes/a.py", LEAKY.as_bytes()),
    ]);
    let run = connfix(dir.path(), &["apply", "app/src/routes/a.py"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "connfix: 1 file checked, 1 changed (2 fixes), 0 findings, 0 errors\n"
    );
}

/// A file is parsed only where a rule could match: `.query.` outside
/// `Model.query.method(` does not make a file worth parsing, so its syntax
/// error goes unreported, while a real `Model.query` call is parsed (and
/// the error reported).
#[test]
fn query_outside_the_orm_does_not_make_a_file_parsed() {
    let dir = tree(&[
        ("url.py", b"parts = url.query.split('&'\n"),
        ("models.py", b"users = User.query.filter_by(active=True\n"),
    ]);
    let run = connfix(dir.path(), &["check"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "models.py:1:29: error: syntax error: '(' was never closed; CPython would not compile this file either, so \
         it is left unchanged: fix the syntax (or set `target_version` if the code is for a newer Python)\n\
         connfix: 1 file checked, 0 would change (0 fixes), 0 findings, 1 error\n"
    );
}

/// A needle only in strings and comments cannot be part of a match: the
/// file is not parsed (so its syntax error goes unseen, as in a file with
/// no needle). A needle in code, or where the scan of the strings is unsure
/// (a quote inside an f-string's field), makes the file parsed.
#[test]
fn needles_only_in_strings_and_comments_do_not_make_a_file_parsed() {
    let dir = tree(&[
        (
            "docs.py",
            b"\"\"\"Example:\n\n    conn = get_db_connection()\n\"\"\"\n# conn = get_db_connection()\nx = f'{y}' 'get_db_connection()' (\n",
        ),
        ("code.py", b"s = 'x'\nconn = get_db_connection(\n"),
        ("unsure.py", b"s = f\"{d['k']}\" '''get_db_connection()'''\nx = (\n"),
    ]);
    let run = connfix(dir.path(), &["check"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    let syntax = "CPython would not compile this file either, so it is left unchanged: fix the syntax (or set \
                  `target_version` if the code is for a newer Python)";
    assert_eq!(
        run.stderr,
        format!(
            "code.py:2:25: error: syntax error: '(' was never closed; {syntax}\n\
             unsure.py:2:5: error: syntax error: '(' was never closed; {syntax}\n\
             connfix: 1 file checked, 0 would change (0 fixes), 0 findings, 2 errors\n"
        )
    );
}

/// A file name is text in the helper's context string, never code: a quote,
/// a backslash or a control character in it is escaped, and the written
/// file compiles (issue 13, class 5).
#[test]
fn odd_file_names_are_escaped_in_the_context_string() {
    let names = ["we\"ird.py", "a\\x9b.py", "c\u{9b}.py"];
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, LEAKY.as_bytes())).collect();
    let dir = tree(&files);
    let run = connfix(dir.path(), &["apply", "--quiet"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expected = [
        "\"we\\\"ird.py::get_db_connection\"",
        "\"a\\\\x9b.py::get_db_connection\"",
        "\"c\\x9b.py::get_db_connection\"",
    ];
    for (name, literal) in names.iter().zip(expected) {
        let fixed = read(dir.path(), name);
        assert_eq!(
            fixed,
            LEAKY_FIXED.replace("\"a.py::get_db_connection\"", literal),
            "{name}"
        );
        let compiled = std::process::Command::new("python3")
            .args(["-c", "import sys; compile(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1], 'exec')"])
            .arg(dir.path().join(name))
            .status()
            .unwrap();
        assert!(compiled.success(), "{name} does not compile");
    }
}

/// `check --json` lists the edits this run applies, no unsafe fix without
/// `--unsafe-fixes`, and is complete only when they give what `apply`
/// writes: not when fixes overlap and wait for a later pass (issue 13).
#[test]
fn json_lists_only_applied_edits_and_complete_means_complete() {
    let unsafe_only = "def route():\n    conn = get_db_connection()\n    rows = conn.cursor().fetchall()\n    conn.close()\n    return rows\n";
    let overlapping = "def health():\n    engine = create_engine(URL)\n    conn = get_db_connection()\n    conn.close()\n    return engine.url\n";
    let dir = tree(&[
        ("unsafe_only.py", unsafe_only.as_bytes()),
        ("overlapping.py", overlapping.as_bytes()),
    ]);
    let json = |args: &[&str]| {
        let run = connfix(dir.path(), args);
        let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        document["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let rules: Vec<String> = f["edits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["rule"].as_str().unwrap().to_string())
                    .collect();
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["complete"].clone(),
                    rules,
                )
            })
            .collect::<Vec<_>>()
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        json(&["check", "--json"]),
        [
            (
                "overlapping.py".into(),
                false.into(),
                strings(&["dispose-engine", "release-before-close"])
            ),
            (
                "unsafe_only.py".into(),
                true.into(),
                strings(&["release-before-close"])
            ),
        ]
    );
    let unsafe_run = json(&["check", "--json", "--unsafe-fixes"]);
    assert_eq!(
        unsafe_run[1],
        (
            "unsafe_only.py".into(),
            false.into(),
            strings(&["close-not-guaranteed", "release-before-close"])
        )
    );
}

/// tree-sitter-python 0.25 cannot read `return a, *b` (Python 3.8+): the
/// issue's Dash app was called a syntax error and exited 2. It is valid
/// Python, so it is no error: the function is left alone with a warning
/// naming its line, and the run exits as for any clean file.
#[test]
fn a_starred_return_is_valid_python_not_a_syntax_error() {
    let dir = tree(&[(
        "app.py",
        b"import dash\n\n\ndef update(n):\n    conn = get_db_connection()\n    conn.close()\n    return True, n, *([dash.no_update] * 6)\n",
    )]);
    let warning = "app.py:7:5: unparsed-region: tree-sitter cannot read this line, though Python's grammar \
                   allows it; connfix leaves lines 4-7 alone: check them for leaks by hand (warning)\n";
    let run = connfix(dir.path(), &["check"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            0,
            warning,
            "connfix: 1 file checked, 0 would change (0 fixes), 1 finding, 0 errors\n"
        )
    );
    let run = connfix(dir.path(), &["diff"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            0,
            "",
            format!(
                "{warning}connfix: 1 file checked, 0 would change (0 fixes), 1 finding, 0 errors\n"
            )
            .as_str()
        )
    );
    // The oldest target (ruff's spelling of the key) accepts it too: Python
    // 3.8 allowed the starred item.
    std::fs::write(
        dir.path().join("connfix.toml"),
        "target-version = \"py38\"\n",
    )
    .unwrap();
    assert_eq!(connfix(dir.path(), &["check"]).code, 0);
    // A `match` statement is a syntax error for Python 3.9: the judge says
    // so when the file would change (a file tree-sitter reads is judged
    // only then; `check` makes no fixed text, so it judges nothing).
    std::fs::write(
        dir.path().join("app.py"),
        "def f(x):\n    conn = get_db_connection()\n    match x:\n        case 1:\n            conn.close()\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("connfix.toml"),
        "target_version = \"py39\"\n",
    )
    .unwrap();
    let run = connfix(dir.path(), &["diff"]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    assert!(
        run.stderr.starts_with(
            "app.py:3:5: error: syntax error: cannot use `match` statement on Python 3.9 (syntax was added in Python 3.10); "
        ),
        "{}",
        run.stderr
    );
}

/// tree-sitter reads a Python 2 `print` statement; CPython does not. A file
/// with one and a leak to fix is not written: its fixed text is judged, the
/// judge rejects it, and the error is the original's own syntax error, in
/// CPython's words and at its place.
#[test]
fn a_python_2_file_with_a_fix_is_a_syntax_error_and_not_written() {
    let source =
        "def route():\n    conn = get_db_connection()\n    print \"closing\"\n    conn.close()\n";
    let dir = tree(&[("py2.py", source.as_bytes())]);
    for command in ["diff", "apply"] {
        let run = connfix(dir.path(), &[command]);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (2, ""),
            "{command}: {}",
            run.stderr
        );
        assert!(
            run.stderr.starts_with(
                "py2.py:3:5: error: syntax error: Missing parentheses in call to 'print'. Did you mean \
                 print(...)?; CPython would not compile this file either"
            ),
            "{command}: {}",
            run.stderr
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("py2.py")).unwrap(),
            source
        );
    }
}

/// The repository view: a caller learns from its helper's module, through
/// the import, what it gets. A `flask.g` connection is not the caller's to
/// close (no `never-closed`); a raw connection's close gets the registry's
/// release block; a helper of the same name elsewhere does not mislead it.
#[test]
fn callers_in_other_files_follow_their_helpers_through_imports() {
    let db = "import sqlite3\nfrom flask import g\n\n\n\
              def get_db_connection():\n    if \"db\" not in g:\n        g.db = sqlite3.connect(PATH)\n    return g.db\n\n\n\
              def close_db(e=None):\n    db = g.pop(\"db\", None)\n    if db is not None:\n        db.close()\n";
    let raw = "import psycopg2\n\n\ndef get_db_connection():\n    return psycopg2.connect(DSN)\n";
    let cached_caller = "from app.db import get_db_connection\n\n\n\
                         def count():\n    conn = get_db_connection()\n    return conn.execute(\"q\").fetchone()\n";
    let raw_caller = "from app import raw\n\n\n\
                      def count():\n    conn = raw.get_db_connection()\n    try:\n        return conn.cursor().fetchone()\n    finally:\n        conn.close()\n";
    let pooled = "def get_db_connection():\n    return POOL.getconn()\n\n\n\
                  def close_connection(conn):\n    conn.close()\n";
    let pooled_caller = "from app.pooled import close_connection\nfrom app.pooled import get_db_connection as gdc\n\n\n\
                         def count():\n    conn = gdc()\n    try:\n        return conn.cursor().fetchone()\n    finally:\n        close_connection(conn)\n";
    let dir = tree(&[
        ("app/pooled.py", pooled.as_bytes()),
        ("app/pooled_caller.py", pooled_caller.as_bytes()),
        ("app/db.py", db.as_bytes()),
        ("app/raw.py", raw.as_bytes()),
        ("app/cached_caller.py", cached_caller.as_bytes()),
        ("app/raw_caller.py", raw_caller.as_bytes()),
    ]);
    let run = connfix(
        dir.path(),
        &["check", "--quiet", "--select", "never-closed"],
    );
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    let run = connfix(dir.path(), &["apply", "--quiet"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "app/raw_caller.py"),
        "from app import raw\n\n\n\
         def count():\n    conn = raw.get_db_connection()\n    try:\n        return conn.cursor().fetchone()\n    finally:\n\
         \x20       # Release tracking before closing connection\n\
         \x20       import src.utils.connection_tracker as connection_tracker\n\
         \x20       if (tracking := connection_tracker.__dict__.get(\"tracked_connections\", {}).pop(id(conn), None)):\n\
         \x20           connection_tracker.track_connection_released(*tracking)\n\
         \x20       conn.close()\n"
    );
    assert_eq!(read(dir.path(), "app/cached_caller.py"), cached_caller);
    // A function of another module that closes its parameter, imported:
    // the release goes before the call, through the alias too.
    assert_eq!(
        read(dir.path(), "app/pooled_caller.py"),
        "from app.pooled import close_connection\nfrom app.pooled import get_db_connection as gdc\n\n\n\
         def count():\n    conn = gdc()\n    try:\n        return conn.cursor().fetchone()\n    finally:\n\
         \x20       # Release tracking before closing connection\n\
         \x20       import src.utils.connection_tracker as connection_tracker\n\
         \x20       if (tracking := connection_tracker.__dict__.get(\"tracked_connections\", {}).pop(id(conn), None)):\n\
         \x20           connection_tracker.track_connection_released(*tracking)\n\
         \x20       close_connection(conn)\n"
    );
    assert!(read(dir.path(), "app/db.py").contains(
        "        g.db = sqlite3.connect(PATH)\n        # Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)\n"
    ));
    let again = connfix(dir.path(), &["apply", "--quiet"]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, ""),
        "{}",
        again.stderr
    );
}

/// Without `--config`, each file takes the nearest configuration above it,
/// as ruff does: two services of a monorepo, each with its own helper name
/// and tracker; a file with none above it takes the working folder's.
#[test]
fn each_file_takes_the_nearest_configuration_above_it() {
    let helper = |name: &str| format!("def {name}():\n    return connect(use_pool=True)\n");
    let dir = tree(&[
        (
            "svc_a/connfix.toml",
            b"helpers = [\"get_conn\"]\ntracker_module = \"svc_a.tracker\"\n",
        ),
        ("svc_a/db.py", helper("get_conn").as_bytes()),
        (
            "svc_b/pyproject.toml",
            b"[tool.connfix]\nhelpers = [\"open_db\"]\n",
        ),
        ("svc_b/db.py", helper("open_db").as_bytes()),
        ("tools/db.py", helper("get_db_connection").as_bytes()),
    ]);
    let run = connfix(dir.path(), &["check", "--quiet"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "would fix svc_a/db.py (1 fix)\nwould fix svc_b/db.py (1 fix)\nwould fix tools/db.py (1 fix)\n"
    );
    // `--config` applies one file to all.
    let run = connfix(
        dir.path(),
        &["check", "--quiet", "--config", "svc_b/pyproject.toml"],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, "would fix svc_b/db.py (1 fix)\n"),
        "{}",
        run.stderr
    );
    let run = connfix(dir.path(), &["apply", "--quiet"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        read(dir.path(), "svc_a/db.py")
            .contains("from svc_a.tracker import track_connection_acquired")
    );
    assert!(read(dir.path(), "tools/db.py").contains("from src.utils.connection_tracker import"));
    let again = connfix(dir.path(), &["apply", "--quiet"]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, ""),
        "{}",
        again.stderr
    );
}
