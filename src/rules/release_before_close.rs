// The documentation of each code this rule reports, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/release-before-close.md")]
#![doc = include_str!("../../docs/rules/close-in-expression.md")]

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::{Edit, Fix};
use crate::indent::{Template, after_line};
use crate::project::{Form, Owner};
use crate::rules::{Code, Context, Diagnostic, Fixes, Rule};
use crate::semantic::BindingKind;
use crate::source::{SourceFile, line_indent};
use crate::syntax::{self, FIELDS, FieldChild, KindName, LazyQuery, text};
use crate::templates::{self, ReleaseImport, registry_names};

pub const ID: Code = Code::ReleaseBeforeClose;

/// A close statement, the name it closes, and the release block it needs.
type Close<'t, 's> = (Node<'t>, &'s [u8], Block);

/// The release block a close needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    /// The audit's, importing the release function so.
    Attribute(ReleaseImport),
    /// The registry's (the helper keeps the tracking in the tracker).
    Registry,
}
const QUERY_FILE: &str = "release-before-close.scm";

pub struct ReleaseBeforeClose {
    query: LazyQuery,
    config: Config,
}

impl ReleaseBeforeClose {
    pub fn new(config: &Config) -> Result<ReleaseBeforeClose> {
        Ok(ReleaseBeforeClose {
            query: LazyQuery::new(
                QUERY_FILE,
                include_str!("../../queries/release-before-close.scm"),
                "call",
            )
            .shaped(close_shape),
            config: config.clone(),
        })
    }
}

