//! The shared analysis behind the leak rules (`never-closed`,
//! `close-not-guaranteed`, `early-return-leak`, `with-does-not-close`): each
//! connection acquired as `name = helper()` in a scope, and what happens to
//! that name until it is bound again: closed (as a statement, in a `finally`
//! or not, or inside an expression), passed on (returned, yielded, stored,
//! handed to a call, captured), wrapped in `closing()`, or used in `with`.
//!
//! `ConnectionLeaks` runs the analysis once per file and hands it to the
//! four rules, each in its own file with its own code, doc and testdata.

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::rules::close_not_guaranteed::{self, CloseNotGuaranteed};
use crate::rules::with_does_not_close::{self, WithDoesNotClose};
use crate::rules::{Code, Diagnostic, Fixes, Rule, early_return_leak, never_closed};
use crate::source::SourceFile;
use crate::syntax::{self, FIELDS, FieldChild, KindName, LazyQuery, Lineage, text};

const QUERY_FILE: &str = "connections.scm";

/// What a use of the connection's name does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseKind {
    /// `name.close()` as a statement; `finally` says whether a `finally`
    /// clause holds it whose `try` holds the acquisition or follows it at
    /// once (so nothing can raise between).
    Close { finally: bool },
    /// `name.close()` inside an expression (`return name.close()`).
    CloseInExpression,
    /// Handed to a call (`fetch(conn)`): the callee may close it, or only
    /// use it.
    Argument,
    /// The connection goes elsewhere: returned, yielded, stored, captured by a
    /// nested function. Its closing is someone else's.
    Escapes,
    /// `contextlib.closing(name)`: closed on every path.
    Closing,
    /// `with name:` (ends a DB-API transaction, does not close).
    With,
}

#[derive(Debug, Clone, Copy)]
pub struct Use<'t> {
    pub node: Node<'t>,
    pub kind: UseKind,
}

/// One `name = helper()` statement and the uses of `name` after it, up to
/// the next binding of `name` in the same scope.
#[derive(Debug)]
pub struct Acquisition<'t> {
    pub statement: Node<'t>,
    pub name: String,
    pub scope: Node<'t>,
    pub uses: Vec<Use<'t>>,
}

impl Acquisition<'_> {
    pub fn closes(&self) -> impl Iterator<Item = &Use<'_>> {
        self.uses
            .iter()
            .filter(|u| matches!(u.kind, UseKind::Close { .. } | UseKind::CloseInExpression))
    }

    pub fn has(&self, wanted: impl Fn(UseKind) -> bool) -> bool {
        self.uses.iter().any(|u| wanted(u.kind))
    }

    /// Closed on every path, or not this scope's business.
    pub fn handled(&self) -> bool {
        self.has(|k| {
            matches!(
                k,
                UseKind::Close { finally: true } | UseKind::Closing | UseKind::Escapes
            )
        })
    }
}

/// The compiled query, built once per rule from the configured helpers.
pub struct Connections {
    query: LazyQuery,
    helpers: Vec<String>,
    /// The helpers' last dotted parts: every helper call holds one.
    anchors: Vec<String>,
}

impl Connections {
    pub fn new(helpers: &[String]) -> Result<Connections> {
        Ok(Connections {
            query: LazyQuery::template(
                QUERY_FILE,
                include_str!("../../queries/connections.scm"),
                "call",
                "@HELPERS@",
                helpers,
            ),
            helpers: helpers.to_vec(),
            anchors: crate::rules::last_parts(helpers),
        })
    }

