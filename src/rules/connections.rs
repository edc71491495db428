//! The shared analysis behind the connection rules: the helper calls of a
//! file (also through a local alias, `gdc = get_db_connection`), which
//! bindings hold a helper connection, and for each connection acquired in
//! a function (`name = helper()`, `(name := helper())`) what the reads its
//! binding reaches do with it: closed (as a statement, in a `finally` or
//! not, or inside an expression), passed on (returned, yielded, stored,
//! handed to a call, captured), wrapped in `closing()`, or used in `with`.
//!
//! It reads the semantic model; the rules read it through
//! `Context::acquisitions`, computed once per file.

use std::rc::Rc;

use tree_sitter::Node;

use crate::rules::Context;
use crate::semantic::{BindingId, BindingKind, Role, ScopeModel};
use crate::source::SourceFile;
use crate::syntax::{self, FIELDS, FieldChild, KindName, text};

/// What a use of the connection does to it.
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
    /// The connection goes elsewhere: returned, yielded, stored, captured by
    /// a nested function, declared global. Its closing is someone else's.
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

/// One connection acquired in a function: its binding and the reads that
/// binding may reach.
#[derive(Debug)]
pub struct Acquisition<'t> {
    pub statement: Node<'t>,
    pub name: String,
    pub scope: Node<'t>,
    pub binding: BindingId,
    pub model: Rc<ScopeModel<'t>>,
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

/// The configured helpers, and the names this file binds to one of them.
pub struct Helpers<'t> {
    names: &'t [String],
    file: &'t SourceFile,
    /// The helper calls, found once: several rules and checks ask.
    calls: std::cell::OnceCell<Vec<(Node<'t>, Vec<Node<'t>>)>>,
    /// `gdc` in `gdc = get_db_connection` (or `= db.get_db_connection`).
    aliases: Vec<Vec<u8>>,
    /// The file's functions and methods that only hand on a helper's
    /// connection (`def _get_connection(self): return get_db_connection()`):
    /// a call of one is a helper call.
    wrappers: Vec<String>,
}

