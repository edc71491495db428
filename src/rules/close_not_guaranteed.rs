// The documentation, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/close-not-guaranteed.md")]

use tree_sitter::Node;

use crate::config::Config;
use crate::edit::Fix;
use crate::rules::connections::{Acquisition, UseKind};
use crate::rules::{Code, Context, Diagnostic, Fixes, Rule};
use crate::source::SourceFile;
use crate::syntax::{self, FIELDS, FieldChild, KindName, statements, text};
use crate::wrap::{Finally, try_finally};

pub const ID: Code = Code::CloseNotGuaranteed;

pub struct CloseNotGuaranteed {
    config: Config,
}

impl CloseNotGuaranteed {
    pub fn new(config: &Config) -> CloseNotGuaranteed {
        CloseNotGuaranteed {
            config: config.clone(),
        }
    }
}

impl Rule for CloseNotGuaranteed {
    fn codes(&self) -> &'static [Code] {
        &[ID]
    }

    fn needles(&self) -> Vec<String> {
        self.config.helpers.clone()
    }

    fn fixes(&self) -> Fixes {
        Fixes::Unsafe
    }

    fn check(&self, cx: &Context) -> Vec<Diagnostic> {
        self.findings(cx.file, cx.acquisitions())
    }
}

impl CloseNotGuaranteed {
    /// The findings among the file's acquisitions.
    fn findings(&self, file: &SourceFile, acquisitions: &[Acquisition]) -> Vec<Diagnostic> {
        let src = file.text.as_slice();
        let mut out = Vec::new();
        for a in acquisitions {
            if a.handled()
                || !a.has(|k| k == UseKind::Close { finally: false })
                || self.closed_at_once(a, src)
            {
                continue;
            }
            let line = |n: Node| n.start_position().row + 1;
            let closes: Vec<String> = a.closes().map(|u| line(u.node).to_string()).collect();
            let in_finally = a.closes().find(|u| {
                let mut at = u.node;
                while let Some(p) = at.parent().filter(|p| *p != a.scope) {
                    if p.kind_name() == "finally_clause" {
                        return true;
                    }
                    at = p;
                }
                false
            });
            let message = match in_finally {
                Some(close) => format!(
                    "`{}` (line {}) is closed in the `finally` on line {}, but the statements between the \
                     acquisition and that `try` can raise first and leak it; move them into the `try`",
                    a.name,
                    line(a.statement),
                    line(close.node)
                ),
                None => format!(
                    "`{}` (line {}) is closed on line{} {} outside any `finally`: an exception or return \
                     before that leaks the connection; close it in a `finally`",
                    a.name,
                    line(a.statement),
                    if closes.len() == 1 { "" } else { "s" },
                    closes.join(", ")
                ),
            };
            out.push(match self.wrap(file, a, src) {
                Some(fix) => Diagnostic::fix(ID, a.statement, message, fix),
                None => Diagnostic::new(ID, a.statement, message),
            });
        }
        out
    }
}

impl CloseNotGuaranteed {
    /// The unsafe fix, where the shape allows it.
    fn wrap(&self, file: &SourceFile, a: &Acquisition, src: &[u8]) -> Option<Fix> {
        let closes: Vec<_> = a.closes().collect();
        let [close] = closes.as_slice() else {
            return None;
        };
        let close_statement = syntax::enclosing_statement(close.node)?;
        let block = a.statement.parent()?;
        let siblings = statements(block);
        let at = siblings.iter().position(|s| *s == a.statement)?;
        // The sibling of the acquisition that holds the close.
        let mut holder = close_statement;
        while holder.parent()? != block {
            holder = holder.parent()?;
        }
        let held = siblings
            .iter()
            .position(|s| *s == holder)
            .filter(|h| *h > at)?;
        if holder != close_statement && !self.closes_only(holder, close_statement, &a.name, src) {
            return None;
        }
        let first = match siblings[held - 1] {
            release if held - 1 > at && self.is_release(release, &a.name, src) => held - 1,
            _ => held,
        };
        if first == at + 1 || (block.kind_name() == "block" && syntax::is_inline_block(block)) {
            return None;
        }
        let edges = [a.statement, siblings[first], holder, siblings[first - 1]];
        if !edges.iter().all(|s| syntax::own_lines(*s, src)) {
            return None;
        }
        // A comment on the line above the moved statements goes with them.
        let mut start = siblings[first];
        while let Some(comment) = start.prev_named_sibling().filter(|c| {
            c.kind_name() == "comment"
                && c.end_position().row + 1 == start.start_position().row
                && syntax::starts_line(*c, src)
        }) {
            start = comment;
        }
        let finally = Finally::Move {
            first: start,
            last: holder,
        };
        let edit = try_finally(file, a.statement, siblings[first - 1], finally)?;
        Some(Fix::new(vec![edit]).unsafe_())
    }

    /// Whether the statement after the acquisition (past any release block)
    /// closes it: nothing in between can raise.
    fn closed_at_once(&self, a: &Acquisition, src: &[u8]) -> bool {
        let Some(first) = a.closes().next() else {
            return false;
        };
        let Some(close) = syntax::enclosing_statement(first.node) else {
            return false;
        };
        let mut next = syntax::next_statement(a.statement);
        while let Some(s) = next.filter(|s| self.is_release(*s, &a.name, src)) {
            next = syntax::next_statement(s);
        }
        next.is_some_and(|s| s == close || self.closes_only(s, close, &a.name, src))
    }

    /// `if conn: [release block] conn.close()` with nothing else: the
    /// condition tests the connection itself (`conn`, `conn is not None`),
    /// so the close runs whenever there is a connection to close.
    fn closes_only(&self, holder: Node, close: Node, name: &str, src: &[u8]) -> bool {
        let tests_connection = holder.field(FIELDS.condition).is_some_and(|c| {
            let condition = text(c, src);
            condition == name.as_bytes() || condition == format!("{name} is not None").as_bytes()
        });
        holder.kind_name() == "if_statement"
            && tests_connection
            && holder.field(FIELDS.alternative).is_none()
            && holder.field(FIELDS.consequence).is_some_and(|body| {
                statements(body)
                    .iter()
                    .all(|s| *s == close || self.is_release(*s, name, src))
            })
    }

    /// A release block for `name` (`templates::is_release_block`).
    fn is_release(&self, statement: Node, name: &str, src: &[u8]) -> bool {
        crate::templates::is_release_block(statement, name.as_bytes(), src)
    }
}