impl Rule for ReleaseBeforeClose {
    fn codes(&self) -> &'static [Code] {
        &[Code::ReleaseBeforeClose, Code::CloseInExpression]
    }

    fn fixes(&self) -> Fixes {
        Fixes::Safe
    }

    fn needles(&self) -> Vec<String> {
        let mut needles = self.config.helpers.clone();
        needles.push("putconn".into());
        needles
    }

    fn check(&self, cx: &Context) -> Vec<Diagnostic> {
        let file = cx.file;
        let src = file.text.as_slice();
        let mut out = Vec::new();
        let mut targets: Vec<Close> = Vec::new();
        // Every close of a tracked connection, by scope and name, and the
        // release blocks already before some of them.
        // (where the name is bound, the name, whether the close ends its
        // path: a `return` or `raise` follows it, outside loops and
        // `finally` clauses, so no second close can come after it).
        let mut closes: Vec<(usize, &[u8], bool)> = Vec::new();
        let mut released: Vec<(Node, usize, &[u8])> = Vec::new();
        syntax::for_each_match(&self.query, file, &["close".into()], |m| {
            let (Some(close), Some(object)) = (m.get("close"), m.get("object")) else {
                return;
            };
            // The query's only pattern starts at the close call.
            let lineage = m.lineage();
            debug_assert_eq!(close, lineage.node());
            let arguments = close.field(FIELDS.arguments);
            if arguments.is_none_or(|a| a.named_child_count() != 0) {
                return;
            }
            let scope = lineage.scope();
            let form = match object.kind_name() {
                "attribute" => attribute_tracked(cx, lineage, object),
                _ => tracked(cx, scope, object),
            };
            let Some(form) = form else {
                return;
            };
            let name = text(object, src);
            let stmt = lineage.statement();
            match stmt.filter(|s| syntax::statement_call(*s) == Some(close)) {
                None => out.push(Diagnostic::new(
                    Code::CloseInExpression,
                    close,
                    format!(
                        "`{}.close()` is inside an expression, where the release cannot go before it; \
                         make the close a statement of its own",
                        String::from_utf8_lossy(name)
                    ),
                )),
                Some(stmt) => {
                    // Counted where the name is bound: a close in a nested
                    // function closes the outer function's connection.
                    let home = lineage.outermost_scope().id();
                    // A close in a loop may run more than once, one in a
                    // `finally` after another close on the way out.
                    let repeats = (1..)
                        .map_while(|n| lineage.up(n))
                        .take_while(|n| n.kind_name() != "function_definition")
                        .any(|n| {
                            matches!(
                                n.kind_name(),
                                "for_statement" | "while_statement" | "finally_clause"
                            )
                        });
                    let terminal = !repeats
                        && syntax::next_statement(stmt).is_some_and(|n| {
                            matches!(n.kind_name(), "return_statement" | "raise_statement")
                        });
                    closes.push((home, name, terminal));
                    let in_loop = (1..)
                        .map_while(|n| lineage.up(n))
                        .take_while(|n| n.kind_name() != "function_definition")
                        .any(|n| matches!(n.kind_name(), "for_statement" | "while_statement"));
                    if in_loop {
                        closes.push((home, name, false));
                    }
                    let before = syntax::prev_statement(stmt);
                    if let Some(block) =
                        before.filter(|p| templates::is_release_block(*p, name, src))
                    {
                        released.push((block, home, name));
                    } else if !before.is_some_and(|p| templates::is_registry_release(p, name, src))
                    {
                        targets.push((stmt, name, self.block(cx, scope, form)));
                    }
                }
            }
        });
        let callee_closes = closed_by_callee(cx);
        for (stmt, name, _) in &callee_closes {
            let mut home = syntax::enclosing_scope(*stmt);
            let mut at = home.parent();
            while let Some(n) = at {
                if n.kind_name() == "function_definition" {
                    home = n;
                }
                at = n.parent();
            }
            closes.push((home.id(), name, false));
        }
        // A release block already there (the audit's, written by hand)
        // releases again at every close: where the connection can be
        // closed more than once, it must take the tracking off.
        for (block, scope, name) in released {
            // Two closes that both end their paths (an early `return` after
            // one, the final `return` after the other: the audit's shape)
            // never both run.
            let mine: Vec<bool> = closes
                .iter()
                .filter(|c| (c.0, c.1) == (scope, name))
                .map(|c| c.2)
                .collect();
            let more = mine.len() > 1 && mine.iter().any(|terminal| !terminal);
            if more && !templates::takes_tracking_off(block, name, src) {
                out.push(self.release_once(file, block, name));
            }
        }
        out.extend(self.closed_by_closing(cx));
        for (stmt, name) in given_back(cx) {
            let released = syntax::prev_statement(stmt).is_some_and(|p| {
                templates::is_release_block(p, name, src)
                    || templates::is_registry_release(p, name, src)
            });
            let form = cx.run_form();
            if let Some(form) = form.filter(|_| !released && !targets.iter().any(|t| t.0 == stmt)) {
                let scope = syntax::enclosing_scope(stmt);
                targets.push((stmt, name, self.block(cx, scope, form)));
            }
        }
        for (stmt, name, form) in callee_closes {
            let released = syntax::prev_statement(stmt).is_some_and(|p| {
                templates::is_release_block(p, name, src)
                    || templates::is_registry_release(p, name, src)
            });
            let scope = syntax::enclosing_scope(stmt);
            if !released && !targets.iter().any(|t| t.0 == stmt) {
                targets.push((stmt, name, self.block(cx, scope, form)));
            }
        }
        // One edit for each run of statements sharing a line.
        let mut runs: Vec<(Vec<Node>, Vec<Close>)> = Vec::new();
        for target in targets {
            let run = syntax::line_run(target.0);
            match runs.iter_mut().find(|(r, _)| r[0] == run[0]) {
                Some((_, members)) => members.push(target),
                None => runs.push((run, vec![target])),
            }
        }
        for (run, members) in runs {
            out.push(self.fix_run(file, &run, &members));
        }
        out
    }
}

