//! Unified diffs of a file's old and new bytes, made by `similar`, with
//! `--- a/<path>` / `+++ b/<path>` headers so `git apply` and `patch -p1`
//! take them. Bytes are written as they are (CRLF, other encodings).

use std::io::Write;

use similar::{ChangeTag, TextDiff};

const RED: &[u8] = b"\x1b[31m";
const GREEN: &[u8] = b"\x1b[32m";
const CYAN: &[u8] = b"\x1b[36m";
const BOLD: &[u8] = b"\x1b[1m";
const RESET: &[u8] = b"\x1b[0m";

pub fn unified(path: &str, old: &[u8], new: &[u8], color: bool) -> Vec<u8> {
    let diff = TextDiff::from_lines(old, new);
    let mut out = Vec::new();
    let paint = |out: &mut Vec<u8>, code: &[u8]| {
        if color {
            out.extend_from_slice(code);
        }
    };
    let mut unified = diff.unified_diff();
    unified.context_radius(3).missing_newline_hint(true);
    for (i, hunk) in unified.iter_hunks().enumerate() {
        if i == 0 {
            paint(&mut out, BOLD);
            let _ = write!(out, "--- a/{path}\n+++ b/{path}\n");
            paint(&mut out, RESET);
        }
        paint(&mut out, CYAN);
        let _ = writeln!(out, "{}", hunk.header());
        paint(&mut out, RESET);
        for change in hunk.iter_changes() {
            let (sign, code) = match change.tag() {
                ChangeTag::Delete => (b'-', Some(RED)),
                ChangeTag::Insert => (b'+', Some(GREEN)),
                ChangeTag::Equal => (b' ', None),
            };
            if let Some(code) = code {
                paint(&mut out, code);
            }
            out.push(sign);
            let value = change.value();
            let line = value.strip_suffix(b"\n").unwrap_or(value);
            out.extend_from_slice(line);
            if code.is_some() {
                paint(&mut out, RESET);
            }
            out.push(b'\n');
            if change.missing_newline() {
                out.extend_from_slice(b"\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_hunks_and_crlf_kept() {
        let old = b"a\r\nb\r\nc\r\n";
        let new = b"a\r\nB\r\nc\r\n";
        assert_eq!(
            String::from_utf8(unified("x/y.py", old, new, false)).unwrap(),
            "--- a/x/y.py\n+++ b/x/y.py\n@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n"
        );
    }

    #[test]
    fn missing_final_newline_is_marked() {
        assert_eq!(
            String::from_utf8(unified("y.py", b"a\nb", b"a\nc", false)).unwrap(),
            "--- a/y.py\n+++ b/y.py\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn no_change_no_output() {
        assert!(unified("y.py", b"a\n", b"a\n", true).is_empty());
    }
}
