//! Wrapping statements in `try:` / `finally:`, shared by every rule that
//! makes a cleanup run on all paths. Builds one edit; lines that begin inside
//! a multi-line string keep their bytes, blank lines stay blank.

use tree_sitter::Node;

use crate::edit::Edit;
use crate::indent::{indent_region, shifts_uniformly};
use crate::source::{SourceFile, line_end, line_indent, line_start};
use crate::syntax::{self, KindName};

/// What the `finally:` runs.
pub enum Finally<'t> {
    /// A new line of code (`engine.dispose()`).
    New(String),
    /// The statements from `first` to `last`, moved out of the block into the
    /// `finally` (a bare `engine.dispose()`, a `conn.close()` with its
    /// release block).
    Move { first: Node<'t>, last: Node<'t> },
}

/// Wrap the statements that follow `after` in its block, through `last`
/// (or up to the moved statements), in `try:`, and add `finally:`. Callers
/// check that every statement involved starts and ends its own line.
///
/// None where deepening the lines could change what they mean: a statement
/// of the block at another indentation than `after`'s (CPython rejects the
/// file, tree-sitter reads on, and a `try:` above it would make it valid),
/// or spaces put in front of a tab, which would not move its tab stop.
pub fn try_finally(file: &SourceFile, after: Node, last: Node, finally: Finally) -> Option<Edit> {
    let (src, style) = (file.text.as_slice(), &file.style);
    let base = line_indent(src, after.start_byte());
    let unit = style.unit_after(base);
    let start = line_end(src, after.end_byte());
    let strings = syntax::multiline_strings(after.parent().unwrap_or(after));
    let nl = style.newline;
    let (body_end, end, finally_text) = match finally {
        Finally::New(code) => {
            let end = line_end(src, last.end_byte());
            (end, end, [base, unit, code.as_bytes()].concat())
        }
        Finally::Move {
            first,
            last: moved_last,
        } => {
            let first_line = line_start(src, first.start_byte());
            let mut before = first_line.saturating_sub(1); // the '\n' ending the line before
            if before > 0 && src[before - 1] == b'\r' {
                before -= 1;
            }
            let end = line_end(src, moved_last.end_byte());
            (
                before.max(start),
                end,
                indent_region(src, first_line..end, unit, &strings),
            )
        }
    };
    let mut statement = after.next_named_sibling();
    while let Some(s) = statement.filter(|s| s.start_byte() < end) {
        if s.kind_name() != "comment" && line_indent(src, s.start_byte()) != base {
            return None;
        }
        statement = s.next_named_sibling();
    }
    if !shifts_uniformly(src, start..end, unit, &strings) {
        return None;
    }
    let mut text = [nl, base, b"try:"].concat();
    text.extend(indent_region(src, start..body_end, unit, &strings));
    text.extend([nl, base, b"finally:", nl].concat());
    text.extend(finally_text);
    Some(Edit::replace(start..end, text))
}