/// `queries/release-before-close.scm` in Rust: `x.close(...)` or
/// `x.y.close(...)`, `x` and `y` plain names.
fn close_shape<'t>(n: Node<'t>, src: &[u8]) -> Vec<syntax::Captures<'t>> {
    let Some(function) = n
        .field(FIELDS.function)
        .filter(|f| f.kind_name() == "attribute")
    else {
        return Vec::new();
    };
    let (Some(object), Some(method)) = (
        function.field(FIELDS.object),
        function.field(FIELDS.attribute),
    ) else {
        return Vec::new();
    };
    let name = |x: Option<Node>| x.is_some_and(|x| x.kind_name() == "identifier");
    let object_ok = match object.kind_name() {
        "identifier" => true,
        "attribute" => name(object.field(FIELDS.object)) && name(object.field(FIELDS.attribute)),
        _ => false,
    };
    if object_ok && method.kind_name() == "identifier" && text(method, src) == b"close" {
        vec![vec![("close", n), ("object", object), ("method", method)]]
    } else {
        Vec::new()
    }
}

/// Call statements that hand a helper connection to a function of this
/// file that closes that parameter unconditionally (`def close_conn(c):
/// c.close()`): the call is where the connection closes, so the release
/// goes before it. Returns each call statement, the connection's name and
/// where its tracking is kept.
fn closed_by_callee<'t>(cx: &Context<'t>) -> Vec<(Node<'t>, &'t [u8], Form)> {
    let src = cx.src();
    let root = cx.file.tree.root_node();
    // The file's module-level functions that close a parameter: name and
    // the parameter's position; and the run's, where this file imports them.
    let closers: Vec<(&[u8], usize)> = syntax::statements(root)
        .into_iter()
        .filter_map(syntax::undecorated)
        .filter(|s| s.kind_name() == "function_definition")
        .filter_map(|def| {
            let name = text(def.field(FIELDS.name)?, src);
            Some((name, crate::project::closes_parameter(def, src)?))
        })
        .collect();
    let imported = |callee: &[u8]| -> Option<usize> {
        let module = syntax::imported_from(root, callee, src)?;
        let name = callee.rsplit(|b| *b == b'.').next().unwrap_or(callee);
        cx.project
            .closer(&String::from_utf8_lossy(name), &module, &cx.file.path)
    };
    let mut out = Vec::new();
    // The connections bound in functions: acquisitions, and `with
    // helper() as conn` (the `with` does not close a DB-API connection).
    let mut bound: Vec<(
        std::rc::Rc<crate::semantic::ScopeModel>,
        crate::semantic::BindingId,
    )> = cx
        .acquisitions()
        .iter()
        .map(|a| (a.model.clone(), a.binding))
        .collect();
    for (call, path) in cx.helpers().calls() {
        let call = *call;
        let Some(i) = path.iter().rposition(|n| n.kind_name() == "as_pattern") else {
            continue;
        };
        let Some(function) = path[..i]
            .iter()
            .rev()
            .find(|n| n.kind_name() == "function_definition")
        else {
            continue;
        };
        let alias = path[i].field(FIELDS.alias).and_then(|a| a.named_child(0));
        if path[i].named_child(0) != Some(call) {
            continue;
        }
        let model = cx.semantic.scope(*function);
        if let Some(b) = alias.and_then(|a| model.binding_at(a)) {
            bound.push((model, b));
        }
    }
    for (model, binding) in &bound {
        for r in model.uses(*binding) {
            let crate::semantic::Role::Argument { call } = r.role else {
                continue;
            };
            let Some(callee) = call
                .field(FIELDS.function)
                .filter(|f| matches!(f.kind_name(), "identifier" | "attribute"))
            else {
                continue;
            };
            let Some(arguments) = call.field(FIELDS.arguments) else {
                continue;
            };
            let mut cursor = arguments.walk();
            let position = arguments
                .named_children(&mut cursor)
                .position(|n| n == r.ident);
            let local = closers
                .iter()
                .find(|(name, _)| *name == text(callee, src))
                .map(|(_, at)| *at);
            let closes =
                position.is_some() && local.or_else(|| imported(text(callee, src))) == position;
            let stmt = r.statement;
            let form = cx
                .helpers()
                .connection_call(model, *binding, src)
                .map(|c| cx.helper_summary(c).form);
            if let Some(form) =
                form.filter(|_| closes && syntax::statement_call(stmt) == Some(call))
            {
                out.push((stmt, text(r.ident, src), form));
            }
        }
    }
    out
}

