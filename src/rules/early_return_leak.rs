// The documentation, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/early-return-leak.md")]

use tree_sitter::Node;

use crate::config::Config;
use crate::rules::connections::{Acquisition, UseKind};
use crate::rules::{Code, Context, Diagnostic, Rule};
use crate::semantic::ExitKind;
use crate::syntax::KindName;

pub const ID: Code = Code::EarlyReturnLeak;

pub struct EarlyReturnLeak {
    helpers: Vec<String>,
}

impl EarlyReturnLeak {
    pub fn new(config: &Config) -> EarlyReturnLeak {
        EarlyReturnLeak {
            helpers: config.helpers.clone(),
        }
    }
}

impl Rule for EarlyReturnLeak {
    fn codes(&self) -> &'static [Code] {
        &[ID]
    }

    fn needles(&self) -> Vec<String> {
        self.helpers.clone()
    }

    fn check(&self, cx: &Context) -> Vec<Diagnostic> {
        check(cx.acquisitions())
    }
}

/// The findings among the file's acquisitions.
fn check(acquisitions: &[Acquisition]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for a in acquisitions {
        if a.handled() || !a.has(|k| k == UseKind::Close { finally: false }) {
            continue;
        }
        let Some(last_close) = a.closes().map(|u| u.node.start_byte()).max() else {
            continue;
        };
        // The exits between the acquisition and the last close, but a
        // `raise` that a `try` around it catches: it does not leave.
        let exits = a.model.exits.iter().filter(|e| {
            let at = e.node.start_byte();
            at > a.statement.end_byte() && at < last_close && !a.model.caught(e)
        });
        for exit in exits.filter(|e| !closed_before(e.node, a) && !finally_closes(e.node, a)) {
            let keyword = match exit.kind {
                ExitKind::Raise => "raise",
                ExitKind::Return => "return",
            };
            let exit = exit.node;
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
