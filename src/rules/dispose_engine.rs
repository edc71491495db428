// The documentation of each code this rule reports, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/dispose-engine.md")]
#![doc = include_str!("../../docs/rules/engine-escapes.md")]
#![doc = include_str!("../../docs/rules/module-engine.md")]

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::Fix;
use crate::rules::{Diagnostic, Fixes, Rule, Severity};
use crate::source::SourceFile;
use crate::syntax::{
    self, FIELDS, FieldChild, KindName, LazyQuery, Lineage, calls_one_of, method_call_on_name,
    statements, text,
};
use crate::wrap::{Finally, try_finally};

pub const ID: &str = "dispose-engine";
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
    fn codes(&self) -> &'static [&'static str] {
        &["dispose-engine", "engine-escapes", "module-engine"]
    }

    fn fixes(&self) -> Fixes {
        Fixes::Safe
    }

    fn needles(&self) -> Vec<String> {
        self.config.engine_factories.clone()
    }

    fn check(&self, file: &SourceFile) -> Vec<Diagnostic> {
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
    file: &'a SourceFile,
    call: Node<'t>,
    /// The call's ancestors.
    lineage: Lineage<'t>,
    factory: &'a str,
}

impl<'t> Engine<'_, 't> {
    fn src(&self) -> &[u8] {
        &self.file.text
    }

    fn report(&self, code: &'static str, message: String) -> Option<Diagnostic> {
        Some(Diagnostic::new(code, self.call, message))
    }

    fn check(&self) -> Option<Diagnostic> {
        let src = self.src();
        let factory = self.factory;
        let Some(function) = self.lineage.function() else {
            return self.report(
                "module-engine",
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
                "engine-escapes",
                format!("the engine from `{factory}(...)` is returned; the caller must dispose it"),
            );
        }
        let (Some(stmt), "assignment") = (statement, parent.kind_name()) else {
            return self.report("dispose-engine", format!(
                "the engine from `{factory}(...)` has no name, so nothing disposes it; bind it with \
                 `engine = {factory}(...)` and connfix will dispose it"
            ));
        };
        if parent.field(FIELDS.right) != Some(self.call) {
            return None;
        }
        let left = parent.field(FIELDS.left)?;
        if left.kind_name() != "identifier" {
            return self.report("engine-escapes", format!(
                "the engine from `{factory}(...)` is stored on `{}`, so it outlives the call; left alone",
                String::from_utf8_lossy(text(left, src))
            ));
        }
        let name = text(left, src);
        if let Some(why) = escapes(function, name, src) {
            return self.report(
                "engine-escapes",
                format!(
                    "engine `{}` {why}, so it outlives the call; left alone",
                    String::from_utf8_lossy(name)
                ),
            );
        }
        let dispose = self.rule.config.dispose_method.as_str();
        if self.disposed_in_enclosing_finally(stmt, function, name, dispose) {
            return None;
        }
        let block = stmt.parent()?;
        let siblings = statements(block);
        let at = siblings.iter().position(|s| *s == stmt)?;
        let after = &siblings[at + 1..];
        if after
            .iter()
            .any(|s| s.kind_name() == "try_statement" && finally_disposes(*s, name, dispose, src))
        {
            return None;
        }
        let bare = after.iter().position(|s| {
            syntax::statement_call(*s).and_then(|c| method_call_on_name(c, dispose, src))
                == Some(name)
        });
        let wrapped = &after[..bare.unwrap_or(after.len())];
        let name_text = String::from_utf8_lossy(name);
        if wrapped.is_empty() {
            if bare.is_some() {
                return None;
            }
            let message =
                format!("engine `{name_text}` is not used after it is created; nothing to wrap");
            return self
                .report("dispose-engine", message)
                .map(|d| d.with_severity(Severity::Info));
        }
        let is_async = factory
            .rsplit('.')
            .next()
            .is_some_and(|n| n.contains("async"));
        let function_is_async = function.child(0).is_some_and(|c| c.kind_name() == "async");
        if is_async && !function_is_async {
            return self.report("dispose-engine", format!(
                "async engine `{name_text}` is created in a function that is not `async`, where it cannot be \
                 awaited to dispose; dispose it by hand"
            ));
        }
        let last = *wrapped.last()?;
        let edges: Vec<Node> = [stmt, last]
            .into_iter()
            .chain(bare.map(|b| after[b]))
            .collect();
        let shared = (block.kind_name() == "block" && syntax::is_inline_block(block))
            || edges
                .iter()
                .any(|s| !syntax::starts_line(*s, src) || syntax::line_run(*s).len() != 1);
        if shared {
            return self.report("dispose-engine", format!(
                "engine `{name_text}` is never disposed, and its statements share lines; put them on lines \
                 of their own and connfix will wrap them"
            ));
        }
        Some(self.wrap(stmt, last, bare.map(|b| after[b]), &name_text, is_async))
    }

    fn disposed_in_enclosing_finally(
        &self,
        stmt: Node,
        function: Node,
        name: &[u8],
        dispose: &str,
    ) -> bool {
        let mut at = stmt;
        while let Some(parent) = at.parent() {
            if parent == function {
                break;
            }
            if parent.kind_name() == "try_statement"
                && at.kind_name() != "finally_clause"
                && finally_disposes(parent, name, dispose, self.src())
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
        Diagnostic::fix(
            ID,
            self.call,
            match bare {
                Some(bare) => format!(
                    "engine `{name}` from `{}(...)` is disposed on line {} only if nothing before it raises",
                    self.factory,
                    bare.start_position().row + 1
                ),
                None => format!(
                    "engine `{name}` from `{}(...)` is never disposed",
                    self.factory
                ),
            },
            Fix::new(vec![try_finally(self.file, stmt, last, finally)]),
        )
    }
}

/// Whether the try statement's `finally` calls `name.dispose()` anywhere.
fn finally_disposes(try_statement: Node, name: &[u8], dispose: &str, src: &[u8]) -> bool {
    let mut cursor = try_statement.walk();
    let Some(finally) = try_statement
        .named_children(&mut cursor)
        .find(|c| c.kind_name() == "finally_clause")
    else {
        return false;
    };
    let mut found = false;
    syntax::walk_scope(finally, true, |n| {
        found |= method_call_on_name(n, dispose, src) == Some(name)
    });
    found
}

/// Why the engine bound to `name` outlives the function, if it does.
fn escapes(function: Node, name: &[u8], src: &[u8]) -> Option<&'static str> {
    let body = function.field(FIELDS.body)?;
    let mut why = None;
    syntax::walk_scope(body, false, |n| {
        if why.is_some() || n == body {
            return;
        }
        why = match n.kind_name() {
            "return_statement" if syntax::mentions(n, name, src) => Some("is returned"),
            "yield" if syntax::mentions(n, name, src) => Some("is yielded"),
            "global_statement" | "nonlocal_statement" if syntax::mentions(n, name, src) => {
                Some("is a global")
            }
            "function_definition" | "class_definition" | "lambda"
                if syntax::mentions(n, name, src) =>
            {
                Some("is captured by a nested function")
            }
            "assignment" => {
                let stored = n.field(FIELDS.left).is_some_and(|l| {
                    !syntax::target_names(l).iter().any(|_| true)
                        || matches!(l.kind_name(), "attribute" | "subscript")
                });
                (stored
                    && n.field(FIELDS.right)
                        .is_some_and(|r| syntax::mentions(r, name, src)))
                .then_some("is stored on an attribute or item")
            }
            _ => None,
        };
    });
    why
}
