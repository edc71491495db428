// The documentation of each code this rule reports, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/dispose-engine.md")]
#![doc = include_str!("../../docs/rules/engine-escapes.md")]
#![doc = include_str!("../../docs/rules/module-engine.md")]

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::{Applicability, Fix};
use crate::rules::{Code, Context, Diagnostic, Fixes, Rule, Severity};
use crate::semantic::{BindingId, BindingKind, Role, ScopeModel};
use crate::source::SourceFile;
use crate::syntax::{
    self, FIELDS, FieldChild, KindName, LazyQuery, Lineage, calls_one_of, method_call_on_name,
    statements, text,
};
use crate::wrap::{Finally, try_finally};

pub const ID: Code = Code::DisposeEngine;
const QUERY_FILE: &str = "dispose-engine.scm";

pub struct DisposeEngine {
    query: LazyQuery,
    /// The factories' last dotted parts: every factory call holds one.
    anchors: Vec<String>,
    config: Config,
}

impl DisposeEngine {
    pub fn new(config: &Config) -> Result<DisposeEngine> {
        Ok(DisposeEngine {
            query: LazyQuery::template(
                QUERY_FILE,
                include_str!("../../queries/dispose-engine.scm"),
                "call",
                "@FACTORIES@",
                &config.engine_factories,
            ),
            anchors: crate::rules::last_parts(&config.engine_factories),
            config: config.clone(),
        })
    }
}

impl Rule for DisposeEngine {
    fn codes(&self) -> &'static [Code] {
        &[Code::DisposeEngine, Code::EngineEscapes, Code::ModuleEngine]
    }

    fn fixes(&self) -> Fixes {
        Fixes::Safe
    }

    fn needles(&self) -> Vec<String> {
        self.config.engine_factories.clone()
    }

    fn check(&self, cx: &Context) -> Vec<Diagnostic> {
        let file = cx.file;
        if self.config.engine_factories.is_empty() {
            return Vec::new();
        }
        let src = file.text.as_slice();
        let mut calls = Vec::new();
        syntax::for_each_match(&self.query, file, &self.anchors, |m| {
            // The query's only pattern starts at the call it captures.
            debug_assert_eq!(m.get("call"), Some(m.lineage().node()));
            calls.push(m.lineage().clone());
        });
        calls
            .into_iter()
            .filter_map(|lineage| {
                let call = lineage.node();
                let factory = calls_one_of(call, &self.config.engine_factories, src)?;
                Engine {
                    rule: self,
                    cx,
                    file,
                    call,
                    lineage,
                    factory: &self.config.engine_factories[factory],
                }
                .check()
            })
            .collect()
    }
}

/// One factory call being looked at.
struct Engine<'a, 't> {
    rule: &'a DisposeEngine,
    cx: &'a Context<'t>,
    file: &'t SourceFile,
    call: Node<'t>,
    /// The call's ancestors.
    lineage: Lineage<'t>,
    factory: &'a str,
}