impl<'t> Helpers<'t> {
    pub fn new(names: &'t [String], file: &'t SourceFile) -> Helpers<'t> {
        let src = file.text.as_slice();
        let mut aliases: Vec<Vec<u8>> = Vec::new();
        let root = file.tree.root_node();
        for anchor in crate::rules::last_parts(names) {
            syntax::identifiers(root, anchor.as_bytes(), src, 0, |ident, path| {
                // The helper itself (not a call of it) as an assignment's
                // whole value, bound to a plain name.
                let mut value = ident;
                let mut depth = path.len();
                if let Some(attribute) = path.last().filter(|p| {
                    p.kind_name() == "attribute" && p.field(FIELDS.attribute) == Some(ident)
                }) {
                    value = *attribute;
                    depth -= 1;
                }
                let assignment = depth.checked_sub(1).map(|i| path[i]);
                if let Some(a) = assignment.filter(|a| {
                    a.kind_name() == "assignment" && a.field(FIELDS.right) == Some(value)
                }) && syntax::callee_is_one_of(value, names, src).is_some()
                    && let Some(left) = a
                        .field(FIELDS.left)
                        .filter(|l| l.kind_name() == "identifier")
                {
                    aliases.push(text(left, src).to_vec());
                }
                syntax::Step::Into
            });
        }
        // `from db import get_db_connection as gdc`.
        let last = crate::rules::last_parts(names);
        for stmt in syntax::statements(root) {
            if stmt.kind_name() != "import_from_statement" {
                continue;
            }
            let mut cursor = stmt.walk();
            for n in stmt.children_by_field_id(FIELDS.name, &mut cursor) {
                let (Some(name), Some(alias)) = (n.field(FIELDS.name), n.field(FIELDS.alias))
                else {
                    continue;
                };
                if last.iter().any(|l| l.as_bytes() == text(name, src)) {
                    aliases.push(text(alias, src).to_vec());
                }
            }
        }
        aliases.sort();
        aliases.dedup();
        let mut helpers = Helpers {
            names,
            file,
            aliases,
            wrappers: Vec::new(),
            calls: std::cell::OnceCell::new(),
        };
        helpers.wrappers = helpers.find_wrappers();
        helpers
    }

    /// Functions of the file (not helpers themselves) that end in their
    /// only `return`, of a helper call: `return get_db_connection()`. Read
    /// from the last statement and the text, without walking the body.
    fn find_wrappers(&self) -> Vec<String> {
        let src = self.file.text.as_slice();
        let last = crate::rules::last_parts(self.names);
        let anchors = self.anchors_without_wrappers();
        let mut out = Vec::new();
        for function in crate::project::definitions(self.file.tree.root_node()) {
            let (Some(name), Some(body)) =
                (function.field(FIELDS.name), function.field(FIELDS.body))
            else {
                continue;
            };
            let body_text = text(body, src);
            // Only a body that names a helper can hand one on.
            if !anchors
                .iter()
                .any(|a| memchr::memmem::find(body_text, a).is_some())
            {
                continue;
            }
            let name = String::from_utf8_lossy(text(name, src)).into_owned();
            if last.contains(&name)
                || memchr::memmem::find_iter(body_text, b"return").count() != 1
                || memchr::memmem::find(body_text, b"yield").is_some()
            {
                continue;
            }
            let mut cursor = body.walk();
            let Some(end) = body.named_children(&mut cursor).last() else {
                continue;
            };
            let hands_on = end.kind_name() == "return_statement"
                && end.named_child(0).is_some_and(|v| {
                    matches!(v.kind_name(), "call" | "await") && self.is_value(v, src)
                });
            if hands_on {
                out.push(name);
            }
        }
        out
    }

    /// The helpers' last dotted parts and the aliases.
    fn anchors_without_wrappers(&self) -> Vec<Vec<u8>> {
        crate::rules::last_parts(self.names)
            .into_iter()
            .map(String::into_bytes)
            .chain(self.aliases.iter().cloned())
            .collect()
    }

    /// The words every helper call in the file holds: the helpers' last
    /// dotted parts, the aliases and the wrappers.
    fn anchors(&self) -> Vec<Vec<u8>> {
        crate::rules::last_parts(self.names)
            .into_iter()
            .map(String::into_bytes)
            .chain(self.aliases.iter().cloned())
            .chain(self.wrappers.iter().map(|w| w.clone().into_bytes()))
            .collect()
    }

    /// Whether `call` calls a helper, by its name or an alias.
    pub fn is_call(&self, call: Node, src: &[u8]) -> bool {
        if syntax::calls_one_of(call, self.names, src).is_some()
            || syntax::calls_one_of(call, &self.wrappers, src).is_some()
        {
            return true;
        }
        call.kind_name() == "call"
            && call.field(FIELDS.function).is_some_and(|f| {
                f.kind_name() == "identifier" && self.aliases.iter().any(|a| a == text(f, src))
            })
    }

    /// Whether a bound value is a helper's connection: a helper call,
    /// awaited, parenthesised, or either branch of a conditional
    /// (iteratively: nesting can be deep).
    pub fn is_value(&self, value: Node, src: &[u8]) -> bool {
        self.call_in(value, src).is_some()
    }

    /// The helper call a bound value holds (`is_value`).
    pub fn call_in<'n>(&self, value: Node<'n>, src: &[u8]) -> Option<Node<'n>> {
        let mut stack = vec![value];
        while let Some(node) = stack.pop() {
            match node.kind_name() {
                "call" if self.is_call(node, src) => return Some(node),
                // `closing(conn)` is `conn` (what `with ... as` binds).
                "call"
                    if node.field(FIELDS.function).is_some_and(|f| {
                        matches!(text(f, src), b"closing" | b"contextlib.closing")
                    }) =>
                {
                    stack.extend(node.field(FIELDS.arguments).and_then(|a| a.named_child(0)));
                }
                "await" | "parenthesized_expression" => stack.extend(node.named_child(0)),
                "conditional_expression" => {
                    let mut cursor = node.walk();
                    stack.extend(node.named_children(&mut cursor));
                }
                _ => {}
            }
        }
        None
    }

    /// Whether binding `b` of `model` holds a helper connection.
    pub fn binds_connection(&self, model: &ScopeModel, b: BindingId, src: &[u8]) -> bool {
        self.connection_call(model, b, src).is_some()
    }

    /// The helper call whose connection binding `b` of `model` holds.
    pub fn connection_call<'m>(
        &self,
        model: &ScopeModel<'m>,
        b: BindingId,
        src: &[u8],
    ) -> Option<Node<'m>> {
        let binding = &model.bindings[b as usize];
        if !matches!(
            binding.kind,
            BindingKind::Assign | BindingKind::Walrus | BindingKind::With
        ) {
            return None;
        }
        self.call_in(binding.value?, src)
    }

    /// Every helper call in the file, with its ancestors (the root first,
    /// the call's parent last).
    pub fn calls(&self) -> &[(Node<'t>, Vec<Node<'t>>)] {
        self.calls.get_or_init(|| self.find_calls())
    }

    fn find_calls(&self) -> Vec<(Node<'t>, Vec<Node<'t>>)> {
        let file = self.file;
        let src = file.text.as_slice();
        let root = file.tree.root_node();
        let mut out: Vec<(Node, Vec<Node>)> = Vec::new();
        for anchor in self.anchors() {
            syntax::identifiers(root, &anchor, src, 0, |ident, path| {
                let mut depth = path.len();
                if path.last().is_some_and(|p| {
                    p.kind_name() == "attribute" && p.field(FIELDS.attribute) == Some(ident)
                }) {
                    depth -= 1;
                }
                if let Some(i) = depth.checked_sub(1)
                    && self.is_call(path[i], src)
                    && path[i]
                        .field(FIELDS.function)
                        .is_some_and(|f| f == path.get(i + 1).copied().unwrap_or(ident))
                {
                    out.push((path[i], path[..i].to_vec()));
                }
                syntax::Step::Into
            });
        }
        out.sort_by_key(|(call, _)| call.start_byte());
        out.dedup_by_key(|(call, _)| call.id());
        out
    }
}