    /// Every helper call in the file, with its ancestors.
    pub fn helper_calls<'t>(&self, file: &'t SourceFile) -> Vec<Lineage<'t>> {
        let src = file.text.as_slice();
        let mut out = Vec::new();
        syntax::for_each_match(&self.query, file, &self.anchors, |m| {
            // The query's only pattern starts at the call it captures.
            let lineage = m.lineage();
            debug_assert_eq!(m.get("call"), Some(lineage.node()));
            if syntax::calls_one_of(lineage.node(), &self.helpers, src).is_some() {
                out.push(lineage.clone());
            }
        });
        out
    }

    /// The acquisitions in functions (module-level connections live as long
    /// as the module, by design).
    pub fn acquisitions<'t>(&self, file: &'t SourceFile) -> Vec<Acquisition<'t>> {
        let src = file.text.as_slice();
        self.helper_calls(file)
            .into_iter()
            .filter_map(|lineage| {
                let call = lineage.node();
                let awaited = usize::from(lineage.up(1)?.kind_name() == "await");
                let value = lineage.up(awaited)?;
                let assignment = lineage
                    .up(awaited + 1)
                    .filter(|p| p.kind_name() == "assignment")?;
                let statement = lineage.up(awaited + 2)?;
                if !matches!(lineage.up(awaited + 3)?.kind_name(), "block" | "module") {
                    return None;
                }
                let left = assignment
                    .field(FIELDS.left)
                    .filter(|l| l.kind_name() == "identifier")?;
                if assignment.field(FIELDS.right) != Some(value) {
                    return None;
                }
                debug_assert!(syntax::is_statement(statement) && call.parent() == lineage.up(1));
                let scope = lineage.function()?;
                let name = text(left, src);
                Some(Acquisition {
                    statement,
                    name: String::from_utf8_lossy(name).into_owned(),
                    scope,
                    uses: uses(scope, statement, name, src),
                })
            })
            .collect()
    }
}

/// The uses of `name` in `scope` after `statement`, up to its next binding
/// (not to None) outside nested scopes.
///
/// Only the occurrences of the name are visited (`syntax::identifiers`),
/// each with its path of ancestors (`Node::parent` costs a descent from the
/// root each time, and classifying looks a few levels up). A binding of the
/// name binds one of its occurrences, so the next binding is on the path of
/// the first occurrence it holds: the uses end there.
fn uses<'t>(scope: Node<'t>, statement: Node<'t>, name: &[u8], src: &[u8]) -> Vec<Use<'t>> {
    let Some(body) = scope.field(FIELDS.body) else {
        return Vec::new();
    };
    let after = statement.end_byte();
    let mut out = Vec::new();
    syntax::identifiers(body, name, src, after, |ident, path| {
        // Outside nested functions, classes and lambdas: above the first.
        let outer = path
            .iter()
            .position(|n| is_nested(*n))
            .map_or(path.len(), |i| i + 1);
        if path[..outer]
            .iter()
            .any(|n| n.start_byte() > after && binds(*n, name, src))
        {
            return syntax::Step::Stop;
        }
        if let Some(kind) = classify(ident, path, statement, src) {
            out.push(Use { node: ident, kind });
        }
        syntax::Step::Into
    });
    #[cfg(debug_assertions)]
    {
        let key = |u: &Use| (u.node.id(), u.kind);
        assert_eq!(
            out.iter().map(key).collect::<Vec<_>>(),
            uses_by_walk(body, statement, name, src)
                .iter()
                .map(key)
                .collect::<Vec<_>>(),
            "the uses found at the name's occurrences are those a walk finds"
        );
    }
    out
}

/// Whether `n` starts a nested scope: a function, class or lambda.
fn is_nested(n: Node) -> bool {
    let kinds = &*syntax::KINDS;
    let kind = n.kind_id();
    kind == kinds.function_definition || kind == kinds.class_definition || kind == kinds.lambda
}

/// Debug builds: `uses` by a walk of every node of the body in document
/// order, stopping at the next binding, as it was found before
/// `syntax::identifiers`.
#[cfg(debug_assertions)]
fn uses_by_walk<'t>(body: Node<'t>, statement: Node<'t>, name: &[u8], src: &[u8]) -> Vec<Use<'t>> {
    let kinds = &*syntax::KINDS;
    let after = statement.end_byte();
    let mut out = Vec::new();
    let mut cursor = body.walk();
    let mut path: Vec<Node> = Vec::new();
    let mut nested = 0usize;
    'walk: loop {
        let n = cursor.node();
        if n.end_byte() > after {
            if nested == 0 && n.start_byte() > after && binds(n, name, src) {
                break 'walk;
            }
            if n.kind_id() == kinds.identifier && text(n, src) == name {
                if let Some(kind) = classify(n, &path, statement, src) {
                    out.push(Use { node: n, kind });
                }
            } else if cursor.goto_first_child() {
                nested += usize::from(is_nested(n));
                path.push(n);
                continue;
            }
        }
        loop {
            if path.is_empty() {
                break 'walk;
            }
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            cursor.goto_parent();
            let parent = path.pop().expect("the path holds the parent");
            nested -= usize::from(is_nested(parent));
        }
    }
    out
}

