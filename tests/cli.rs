//! The command line as users meet it: exit codes, messages, per-file apply,
//! bad input, and `diff | git apply` giving what `apply` gives.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

const LEAKY: &str = "def get_db_connection():\n    from src.db_compat import connect\n    return connect(use_pool=True)\n\n\ndef route():\n    conn = get_db_connection()\n    if conn: conn.close()\n";

const LEAKY_FIXED: &str = "def get_db_connection():\n    from src.db_compat import connect\n    from src.utils.connection_tracker import track_connection_acquired\n\n    # Track this connection acquisition\n    context, track_start = track_connection_acquired(\"a.py::get_db_connection\")\n    conn = connect(use_pool=True)\n    conn._tracking_context = context\n    conn._tracking_start = track_start\n    return conn\n\n\ndef route():\n    conn = get_db_connection()\n    if conn:\n        # Release tracking before closing connection\n        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n            from src.utils.connection_tracker import track_connection_released\n            track_connection_released(conn._tracking_context, conn._tracking_start)\n        conn.close()\n";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn connfix(dir: &Path, args: &[&str]) -> Run {
    let output = Command::cargo_bin("connfix")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
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
        "connfix: 2 files checked, 1 changed (2 fixes), 0 findings, 0 errors\n"
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
            .starts_with("--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -1,8 +1,20 @@\n"),
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
         syntax.py:1:23: error: syntax error: the Python parser (tree-sitter) cannot read this file, so it is left unchanged; fix the syntax, or if the code is valid Python the parser is at fault: exclude the file\n\
         utf16.py: error: the file is UTF-16 or UTF-32, which connfix does not read; convert it to UTF-8\n\
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
        "connfix: error: unknown rule `no-such-rule`; the rules are: tracked-helper, unrecognised-helper, untrackable-connection, release-before-close, close-in-expression, dispose-engine, engine-escapes, module-engine, never-closed, early-return-leak, close-not-guaranteed, with-does-not-close, orm-bypass\n"
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
