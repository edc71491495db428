//! Bad and hostile input at the command line: every case ends in a clear
//! message or a clean result, never a panic, never a half-written file. The
//! README's table of bad-input cases points at these tests.

use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;

const LEAKY: &str = "def route():\n    conn = get_db_connection()\n    conn.close()\n";
const LEAKY_FIXED: &str = "def route():\n    conn = get_db_connection()\n    # Release tracking before closing connection\n    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n        from src.utils.connection_tracker import track_connection_released\n        track_connection_released(conn._tracking_context, conn._tracking_start)\n        del conn._tracking_context, conn._tracking_start\n    conn.close()\n";

fn connfix(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::cargo_bin("connfix")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_20_mb_file_is_refused_quickly_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = "x = 1  # filler\n".repeat((20 << 20) / 16);
    text.push_str(LEAKY);
    std::fs::write(dir.path().join("big.py"), &text).unwrap();
    std::fs::write(dir.path().join("small.py"), LEAKY).unwrap();
    let (code, stdout, stderr) = connfix(dir.path(), &["apply", "--quiet"]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "fixed small.py (1 fix)\n");
    assert_eq!(
        stderr,
        "big.py: error: the file is 20481 KiB, over the limit of 8192 KiB (max_file_kib); it is left unchanged (raise max_file_kib to process it)\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("big.py")).unwrap(),
        text
    );
}

#[test]
fn ten_thousand_deep_nesting_does_not_overflow_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 10_000;
    let expression = format!(
        "def f():\n    conn = get_db_connection({}1{})\n    conn.close()\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    // Statement nesting costs its indentation on every line: 1,000 levels
    // at one space a level (CPython stops at 100).
    let levels = 1_000;
    let mut blocks = String::from("def g():\n conn = get_db_connection()\n");
    for level in 1..=levels {
        blocks.push_str(&" ".repeat(level));
        blocks.push_str("if conn:\n");
    }
    blocks.push_str(&" ".repeat(levels + 1));
    blocks.push_str("conn.close()\n");
    std::fs::write(dir.path().join("expression.py"), &expression).unwrap();
    std::fs::write(dir.path().join("blocks.py"), &blocks).unwrap();
    // Both are too deep for CPython (100 levels of indentation, 200 open
    // brackets): after the rules walked them, the judge says so, at the
    // places CPython 3.11 names, and neither file is touched.
    let (code, stdout, stderr) = connfix(dir.path(), &["apply", "--quiet"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "blocks.py:102:1: error: syntax error: too many levels of indentation; {TO_DO}\n\
             expression.py:2:229: error: syntax error: too many nested parentheses; {TO_DO}\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("blocks.py")).unwrap(),
        blocks
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("expression.py")).unwrap(),
        expression
    );
    // Within CPython's limits, the expression is fixed.
    let expression = expression
        .replace(&"(".repeat(depth), &"(".repeat(199))
        .replace(&")".repeat(depth), &")".repeat(199));
    std::fs::write(dir.path().join("expression.py"), &expression).unwrap();
    let (_, stdout, _) = connfix(dir.path(), &["apply", "--quiet", "expression.py"]);
    assert_eq!(stdout, "fixed expression.py (1 fix)\n");
    let fixed = std::fs::read_to_string(dir.path().join("expression.py")).unwrap();
    assert!(fixed.contains("track_connection_released(conn._tracking_context"));
}

const TO_DO: &str = "CPython would not compile this file either, so it is left unchanged: fix the syntax \
                     (or set `target_version` if the code is for a newer Python)";

#[test]
fn symlinks_leaving_the_tree_are_not_followed_while_walking() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.py"), LEAKY).unwrap();
    std::fs::create_dir(outside.path().join("pkg")).unwrap();
    std::fs::write(outside.path().join("pkg/mod.py"), LEAKY).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.py"), dir.path().join("link.py"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path().join("pkg"), dir.path().join("pkg")).unwrap();
    let (code, stdout, _) = connfix(dir.path(), &["apply", "--quiet"]);
    assert_eq!((code, stdout.as_str()), (0, ""));
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.py")).unwrap(),
        LEAKY
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("pkg/mod.py")).unwrap(),
        LEAKY
    );
    // Named explicitly, a link is processed, and written through to its target.
    let (code, stdout, _) = connfix(dir.path(), &["apply", "--quiet", "link.py"]);
    assert_eq!((code, stdout.as_str()), (1, "fixed link.py (1 fix)\n"));
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.py")).unwrap(),
        LEAKY_FIXED
    );
    assert!(
        std::fs::symlink_metadata(dir.path().join("link.py"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_folder_named_like_a_file_and_a_read_only_folder_are_errors() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("x.py")).unwrap();
    let (code, _, stderr) = connfix(dir.path(), &["check", "--quiet", "x.py/"]);
    assert_eq!(
        (code, stderr.as_str()),
        (0, ""),
        "a folder named x.py is walked, and is empty"
    );

    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("a.py"), LEAKY).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let (code, _, stderr) = connfix(dir.path(), &["apply", "--quiet", "locked"]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("locked/a.py: error: its folder "),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "is read-only; the file is left unchanged (make the folder writable to apply the fix)"
        ),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(locked.join("a.py")).unwrap(), LEAKY);
}