/// The value a helper call gives (`path`: its ancestors from the root):
/// the call, or the `await` and parentheses around it; and that value's
/// depth in `path`, where its parent is `path[depth - 1]`.
pub fn around<'t>(call: Node<'t>, path: &[Node<'t>]) -> (Node<'t>, usize) {
    let mut value = call;
    let mut depth = path.len();
    while let Some(p) = depth
        .checked_sub(1)
        .map(|i| path[i])
        .filter(|p| matches!(p.kind_name(), "await" | "parenthesized_expression"))
    {
        value = p;
        depth -= 1;
    }
    (value, depth)
}

/// The acquisitions in functions (module-level connections live as long
/// as the module, by design).
pub fn acquisitions<'t>(cx: &Context<'t>) -> Vec<Acquisition<'t>> {
    let file = cx.file;
    let src = file.text.as_slice();
    let helpers = cx.helpers();
    let mut out = Vec::new();
    for (call, path) in helpers.calls() {
        let call = *call;
        let (value, depth) = around(call, path);
        let Some(holder) = depth.checked_sub(1).map(|i| path[i]) else {
            continue;
        };
        let ident = match holder.kind_name() {
            "assignment" if holder.field(FIELDS.right) == Some(value) => holder.field(FIELDS.left),
            "named_expression" if holder.field(FIELDS.value) == Some(value) => {
                holder.field(FIELDS.name)
            }
            _ => None,
        };
        let Some(ident) = ident.filter(|i| i.kind_name() == "identifier") else {
            continue;
        };
        // A connection the helper caches (a teardown closes it) or closes
        // itself (a generator) is not the caller's to close.
        if cx.helper_summary(call).owner != crate::project::Owner::Caller {
            continue;
        }
        let Some(scope) = path[..depth]
            .iter()
            .rev()
            .find(|n| {
                matches!(
                    n.kind_name(),
                    "function_definition" | "class_definition" | "lambda"
                )
            })
            .copied()
            .filter(|n| n.kind_name() == "function_definition")
        else {
            continue;
        };
        let model = cx.semantic.scope(scope);
        // A binding no path reaches (after a `return`) acquires nothing.
        let Some(binding) = model
            .binding_at(ident)
            .filter(|b| model.bindings[*b as usize].reachable)
        else {
            continue;
        };
        let statement = model.bindings[binding as usize].statement;
        let name = text(ident, src);
        let mut uses: Vec<Use> = model
            .uses(binding)
            .filter_map(|r| {
                let kind = classify(r.role, statement, &model, r.guard, src)?;
                Some(Use {
                    node: r.ident,
                    kind,
                })
            })
            .collect();
        if model.is_declared(name) {
            uses.push(Use {
                node: ident,
                kind: UseKind::Escapes,
            });
        }
        out.push(Acquisition {
            statement,
            name: String::from_utf8_lossy(name).into_owned(),
            scope,
            binding,
            model,
            uses,
        });
    }
    out
}

/// What a read of the connection does, if anything that matters.
fn classify(
    role: Role,
    statement: Node,
    model: &ScopeModel,
    guard: Option<crate::semantic::GuardId>,
    src: &[u8],
) -> Option<UseKind> {
    match role {
        Role::MethodCall {
            method: b"close",
            call,
            statement: true,
        } if no_arguments(call) => {
            // The `finally` guards the connection only if its `try` holds
            // the acquisition or comes right after it.
            let guarded = model.finally_of(guard).is_some_and(|g| {
                g.try_statement.start_byte() <= statement.start_byte()
                    || followed_by(statement, g.try_statement)
            });
            Some(UseKind::Close { finally: guarded })
        }
        Role::MethodCall {
            method: b"close",
            call,
            statement: false,
        } if no_arguments(call) => Some(UseKind::CloseInExpression),
        Role::Argument { call } => {
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
        Role::WithItem => Some(UseKind::With),
        Role::Returned | Role::Yielded | Role::Stored | Role::Contained | Role::Captured => {
            Some(UseKind::Escapes)
        }
        _ => None,
    }
}

/// Whether `target` is the statement that runs right after `stmt`: its
/// next statement, or, when `stmt` ends a branch of an `if`, the one after
/// that `if` (nothing can raise in between).
fn followed_by(stmt: Node, target: Node) -> bool {
    let mut at = stmt;
    loop {
        if let Some(next) = syntax::next_statement(at) {
            return next == target;
        }
        let Some(owner) = at.parent().and_then(|block| block.parent()) else {
            return false;
        };
        at = match owner.kind_name() {
            "if_statement" => owner,
            "elif_clause" | "else_clause" => match owner.parent() {
                Some(p) if p.kind_name() == "if_statement" => p,
                _ => return false,
            },
            _ => return false,
        };
    }
}

fn no_arguments(call: Node) -> bool {
    call.field(FIELDS.arguments)
        .is_some_and(|a| a.kind_name() == "argument_list" && a.named_child_count() == 0)
}