impl<'t> Engine<'_, 't> {
    fn src(&self) -> &[u8] {
        &self.file.text
    }

    fn report(&self, code: Code, message: String) -> Option<Diagnostic> {
        Some(Diagnostic::new(code, self.call, message))
    }

    fn check(&self) -> Option<Diagnostic> {
        let src = self.src();
        let factory = self.factory;
        let Some(function) = self.lineage.function() else {
            return self.report(
                Code::ModuleEngine,
                format!(
                    "`{factory}(...)` at module or class level is long-lived by design; left alone"
                ),
            );
        };
        let parent = self.lineage.up(1)?;
        let statement = self.lineage.up(2).filter(|p| {
            self.lineage
                .up(3)
                .is_some_and(|b| matches!(b.kind_name(), "block" | "module"))
                && p.named_child_count() == 1
        });
        if parent.kind_name() == "return_statement" {
            return self.report(
                Code::EngineEscapes,
                format!("the engine from `{factory}(...)` is returned; the caller must dispose it"),
            );
        }
        let (Some(stmt), "assignment") = (statement, parent.kind_name()) else {
            return self.report(Code::DisposeEngine, format!(
                "the engine from `{factory}(...)` has no name, so nothing disposes it; bind it with \
                 `engine = {factory}(...)` and connfix will dispose it"
            ));
        };
        if parent.field(FIELDS.right) != Some(self.call) {
            return None;
        }
        let left = parent.field(FIELDS.left)?;
        if left.kind_name() != "identifier" {
            return self.report(Code::EngineEscapes, format!(
                "the engine from `{factory}(...)` is stored on `{}`, so it outlives the call; left alone",
                String::from_utf8_lossy(text(left, src))
            ));
        }
        let name = text(left, src);
        let name_text = String::from_utf8_lossy(name).into_owned();
        let dispose = self.rule.config.dispose_method.as_str();
        let model = self.cx.semantic.scope(function);
        // An engine made where no path reaches (after a `return`) is never
        // made.
        let binding = model
            .binding_at(left)
            .filter(|b| model.bindings[*b as usize].reachable)?;
        // A `finally` that disposes this engine: its `name.dispose()` reads
        // the name where this binding may reach it (not after `name = None`).
        // Every binding that may reach it is this one, or `name = None`
        // (the usual `engine = None` before the `try`): it disposes this
        // engine on every path that has one (not after `del name`).
        let reached = |ident: Node| {
            model.reference_at(ident).is_some_and(|r| {
                r.reaching.binary_search(&binding).is_ok()
                    && r.reaching.iter().all(|b| {
                        let other = &model.bindings[*b as usize];
                        *b == binding
                            || (other.kind == BindingKind::Assign
                                && other.value.is_some_and(|v| v.kind_name() == "none")
                                && other.ident.start_byte() < left.start_byte())
                    })
            })
        };
        if self.disposed_in_enclosing_finally(stmt, function, name, dispose, &reached) {
            return None;
        }
        let block = stmt.parent()?;
        let siblings = statements(block);
        let at = siblings.iter().position(|s| *s == stmt)?;
        let after = &siblings[at + 1..];
        // A later `try` whose `finally` disposes the engine: enough when it
        // comes right after (nothing can raise between); otherwise the
        // statements before it are wrapped too.
        let disposing = after.iter().position(|s| {
            s.kind_name() == "try_statement" && finally_disposes(*s, name, dispose, src, &reached)
        });
        if disposing == Some(0) {
            return None;
        }
        // The wrap ends at the first later statement of the block that
        // disposes the engine or binds its name again (`del engine`,
        // `engine = None`, a second engine): the engine is disposed before
        // the name lets go of it.
        let bare = after.iter().position(|s| {
            syntax::statement_call(*s).and_then(|c| method_call_on_name(c, dispose, src))
                == Some(name)
        });
        let rebound = after.iter().position(|s| {
            model
                .bindings_of(name)
                .any(|b| b != binding && model.bindings[b as usize].statement == *s)
        });
        let rebound = match (rebound, disposing) {
            (Some(r), Some(d)) => Some(r.min(d)),
            (r, d) => r.or(d),
        };
        let (end, bare) = match (bare, rebound) {
            (Some(b), Some(r)) if r < b => (r, None),
            (Some(b), _) => (b, Some(after[b])),
            (None, Some(r)) => (r, None),
            (None, None) => (after.len(), None),
        };
        let wrapped = &after[..end];
        // A wrap cut short by a rebinding must not take in a statement that
        // binds a name read after it (a second engine): the code still runs
        // the same, but that binding is then nested, and its own fix would
        // be lost.
        if end < after.len() {
            let region = wrapped
                .first()
                .zip(wrapped.last())
                .map(|(a, b)| a.start_byte()..b.end_byte());
            let inside = |n: Node| region.as_ref().is_some_and(|r| r.contains(&n.start_byte()));
            // (Or binds another engine: wrapped in this engine's `try`, its
            // own fix would wait for a pass in which it no longer applies.)
            let factories = &self.rule.config.engine_factories;
            let carried = model.bindings.iter().enumerate().any(|(b, other)| {
                b as BindingId != binding
                    && inside(other.ident)
                    && (model.uses(b as BindingId).any(|r| !inside(r.ident))
                        || other
                            .value
                            .is_some_and(|v| calls_one_of(v, factories, src).is_some()))
            });
            if carried {
                return self
                    .report(
                        Code::DisposeEngine,
                        format!(
                            "engine `{name_text}` is not disposed if the statements before line {} raise, and they \
                             bind names used after them, so connfix does not wrap them; dispose it by hand",
                            after[end].start_position().row + 1
                        ),
                    )
                    .map(|d| d.with_severity(Severity::Warning));
            }
        }
        // A dispose of the engine inside the statements to wrap (on some
        // paths): a finally would dispose it again; leave it to the author.
        let mut nested_dispose = None;
        for s in wrapped {
            syntax::walk_scope(*s, false, |n| {
                if nested_dispose.is_none()
                    && syntax::statement_call(n).and_then(|c| method_call_on_name(c, dispose, src))
                        == Some(name)
                {
                    nested_dispose = Some(n.start_position().row + 1);
                }
            });
        }
        if let Some(line) = nested_dispose {
            return self
                .report(
                    Code::DisposeEngine,
                    format!(
                        "engine `{name_text}` is disposed on line {line} only on some paths; dispose it in a \
                         `finally` by hand"
                    ),
                )
                .map(|d| d.with_severity(Severity::Warning));
        }
        let applicability = match self.escapes(&model, binding, wrapped, bare) {
            Escape::No => Applicability::Safe,
            Escape::Handed(callee) => {
                if wrapped.is_empty() {
                    return None;
                }
                let _ = callee;
                Applicability::Unsafe
            }
            Escape::Rebound(line) => {
                return self.report(
                    Code::DisposeEngine,
                    format!(
                        "engine `{name_text}` is never disposed, and its name is bound again on line {line}, \
                         inside the statements a `finally` would cover (it would dispose whatever the name \
                         holds then); dispose it by hand before that line"
                    ),
                )
                .map(|d| d.with_severity(Severity::Warning));
            }
            Escape::Outlives(why) => {
                return self.report(
                    Code::EngineEscapes,
                    format!("engine `{name_text}` {why}, so it outlives the call; left alone"),
                );
            }
        };
        let is_async = factory
            .rsplit('.')
            .next()
            .is_some_and(|n| n.contains("async"));
        let function_is_async = function.child(0).is_some_and(|c| c.kind_name() == "async");
        if is_async && !function_is_async {
            return self.report(Code::DisposeEngine, format!(
                "async engine `{name_text}` is created in a function that is not `async`, where it cannot be \
                 awaited to dispose; dispose it by hand"
            ));
        }
        if wrapped.is_empty() {
            if bare.is_some() {
                return None;
            }
            // Nothing uses the engine after it is made: nothing to wrap, and
            // it is reported (disposing it on the spot would be a new shape
            // of fix the stress run's AST oracle does not know yet).
            let _ = applicability;
            let message =
                format!("engine `{name_text}` is not used after it is created; nothing to wrap");
            return self
                .report(Code::DisposeEngine, message)
                .map(|d| d.with_severity(Severity::Info));
        }
        let last = *wrapped.last()?;
        let edges: Vec<Node> = [stmt, last].into_iter().chain(bare).collect();
        let shared = (block.kind_name() == "block" && syntax::is_inline_block(block))
            || !edges.iter().all(|s| syntax::own_lines(*s, src));
        if shared {
            return self.report(Code::DisposeEngine, format!(
                "engine `{name_text}` is never disposed, and its statements share lines; put them on lines \
                 of their own and connfix will wrap them"
            ));
        }
        let mut diagnostic = self.wrap(stmt, last, bare, &name_text, is_async);
        if let Escape::Handed(callee) = self.escapes(&model, binding, wrapped, bare) {
            diagnostic.severity = Severity::Warning;
            diagnostic.message = format!(
                "engine `{name_text}` is never disposed, and it is handed to `{callee}(...)`, which may keep \
                 it: disposing it is unsafe (`--unsafe-fixes` wraps it in try/finally); add `{callee}` to \
                 `borrowing_calls` if it only borrows the engine"
            );
            if let Some(fix) = diagnostic.fix.take() {
                diagnostic.fix = Some(Fix {
                    applicability,
                    ..fix
                });
            }
        }
        Some(diagnostic)
    }

    /// Whether the engine bound by `binding` can outlive the wrap of
    /// `wrapped` (and the `bare` dispose after it): a read its binding may
    /// reach that keeps it (returned, yielded, stored, put in a container,
    /// captured, a global), or that lies past the wrap (the engine is used
    /// after its block, or later in a loop). The engine's own methods and
    /// attributes, and the configured borrowing calls, only borrow it.
    fn escapes(
        &self,
        model: &ScopeModel<'t>,
        binding: BindingId,
        wrapped: &[Node],
        bare: Option<Node>,
    ) -> Escape {
        let src = self.src();
        let name = model.bindings[binding as usize].name;
        if model.is_declared(name) {
            return Escape::Outlives("is a global".into());
        }
        let inside = |n: Node| {
            let range = n.byte_range();
            wrapped
                .iter()
                .chain(bare.as_ref())
                .any(|s| s.start_byte() <= range.start && range.end <= s.end_byte())
        };
        let mut handed = None;
        for r in model.uses(binding) {
            let why = match r.role {
                Role::Returned => "is returned",
                Role::Yielded => "is yielded",
                Role::Stored => "is stored on an attribute, an item or another name",
                Role::Contained => "is put in a tuple, list, set or dict",
                Role::Captured => "is captured by a nested function",
                _ if !inside(r.ident) => {
                    return Escape::Outlives(format!(
                        "is used on line {} after the block that creates it",
                        r.ident.start_position().row + 1
                    ));
                }
                Role::Argument { call } => {
                    let borrows =
                        syntax::calls_one_of(call, &self.rule.config.borrowing_calls, src)
                            .is_some();
                    if !borrows && handed.is_none() {
                        let callee = call
                            .field(FIELDS.function)
                            .map_or(&b""[..], |f| text(f, src));
                        handed = Some(String::from_utf8_lossy(callee).into_owned());
                    }
                    continue;
                }
                _ => continue,
            };
            return Escape::Outlives(why.into());
        }
        // A binding of the name again inside the wrap, not at its level:
        // the finally would dispose whatever the name holds then.
        let rebinding = model.bindings_of(name).find(|b| {
            *b != binding
                && inside(model.bindings[*b as usize].ident)
                && !wrapped.contains(&model.bindings[*b as usize].statement)
        });
        if let Some(b) = rebinding {
            return Escape::Rebound(model.bindings[b as usize].ident.start_position().row + 1);
        }
        match handed {
            Some(callee) => Escape::Handed(callee),
            None => Escape::No,
        }
    }

    fn disposed_in_enclosing_finally(
        &self,
        stmt: Node,
        function: Node,
        name: &[u8],
        dispose: &str,
        reached: &dyn Fn(Node) -> bool,
    ) -> bool {
        let mut at = stmt;
        while let Some(parent) = at.parent() {
            // A loop between makes an engine per round: the `finally`
            // disposes only the last.
            if parent == function
                || matches!(parent.kind_name(), "for_statement" | "while_statement")
            {
                break;
            }
            if parent.kind_name() == "try_statement"
                && at.kind_name() != "finally_clause"
                && finally_disposes(parent, name, dispose, self.src(), reached)
            {
                return true;
            }
            at = parent;
        }
        false
    }

    /// Wrap the statements after `stmt` through `last` in try/finally; the
    /// bare dispose statement, if any, becomes the `finally` body.
    fn wrap(
        &self,
        stmt: Node,
        last: Node,
        bare: Option<Node>,
        name: &str,
        is_async: bool,
    ) -> Diagnostic {
        let finally = match bare {
            Some(bare) => Finally::Move {
                first: bare,
                last: bare,
            },
            None => Finally::New(format!(
                "{}{name}.{}()",
                if is_async { "await " } else { "" },
                self.rule.config.dispose_method
            )),
        };
        let message = match bare {
            Some(bare) => format!(
                "engine `{name}` from `{}(...)` is disposed on line {} only if nothing before it raises",
                self.factory,
                bare.start_position().row + 1
            ),
            None => format!(
                "engine `{name}` from `{}(...)` is never disposed",
                self.factory
            ),
        };
        match try_finally(self.file, stmt, last, finally) {
            Some(edit) => Diagnostic::fix(ID, self.call, message, Fix::new(vec![edit])),
            None => Diagnostic::new(
                ID,
                self.call,
                format!(
                    "{message}; the statements after it are indented unlike it, or with tabs \
                     behind spaces, so connfix does not wrap them: indent them consistently"
                ),
            ),
        }
    }
}