#[test]
fn an_interrupted_apply_leaves_every_file_whole_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = 3000;
    for i in 0..files {
        std::fs::write(dir.path().join(format!("m{i:04}.py")), LEAKY).unwrap();
    }
    let child = Command::cargo_bin("connfix")
        .unwrap()
        .current_dir(dir.path())
        .args(["apply", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().unwrap();
    let code = output.status.code();
    assert!(
        matches!(code, Some(1) | Some(2)),
        "{code:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut fixed = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".py") && name.starts_with('m'),
            "left behind: {name}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text == LEAKY || text == LEAKY_FIXED,
            "{name} is half-written"
        );
        fixed += usize::from(text == LEAKY_FIXED);
    }
    if code == Some(2) {
        assert!(String::from_utf8_lossy(&output.stderr).contains("connfix: interrupted"));
        assert!(fixed < files);
    }
}

#[test]
fn an_unreadable_file_is_an_error_and_the_rest_are_processed() {
    // Permission bits do not stop root (CI runs as root): a file whose read
    // fails whoever reads it stands in for an unreadable one.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.py"), LEAKY).unwrap();
    let (code, stdout, stderr) =
        connfix(dir.path(), &["check", "--quiet", "/proc/self/mem", "a.py"]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "would fix a.py (1 fix)\n");
    assert_eq!(
        stderr,
        "/proc/self/mem: error: cannot read the file: Input/output error\n"
    );
}

#[test]
fn an_unexpected_indent_tree_sitter_reads_is_an_error_even_under_unsafe_fixes() {
    // CPython rejects line 4 (an unexpected indent), which tree-sitter reads
    // on. Wrapping the lines after the acquisition in `try:` would have made
    // the file valid: another program than the one written. (Found by the
    // fuzz test in CI.)
    let input = "def route():\n    conn = get_db_connection()\n    # Release tracking before closing connection\n\t    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n          del conn._tracking_context, conn._tracking_start\n    conn.close()";
    unchanged_with_its_syntax_error("route.py", input, "4:1", "unexpected indentation");
}

#[test]
fn fixes_that_do_not_settle_on_a_file_cpython_rejects_give_its_syntax_error() {
    // Line 10 mixes a tab and spaces inconsistently (CPython: TabError);
    // tree-sitter reads a nested function there, and the release fixes never
    // settle. The file's own error is the message, not an internal error.
    // (Found by the fuzz test, seed 39.)
    let input = "from src.utils.connection_tracker import track_connection_released\n\n\ndef closed_here_and_in_a_callback(register):\n    conn = get_db_connection()\n    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n        track_connection_released(conn._tracking_context, conn._tracking_start)\n        conn.close()\n\n\t    def cleanup():\n    conn.close()\n    register(cleanup)\n\n\ndef closed_once():\n    conn = get_db_connection()\n    if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n        track_connection_released(conn._tracking_context, conn._tracking_start)\n    conn.close()\n";
    unchanged_with_its_syntax_error(
        "callback.py",
        input,
        "10:1",
        "inconsistent use of tabs and spaces in indentation",
    );
}

/// `apply --unsafe-fixes` on `input`, written as `name`, exits 2 with the
/// file's own syntax error (`error`, at line:column `at`), and leaves the
/// file as it was.
fn unchanged_with_its_syntax_error(name: &str, input: &str, at: &str, error: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), input).unwrap();
    let (code, stdout, stderr) = connfix(dir.path(), &["apply", "--quiet", "--unsafe-fixes", name]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            2,
            "",
            format!("{name}:{at}: error: syntax error: {error}; {TO_DO}\n").as_str()
        )
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(name)).unwrap(),
        input
    );
}
