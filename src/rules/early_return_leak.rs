// The documentation, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/early-return-leak.md")]

use tree_sitter::Node;

use crate::rules::Diagnostic;
use crate::rules::connections::{Acquisition, UseKind};
use crate::syntax::{self, FIELDS, FieldChild, KindName};

pub const ID: &str = "early-return-leak";

/// The findings among the file's acquisitions.
pub fn check(acquisitions: &[Acquisition]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for a in acquisitions {
        if a.handled() || !a.has(|k| k == UseKind::Close { finally: false }) {
            continue;
        }
        let Some(last_close) = a.closes().map(|u| u.node.start_byte()).max() else {
            continue;
        };
        let Some(body) = a.scope.field(FIELDS.body) else {
            continue;
        };
        let mut exits = Vec::new();
        syntax::walk_scope(body, false, |n| {
            let between = n.start_byte() > a.statement.end_byte() && n.start_byte() < last_close;
            if between && matches!(n.kind_name(), "return_statement" | "raise_statement") {
                exits.push(n);
            }
        });
        for exit in exits
            .into_iter()
            .filter(|e| !closed_before(*e, a) && !finally_closes(*e, a))
        {
            let keyword = if exit.kind_name() == "raise_statement" {
                "raise"
            } else {
                "return"
            };
            let close_line = a
                .closes()
                .map(|u| u.node.start_position().row + 1)
                .max()
                .unwrap_or(0);
            out.push(Diagnostic::new(
                ID,
                exit,
                format!(
                    "this `{keyword}` leaves `{}` (acquired on line {}) open: the close on line {close_line} \
                     is not reached; close it first, or close it in a `finally`",
                    a.name,
                    a.statement.start_position().row + 1
                ),
            ));
        }
    }
    out
}

/// Whether a statement before `exit` on its way up to the scope, after the
/// acquisition, closes the connection.
fn closed_before(exit: Node, a: &Acquisition) -> bool {
    let mut at = exit;
    while at != a.scope {
        let mut sibling = at.prev_named_sibling();
        while let Some(s) = sibling.filter(|s| s.start_byte() > a.statement.end_byte()) {
            if a.closes()
                .any(|u| s.start_byte() <= u.node.start_byte() && u.node.end_byte() <= s.end_byte())
            {
                return true;
            }
            sibling = s.prev_named_sibling();
        }
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    false
}

/// Whether a `try` around `exit` closes the connection in its `finally`.
fn finally_closes(exit: Node, a: &Acquisition) -> bool {
    let mut at = exit;
    while let Some(parent) = at.parent() {
        if parent == a.scope {
            break;
        }
        if parent.kind_name() == "try_statement" && at.kind_name() != "finally_clause" {
            let mut cursor = parent.walk();
            let finally = parent
                .named_children(&mut cursor)
                .find(|c| c.kind_name() == "finally_clause");
            if finally.is_some_and(|f| {
                a.closes().any(|u| {
                    f.start_byte() <= u.node.start_byte() && u.node.end_byte() <= f.end_byte()
                })
            }) {
                return true;
            }
        }
        at = parent;
    }
    false
}
