// The documentation, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/with-does-not-close.md")]

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::rules::connections::UseKind;
use crate::rules::{Code, Context, Diagnostic, Rule, last_parts};
use crate::source::SourceFile;
use crate::syntax::{
    self, FIELDS, FieldChild, KindName, LazyQuery, calls_one_of, statement_assignment, statements,
    text,
};

pub const ID: Code = Code::WithDoesNotClose;
const QUERY_FILE: &str = "with-does-not-close.scm";

pub struct WithDoesNotClose {
    query: LazyQuery,
    config: Config,
}

impl WithDoesNotClose {
    pub fn new(config: &Config) -> Result<WithDoesNotClose> {
        Ok(WithDoesNotClose {
            query: LazyQuery::new(
                QUERY_FILE,
                include_str!("../../queries/with-does-not-close.scm"),
                "with_statement",
            )
            .shaped(with_shape),
            config: config.clone(),
        })
    }

    /// What the helper `name` defined in this file hands out.
    fn helper_kind(&self, file: &SourceFile, name: &[u8]) -> HelperKind {
        let src = file.text.as_slice();
        let mut found = None;
        syntax::walk_scope(file.tree.root_node(), true, |n| {
            if n.kind_name() == "function_definition"
                && n.field(FIELDS.name).is_some_and(|m| text(m, src) == name)
            {
                let body = n.field(FIELDS.body);
                let dbapi = body.is_some_and(|b| {
                    let stmts = statements(b);
                    stmts.iter().any(|s| {
                        let value = match s.kind_name() {
                            "return_statement" => s.named_child(0),
                            _ => statement_assignment(*s).and_then(|a| a.field(FIELDS.right)),
                        };
                        value.is_some_and(|v| {
                            calls_one_of(v, &self.config.dbapi_connects, src).is_some()
                        })
                    })
                });
                found = Some(found.unwrap_or(false) || dbapi);
            }
        });
        match found {
            Some(true) => HelperKind::DbApi,
            _ => HelperKind::Unknown,
        }
    }

    /// Whether `name` at `node` holds a DB-API connection bound in its
    /// function before it.
    fn bound_to_dbapi(&self, node: Node, name: &[u8], src: &[u8]) -> bool {
        let Some(function) = syntax::enclosing_function(node) else {
            return false;
        };
        let Some(body) = function.field(FIELDS.body) else {
            return false;
        };
        let mut bound = false;
        syntax::walk_scope(body, false, |n| {
            if n.kind_name() == "assignment" && n.end_byte() < node.start_byte() {
                let left = n.field(FIELDS.left).map(|l| text(l, src));
                if left == Some(name) {
                    bound = n.field(FIELDS.right).is_some_and(|r| {
                        calls_one_of(r, &self.config.dbapi_connects, src).is_some()
                    });
                }
            }
        });
        bound
    }
}

/// `queries/with-does-not-close.scm` in Rust: the value of each item of
/// the `with`.
fn with_shape<'t>(n: Node<'t>, _: &[u8]) -> Vec<syntax::Captures<'t>> {
    let mut out = Vec::new();
    let mut cursor = n.walk();
    for clause in n.named_children(&mut cursor) {
        if clause.kind_name() != "with_clause" {
            continue;
        }
        let mut items = clause.walk();
        for item in clause.named_children(&mut items) {
            if item.kind_name() == "with_item"
                && let Some(value) = item.field(FIELDS.value).filter(|v| v.is_named())
            {
                out.push(vec![("value", value)]);
            }
        }
    }
    out
}

/// What a helper used in `with` hands out (a generator or
/// `@contextmanager` helper, which closes what it yields, is left before).
enum HelperKind {
    /// A DB-API connection, whose `with` does not close it.
    DbApi,
    /// Not defined in this file, or something else.
    Unknown,
}

const CLOSING: &str =
    "wrap it as `with contextlib.closing(...) as conn:`, or close it in a `finally`";

impl Rule for WithDoesNotClose {
    fn codes(&self) -> &'static [Code] {
        &[ID]
    }

    fn needles(&self) -> Vec<String> {
        let mut needles = self.config.helpers.clone();
        needles.extend(self.config.dbapi_connects.iter().cloned());
        needles
    }

    /// The findings in the file; the acquisitions tell which names hold a
    /// helper connection.
    fn check(&self, cx: &Context) -> Vec<Diagnostic> {
        let file = cx.file;
        let src = file.text.as_slice();
        let tracked_withs: Vec<Node> = cx
            .acquisitions()
            .iter()
            .flat_map(|a| {
                a.uses
                    .iter()
                    .filter(|u| u.kind == UseKind::With)
                    .map(|u| u.node)
            })
            .collect();
        let mut out = Vec::new();
        syntax::for_each_match(&self.query, file, &["with".into()], |m| {
            let Some(mut node) = m.get("value") else {
                return;
            };
            if node.kind_name() == "as_pattern" {
                let Some(first) = node.named_child(0) else {
                    return;
                };
                node = first;
            }
            let message = match node.kind_name() {
                "call" => {
                    if let Some(i) = calls_one_of(node, &self.config.dbapi_connects, src) {
                        format!(
                            "`with {}(...)` ends the transaction but does not close the connection; {CLOSING}",
                            self.config.dbapi_connects[i]
                        )
                    } else if let Some(i) = calls_one_of(node, &self.config.helpers, src) {
                        // A generator or `@contextmanager` helper (in this
                        // file or another) closes what it yields: `with`
                        // is its right use.
                        if cx.helper_summary(node).owner == crate::project::Owner::Helper {
                            return;
                        }
                        let helper = last_parts(&self.config.helpers).swap_remove(i);
                        match self.helper_kind(file, helper.as_bytes()) {
                            HelperKind::DbApi => format!(
                                "`{helper}()` returns a DB-API connection, whose `with` ends the \
                                 transaction but does not close it; {CLOSING}"
                            ),
                            HelperKind::Unknown => format!(
                                "`with {helper}()`: the connection's tracking is never released there, \
                                 and a DB-API connection's `with` does not close it; bind it with \
                                 `conn = {helper}()` and close it in a `finally`"
                            ),
                        }
                    } else {
                        return;
                    }
                }
                "identifier" => {
                    let name = text(node, src);
                    if !(tracked_withs.contains(&node) || self.bound_to_dbapi(node, name, src)) {
                        return;
                    }
                    format!(
                        "`with {}:` ends the transaction but does not close the connection; {CLOSING}",
                        String::from_utf8_lossy(name)
                    )
                }
                _ => return,
            };
            out.push(Diagnostic::new(ID, node, message));
        });
        out
    }
}