/// Whether `stmt` only closes things: `x.close()`, a release block, or an
/// `if` around such statements. The statements of a `finally` before its
/// dispose must be such, or an exception in them skips the dispose.
fn closes_only(stmt: Node, src: &[u8]) -> bool {
    if let Some(call) = syntax::statement_call(stmt) {
        return method_call_on_name(call, "close", src).is_some();
    }
    if stmt.kind_name() != "if_statement" || stmt.field(FIELDS.alternative).is_some() {
        return false;
    }
    let condition = stmt.field(FIELDS.condition).map(|c| text(c, src));
    if condition.is_some_and(|c| memchr::memmem::find(c, b"_tracking_context").is_some()) {
        return true;
    }
    stmt.field(FIELDS.consequence)
        .is_some_and(|body| statements(body).into_iter().all(|s| closes_only(s, src)))
}

/// Whether, and how, an engine can outlive its wrap.
enum Escape {
    No,
    /// Handed to a call not known to only borrow it: disposing it is
    /// unsafe.
    Handed(String),
    /// Kept beyond the call: left alone, with this reason.
    Outlives(String),
    /// The name is bound again, on this line, inside the statements to
    /// wrap (not at their level, where the wrap would end before it).
    Rebound(usize),
}

/// Whether the try statement's `finally` always calls `name.dispose()`, on
/// a read of the name that `reached` accepts.
fn finally_disposes(
    try_statement: Node,
    name: &[u8],
    dispose: &str,
    src: &[u8],
    reached: &dyn Fn(Node) -> bool,
) -> bool {
    let mut cursor = try_statement.walk();
    let Some(finally) = try_statement
        .named_children(&mut cursor)
        .find(|c| c.kind_name() == "finally_clause")
    else {
        return false;
    };
    let mut cursor = finally.walk();
    let Some(block) = finally
        .named_children(&mut cursor)
        .find(|c| c.kind_name() == "block")
    else {
        return false;
    };
    // `name.dispose()` as a statement of the `finally`, or of an `if name:`
    // (`if name is not None:`) there: it runs whenever there is an engine.
    // A dispose under any other condition may not run.
    let disposes = |stmt: Node| {
        syntax::statement_call(stmt).is_some_and(|call| {
            let object = call
                .field(FIELDS.function)
                .and_then(|f| f.field(FIELDS.object));
            method_call_on_name(call, dispose, src) == Some(name) && object.is_some_and(reached)
        })
    };
    // Only while nothing before it in the `finally` can leave it (a
    // `return` there skips the dispose).
    let mut left = false;
    statements(block).into_iter().any(|stmt| {
        if left {
            return false;
        }
        let here = disposes(stmt)
            || (stmt.kind_name() == "if_statement"
                && stmt.field(FIELDS.alternative).is_none()
                && stmt.field(FIELDS.condition).is_some_and(|c| {
                    let condition = text(c, src);
                    condition == name || condition == [name, b" is not None"].concat()
                })
                && stmt
                    .field(FIELDS.consequence)
                    .is_some_and(|body| statements(body).into_iter().any(disposes)));
        syntax::walk_scope(stmt, false, |n| {
            left |= matches!(
                n.kind_name(),
                "return_statement" | "raise_statement" | "break_statement" | "continue_statement"
            )
        });
        // Nor after a statement that may raise: only closes (and the
        // releases before them, and `if x:` around them) are taken not to.
        left |= !here && !closes_only(stmt, src);
        here
    })
}