/// Statements `pool.putconn(name, ...)`: the connection goes back to the
/// pool there, so its tracking is released first (in a release function
/// of the code's own, `def release_db_connection(conn):
/// pool.putconn(conn)`, that is once for every caller). A connection never
/// tracked releases nothing: the block is guarded.
fn given_back<'t>(cx: &Context<'t>) -> Vec<(Node<'t>, &'t [u8])> {
    let src = cx.src();
    let mut out = Vec::new();
    syntax::identifiers(
        cx.file.tree.root_node(),
        b"putconn",
        src,
        0,
        |ident, path| {
            let n = path.len();
            let (Some(attribute), Some(call), Some(stmt)) = (
                n.checked_sub(1).map(|i| path[i]),
                n.checked_sub(2).map(|i| path[i]),
                n.checked_sub(3).map(|i| path[i]),
            ) else {
                return syntax::Step::Into;
            };
            let first = call
                .field(FIELDS.arguments)
                .and_then(|a| a.named_child(0))
                .filter(|f| f.kind_name() == "identifier");
            if attribute.kind_name() == "attribute"
                && attribute.field(FIELDS.attribute) == Some(ident)
                && stmt.kind_name() == "expression_statement"
                && syntax::statement_call(stmt) == Some(call)
                && let Some(first) = first
            {
                out.push((stmt, text(first, src)));
            }
            syntax::Step::Into
        },
    );
    out
}

/// Whether `ident`, read in `scope`, may hold a helper connection: a
/// binding that may reach it there holds one, or, where the scope does not
/// bind the name, the enclosing scope it resolves to binds it to one. Says
/// where the helper keeps its tracking; `None` also for a connection its
/// helper closes itself (a generator's).
fn tracked<'t>(cx: &Context<'t>, scope: Node<'t>, ident: Node<'t>) -> Option<Form> {
    let summary = tracking_helper(cx, scope, ident)
        .map(|call| cx.helper_summary(call))
        .filter(|s| s.owner != Owner::Helper)?;
    Some(summary.form)
}

/// The helper call whose connection `ident` may hold (`tracked`).
fn tracking_helper<'t>(cx: &Context<'t>, scope: Node<'t>, ident: Node<'t>) -> Option<Node<'t>> {
    let src = cx.src();
    let helpers = cx.helpers();
    let name = text(ident, src);
    let model = cx.semantic.scope(scope);
    let declared = model.is_declared(name);
    if !declared && model.bindings_of(name).next().is_some() {
        return model.reference_at(ident).and_then(|r| {
            r.reaching
                .iter()
                .find_map(|b| helpers.connection_call(&model, *b, src))
        });
    }
    // A free name (or a global): the scope it resolves to, where any
    // binding of it may be the one read when this scope runs.
    let outer = cx.semantic.enclosing(scope);
    let candidates = if declared {
        outer.last().copied().into_iter().collect()
    } else {
        outer
    };
    for enclosing in candidates {
        let m = cx.semantic.scope(enclosing);
        let bindings: Vec<_> = m.bindings_of(name).collect();
        if !bindings.is_empty() {
            return bindings
                .iter()
                .find_map(|b| helpers.connection_call(&m, *b, src));
        }
    }
    None
}

/// Whether `obj.attr` (closed at the end of `lineage`) is set from a
/// helper call, `obj.attr = helper()`, in a method of the same class (or,
/// outside classes, anywhere in the same scope): the connection a class
/// keeps on `self` and closes in another method.
fn attribute_tracked<'t>(
    cx: &Context<'t>,
    lineage: &syntax::Lineage<'t>,
    object: Node<'t>,
) -> Option<Form> {
    let src = cx.src();
    let target = text(object, src);
    let class = (1..)
        .map_while(|n| lineage.up(n))
        .find(|n| n.kind_name() == "class_definition");
    let home = class.unwrap_or_else(|| lineage.scope());
    let call = cx.helpers().calls().iter().find(|(call, path)| {
        let (value, depth) = super::connections::around(*call, path);
        let assigned = depth.checked_sub(1).map(|i| path[i]).is_some_and(|a| {
            a.kind_name() == "assignment"
                && a.field(FIELDS.right) == Some(value)
                && a.field(FIELDS.left).is_some_and(|l| text(l, src) == target)
        });
        assigned && path.contains(&home)
    })?;
    let summary = cx.helper_summary(call.0);
    (summary.owner != Owner::Helper).then_some(summary.form)
}