/// Whether `node` binds `name` to something other than None.
fn binds(node: Node, name: &[u8], src: &[u8]) -> bool {
    syntax::bound_names(node)
        .iter()
        .any(|b| text(*b, src) == name)
        && !(node.kind_name() == "assignment"
            && node
                .field(FIELDS.right)
                .is_some_and(|r| r.kind_name() == "none"))
}

/// What the occurrence `ident` of the name does, if anything that matters;
/// `path` holds its ancestors from the scope's body down to its parent.
fn classify(ident: Node, path: &[Node], statement: Node, src: &[u8]) -> Option<UseKind> {
    // Inside a nested function or lambda: captured, so passed on.
    let kinds = &*syntax::KINDS;
    let nested = [
        kinds.function_definition,
        kinds.lambda,
        kinds.class_definition,
    ];
    if path.iter().any(|a| nested.contains(&a.kind_id())) {
        return Some(UseKind::Escapes);
    }
    let up = |n: usize| path.len().checked_sub(n).map(|i| path[i]);
    let parent = up(1)?;
    match parent.kind_name() {
        "attribute" if parent.field(FIELDS.object) == Some(ident) => {
            let call = up(2).filter(|c| c.kind_name() == "call")?;
            syntax::method_call_on_name(call, "close", src)?;
            let awaited = up(3).is_some_and(|a| a.kind_name() == "await");
            let holder_depth = if awaited { 3 } else { 2 };
            if up(holder_depth + 1)?.kind_name() != "expression_statement" {
                return Some(UseKind::CloseInExpression);
            }
            for depth in holder_depth + 1..=path.len() {
                let p = up(depth)?;
                if p.kind_name() == "finally_clause" {
                    // The `finally` guards the connection only if its `try`
                    // holds the acquisition or comes right after it.
                    let try_statement = up(depth + 1)?;
                    let guarded = try_statement.start_byte() <= statement.start_byte()
                        || syntax::next_statement(statement) == Some(try_statement);
                    return Some(UseKind::Close { finally: guarded });
                }
            }
            Some(UseKind::Close { finally: false })
        }
        "argument_list" | "keyword_argument" => {
            let call = if parent.kind_name() == "keyword_argument" {
                up(3)?
            } else {
                up(2)?
            };
            let callee = call
                .field(FIELDS.function)
                .map(|f| text(f, src))
                .unwrap_or_default();
            if callee == b"closing" || callee.ends_with(b".closing") {
                Some(UseKind::Closing)
            } else {
                Some(UseKind::Argument)
            }
        }
        "with_item" => Some(UseKind::With),
        "as_pattern" if up(2).is_some_and(|p| p.kind_name() == "with_item") => Some(UseKind::With),
        "return_statement" | "yield" | "list" | "tuple" | "dictionary" | "pair" | "set"
        | "expression_list" => Some(UseKind::Escapes),
        "assignment" if parent.field(FIELDS.right) == Some(ident) => Some(UseKind::Escapes),
        _ => None,
    }
}

/// The four leak rules over one shared analysis.
pub struct ConnectionLeaks {
    connections: Connections,
    not_guaranteed: CloseNotGuaranteed,
    with: WithDoesNotClose,
    config: Config,
}

impl ConnectionLeaks {
    pub fn new(config: &Config) -> Result<ConnectionLeaks> {
        Ok(ConnectionLeaks {
            connections: Connections::new(&config.helpers)?,
            not_guaranteed: CloseNotGuaranteed::new(config),
            with: WithDoesNotClose::new(config)?,
            config: config.clone(),
        })
    }
}

impl Rule for ConnectionLeaks {
    fn codes(&self) -> &'static [Code] {
        &[
            never_closed::ID,
            early_return_leak::ID,
            close_not_guaranteed::ID,
            with_does_not_close::ID,
        ]
    }

    /// `close-not-guaranteed` has an unsafe fix.
    fn fixes(&self) -> Fixes {
        Fixes::Unsafe
    }

    fn needles(&self) -> Vec<String> {
        let mut needles = self.config.helpers.clone();
        needles.extend(self.config.dbapi_connects.iter().cloned());
        needles
    }

    fn check(&self, file: &SourceFile) -> Vec<Diagnostic> {
        let acquisitions = self.connections.acquisitions(file);
        let mut out = never_closed::check(&acquisitions);
        out.extend(early_return_leak::check(&acquisitions));
        out.extend(self.not_guaranteed.check(file, &acquisitions));
        out.extend(self.with.check(file, &acquisitions));
        out
    }
}