impl ReleaseBeforeClose {
    /// The fix that makes a release block already there release once: the
    /// `del` of the tracking attributes after its last statement.
    fn release_once(&self, file: &SourceFile, block: Node, name: &[u8]) -> Diagnostic {
        let src = file.text.as_slice();
        let name_text = String::from_utf8_lossy(name);
        let message = format!(
            "`{name_text}` may be closed more than once, and the release block before this close releases \
             its tracking again each time (Active Now goes below the truth); it should take the tracking \
             off once released"
        );
        let body = block.field(FIELDS.consequence);
        let last = body.and_then(|b| syntax::statements(b).last().copied());
        match (body, last) {
            (Some(body), Some(last)) if !syntax::is_inline_block(body) => {
                let base = line_indent(src, last.start_byte()).to_vec();
                let line =
                    format!("del {name_text}._tracking_context, {name_text}._tracking_start");
                let lines = Template(&line).render(&base, &file.style);
                let edit = Edit::insert(
                    crate::source::line_end(src, last.end_byte()),
                    after_line(&lines, &file.style),
                );
                Diagnostic::fix(ID, block, message, Fix::new(vec![edit]))
            }
            _ => Diagnostic::new(ID, block, message),
        }
    }

    /// The release block a close in `scope` of a connection tracked so
    /// needs.
    fn block<'t>(&self, cx: &Context<'t>, scope: Node<'t>, form: Form) -> Block {
        match form {
            Form::Attribute => Block::Attribute(self.import_form(cx, scope)),
            Form::Registry => Block::Registry,
        }
    }

    /// How a release block in `scope` imports the release function: as the
    /// audit does, unless that would change what the scope's other reads
    /// of the name see (an import anywhere in a function makes the name
    /// local to all of it).
    fn import_form<'t>(&self, cx: &Context<'t>, scope: Node<'t>) -> ReleaseImport {
        let src = cx.src();
        let release = self.config.release.as_bytes();
        let model = cx.semantic.scope(scope);
        // A read of the name inside a release block that imports it first
        // (connfix's own): it reads that import, not the module's name.
        let in_release_block = |n: Node| {
            let mut at = n.parent();
            for _ in 0..6 {
                let Some(p) = at else { return false };
                if p.kind_name() == "if_statement" {
                    return p.field(FIELDS.consequence).is_some_and(|body| {
                        syntax::statements(body).iter().any(|s| {
                            s.kind_name() == "import_from_statement"
                                && s.start_byte() < n.start_byte()
                                && syntax::mentions(*s, release, src)
                        })
                    });
                }
                at = p.parent();
            }
            false
        };
        let other_reads = model
            .references_of(release)
            .any(|r| !in_release_block(r.ident));
        let other_bindings = model.bindings_of(release).any(|b| {
            let b = &model.bindings[b as usize];
            !(b.kind == BindingKind::Import && in_release_block(b.ident))
        });
        let is_module = scope.kind_name() == "module";
        if !(other_reads || other_bindings || model.is_declared(release)) || is_module {
            return ReleaseImport::Import;
        }
        if !other_bindings
            && !model.is_declared(release)
            && crate::syntax::imports_from(
                cx.file.tree.root_node(),
                &self.config.tracker_module,
                &self.config.release,
                src,
            )
        {
            return ReleaseImport::Global;
        }
        let alias = (1..)
            .map(|i| {
                format!(
                    "_{}{}",
                    self.config.release,
                    if i == 1 { String::new() } else { i.to_string() }
                )
            })
            .find(|a| !syntax::mentions(scope, a.as_bytes(), src))
            .expect("some name is free");
        ReleaseImport::Alias(alias)
    }

    /// `closing(helper())` and `closing(conn)` on a helper connection:
    /// `closing` closes it where no release can go first.
    fn closed_by_closing<'t>(&self, cx: &Context<'t>) -> Vec<Diagnostic> {
        let src = cx.src();
        let root = cx.file.tree.root_node();
        let mut out = Vec::new();
        syntax::identifiers(root, b"closing", src, 0, |ident, path| {
            let mut depth = path.len();
            if path.last().is_some_and(|p| p.kind_name() == "attribute") {
                depth -= 1;
            }
            let Some(call) = depth
                .checked_sub(1)
                .map(|i| path[i])
                .filter(|c| c.kind_name() == "call")
            else {
                return syntax::Step::Into;
            };
            let Some(first) = call.field(FIELDS.arguments).and_then(|a| a.named_child(0)) else {
                return syntax::Step::Into;
            };
            let _ = ident;
            let what = if cx.helpers().is_value(first, src) {
                Some(String::from_utf8_lossy(text(first, src)).into_owned())
            } else if first.kind_name() == "identifier" {
                let scope = path[..depth]
                    .iter()
                    .rev()
                    .find(|n| syntax::is_scope(**n))
                    .copied()
                    .unwrap_or(root);
                tracked(cx, scope, first)
                    .map(|_| String::from_utf8_lossy(text(first, src)).into_owned())
            } else {
                None
            };
            if let Some(what) = what {
                out.push(Diagnostic::new(
                    Code::CloseInExpression,
                    call,
                    format!(
                        "`closing({what})` closes the connection where no release can go before it, so its \
                         tracking is never released; bind it (`conn = ...`) and close it in a `finally`, \
                         where connfix adds the release"
                    ),
                ));
            }
            syntax::Step::Into
        });
        out
    }
    fn fix_run(&self, file: &SourceFile, run: &[Node], members: &[Close]) -> Diagnostic {
        let (src, style) = (file.text.as_slice(), &file.style);
        let block = run[0].parent().expect("a statement has a parent");
        let inline = block.kind_name() == "block" && syntax::is_inline_block(block);
        let names: Vec<String> = members
            .iter()
            .map(|(_, n, _)| format!("`{}`", String::from_utf8_lossy(n)))
            .collect();
        if !inline && !syntax::starts_line(run[0], src) {
            // The close continues a line ending in a backslash: a block put
            // before it would be joined to that line.
            return Diagnostic::new(
                ID,
                members[0].0,
                format!(
                    "{} closed without releasing its connection tracking; the close continues the line \
                     above (a backslash), where no release can go: put it on a line of its own",
                    names.join(", ")
                ),
            );
        }
        let base = if inline {
            let header = line_indent(src, block.parent().map_or(block, |h| h).start_byte());
            [header, style.unit_after(header)].concat()
        } else {
            line_indent(src, run[0].start_byte()).to_vec()
        };
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for stmt in run {
            if let Some((_, name, block)) = members.iter().find(|(m, _, _)| m == stmt) {
                let name = String::from_utf8_lossy(name);
                let block = match block {
                    Block::Attribute(import) => {
                        templates::release_block(&self.config, &name, import)
                    }
                    Block::Registry => {
                        let names = registry_names(file, &self.config);
                        templates::registry_release(&self.config, &name, &names)
                    }
                };
                lines.extend(Template(&block).render(&base, style));
            }
            lines.push([&base[..], text(*stmt, src)].concat());
        }
        let last = run.last().expect("a run has a statement").end_byte();
        let edit = if inline {
            let colon = syntax::header_colon(block).expect("an inline block follows a colon");
            Edit::replace(colon.end_byte()..last, after_line(&lines, style))
        } else {
            let mut text = lines.join(style.newline);
            text.drain(..base.len());
            Edit::replace(run[0].start_byte()..last, text)
        };
        Diagnostic::fix(
            ID,
            members[0].0,
            format!(
                "{} closed without releasing its connection tracking",
                names.join(", ")
            ),
            Fix::new(vec![edit]),
        )
    }
}
