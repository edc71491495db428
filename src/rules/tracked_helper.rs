// The documentation of each code this rule reports, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/tracked-helper.md")]
#![doc = include_str!("../../docs/rules/unrecognised-helper.md")]
#![doc = include_str!("../../docs/rules/untrackable-connection.md")]

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::{Edit, Fix};
use crate::indent::{Template, after_line, before_statement};
use crate::rules::{Code, Context, Diagnostic, Fixes, Rule, last_parts};
use crate::source::{SourceFile, line_end, line_indent};
use crate::syntax::{
    self, FIELDS, FieldChild, KindName, LazyQuery, calls_one_of, statement_assignment, statements,
    text,
};

pub const ID: Code = Code::TrackedHelper;
const QUERY_FILE: &str = "tracked-helper.scm";

pub struct TrackedHelper {
    query: LazyQuery,
    names: Vec<String>,
    config: Config,
}

impl TrackedHelper {
    pub fn new(config: &Config) -> Result<TrackedHelper> {
        Ok(TrackedHelper {
            query: LazyQuery::new(
                QUERY_FILE,
                include_str!("../../queries/tracked-helper.scm"),
                "function_definition",
            ),
            names: last_parts(&config.helpers),
            config: config.clone(),
        })
    }
}

impl Rule for TrackedHelper {
    fn codes(&self) -> &'static [Code] {
        &[
            Code::TrackedHelper,
            Code::UnrecognisedHelper,
            Code::UntrackableConnection,
        ]
    }

    fn fixes(&self) -> Fixes {
        Fixes::Safe
    }

    /// The helpers' names alone: the needle was `def name`, with one
    /// space, which missed `def\tname` and a `def` that tree-sitter accepts
    /// across a line break; a debug check in `fix` found both.
    fn needles(&self) -> Vec<String> {
        self.names.clone()
    }

    fn check(&self, cx: &Context) -> Vec<Diagnostic> {
        let file = cx.file;
        let src = file.text.as_slice();
        let mut out = Vec::new();
        syntax::for_each_match(&self.query, file, &self.names, |m| {
            for function in m.all("function") {
                let Some(name) = function.field(FIELDS.name) else {
                    continue;
                };
                let name = String::from_utf8_lossy(text(name, src)).into_owned();
                if self.names.contains(&name) {
                    out.extend(
                        Helper {
                            rule: self,
                            file,
                            function,
                            name,
                        }
                        .check(),
                    );
                }
            }
        });
        out
    }
}

/// One helper definition being looked at.
struct Helper<'a, 't> {
    rule: &'a TrackedHelper,
    file: &'a SourceFile,
    function: Node<'t>,
    name: String,
}

/// What the helper's final `return` hands out.
enum Handout<'t> {
    /// `return connect(...)`: the call.
    Call(Node<'t>),
    /// `return conn` after `conn = connect(...)`: the binding statement.
    Name(Vec<u8>, Node<'t>),
}

impl<'t> Helper<'_, 't> {
    fn src(&self) -> &[u8] {
        &self.file.text
    }

    fn decline(&self, why: &str) -> Option<Diagnostic> {
        Some(Diagnostic::new(
            Code::UnrecognisedHelper,
            self.function,
            format!(
                "helper `{}` is not tracked and has a shape connfix does not rewrite ({why}); add the audit's tracking by hand",
                self.name
            ),
        ))
    }

    fn check(&self) -> Option<Diagnostic> {
        let config = &self.rule.config;
        let src = self.src();
        let body = self.function.field(FIELDS.body)?;
        let mut acquires = false;
        let mut returns = Vec::new();
        let mut generator = false;
        syntax::walk_scope(body, false, |n| match n.kind_name() {
            "call" => {
                acquires |= calls_one_of(n, std::slice::from_ref(&config.acquire), src).is_some()
            }
            "return_statement" => returns.push(n),
            "yield" => generator = true,
            _ => {}
        });
        if generator {
            return self.decline("it is a generator");
        }
        let stmts = statements(body);
        let last = *stmts.last()?;
        if returns.len() != 1 || returns[0] != last {
            return self.decline("it does not end in its only `return`");
        }
        let handout = self.handout(&stmts, last);
        if acquires {
            return self.complete_attributes(&stmts, last, handout.ok()?);
        }
        let handout = match handout {
            Ok(handout) => handout,
            Err(why) => return self.decline(why),
        };
        let call = match &handout {
            Handout::Call(call) => Some(*call),
            Handout::Name(_, binding) => {
                statement_assignment(*binding).and_then(|a| a.field(FIELDS.right))
            }
        };
        if let Some(raw) = call.and_then(|c| calls_one_of(c, &config.raw_connections, src)) {
            return Some(Diagnostic::new(
                Code::UntrackableConnection,
                self.function,
                format!(
                    "helper `{}` returns a `{}(...)` connection, which takes no attributes: the audit's \
                     `conn._tracking_context = ...` would raise AttributeError at run time, so connfix leaves \
                     it; wrap the connection in a class that accepts attributes, or track it in the tracker \
                     keyed by the connection",
                    self.name, config.raw_connections[raw]
                ),
            ));
        }
        if syntax::is_inline_block(body) {
            return self.decline("its body is on the `def` line");
        }
        if ["context", "track_start"]
            .iter()
            .any(|n| syntax::mentions(body, n.as_bytes(), src))
        {
            return self.decline("it already uses the name `context` or `track_start`");
        }
        self.instrument(&stmts, last, handout)
    }

    fn handout(&self, stmts: &[Node<'t>], last: Node<'t>) -> Result<Handout<'t>, &'static str> {
        let src = self.src();
        let value = last.named_child(0).ok_or("it returns nothing")?;
        match value.kind_name() {
            "call" => Ok(Handout::Call(value)),
            "identifier" => {
                let name = text(value, src);
                let bindings = count_bindings(self.function, name, src);
                let binding = stmts.iter().find(|s| {
                    statement_assignment(**s).is_some_and(|a| {
                        let left = a.field(FIELDS.left).map(|l| text(l, src));
                        left == Some(name)
                            && a.field(FIELDS.right)
                                .is_some_and(|r| r.kind_name() == "call")
                    })
                });
                match binding {
                    Some(binding) if bindings == 1 => Ok(Handout::Name(name.to_vec(), *binding)),
                    _ => Err(
                        "the returned name is not bound exactly once, by a call, in the function's body",
                    ),
                }
            }
            _ => Err("it returns neither a call nor a name"),
        }
    }

    fn instrument(
        &self,
        stmts: &[Node<'t>],
        last: Node<'t>,
        handout: Handout<'t>,
    ) -> Option<Diagnostic> {
        let config = &self.rule.config;
        let (src, style) = (self.src(), &self.file.style);
        let base = line_indent(src, last.start_byte()).to_vec();
        let anchor_stmt = match &handout {
            Handout::Call(_) => last,
            Handout::Name(_, binding) => *binding,
        };
        for stmt in [anchor_stmt, last] {
            if !syntax::starts_line(stmt, src) || syntax::line_run(stmt).len() != 1 {
                return self.decline("a statement it would edit shares its line");
            }
        }
        let file_name = self
            .file
            .path
            .file_name()
            .map_or_else(|| "<stdin>".into(), |n| n.to_string_lossy());
        // The file name is text, not code: a quote, a backslash or a
        // control character in it must not end or change the literal.
        let context = crate::templates::string_literal(&format!("{file_name}::{}", self.name));
        let acquisition = format!(
            "# Track this connection acquisition\ncontext, track_start = {}({context})",
            config.acquire
        );
        let import = format!("from {} import {}", config.tracker_module, config.acquire);

        let mut edits = Vec::new();
        let mut before_anchor = String::new();
        if !self.imports_acquire() {
            match self.import_anchor(stmts) {
                Some(after) if after != anchor_stmt => {
                    let blank_follows = src[line_end(src, after.end_byte())..]
                        .split(|b| *b == b'\n')
                        .nth(1)
                        .is_some_and(|l| l.iter().all(|b| b.is_ascii_whitespace()));
                    let lines = if blank_follows {
                        import.clone()
                    } else {
                        format!("{import}\n")
                    };
                    let rendered = Template(&lines).render(&base, style);
                    edits.push(Edit::insert(
                        line_end(src, after.end_byte()),
                        after_line(&rendered, style),
                    ));
                }
                _ => before_anchor = format!("{import}\n"),
            }
        }
        // The connection is made first and tracked once it exists: an
        // acquisition counted before a `connect()` that raises would be a
        // connection the tracker counts and nobody holds.
        let attributes = |name: &str| {
            format!(
                "{acquisition}\n{name}._tracking_context = context\n{name}._tracking_start = track_start"
            )
        };
        match handout {
            Handout::Call(call) => {
                let conn = ["conn", "connection", "db_conn", "_conn"]
                    .into_iter()
                    .find(|n| !syntax::mentions(self.function, n.as_bytes(), src))?;
                let mut text = if before_anchor.is_empty() {
                    Vec::new()
                } else {
                    before_statement(&Template(&before_anchor).render(&base, style), &base, style)
                };
                let rest = format!("{}\nreturn {conn}", attributes(conn));
                text.extend_from_slice(format!("{conn} = ").as_bytes());
                text.extend_from_slice(syntax::text(call, src));
                text.extend_from_slice(&after_line(&Template(&rest).render(&base, style), style));
                edits.push(Edit::replace(last.byte_range(), text));
            }
            Handout::Name(name, binding) => {
                let name = String::from_utf8_lossy(&name).into_owned();
                let base = line_indent(src, binding.start_byte()).to_vec();
                if !before_anchor.is_empty() {
                    let lines = Template(&before_anchor).render(&base, style);
                    edits.push(Edit::insert(
                        binding.start_byte(),
                        before_statement(&lines, &base, style),
                    ));
                }
                let lines = Template(&attributes(&name)).render(&base, style);
                edits.push(Edit::insert(
                    line_end(src, binding.end_byte()),
                    after_line(&lines, style),
                ));
            }
        }
        Some(Diagnostic::fix(
            ID,
            self.function,
            format!(
                "helper `{}` hands out a connection without tracking it",
                self.name
            ),
            Fix::new(edits),
        ))
    }

    /// The statement after which the import goes: the docstring or the last
    /// of the imports that open the body; `None` to put it first.
    fn import_anchor(&self, stmts: &[Node<'t>]) -> Option<Node<'t>> {
        let mut anchor = None;
        for (i, stmt) in stmts.iter().enumerate() {
            let docstring = i == 0
                && stmt.kind_name() == "expression_statement"
                && stmt
                    .named_child(0)
                    .is_some_and(|c| matches!(c.kind_name(), "string" | "concatenated_string"));
            let import = matches!(
                stmt.kind_name(),
                "import_statement" | "import_from_statement" | "future_import_statement"
            );
            if !(docstring || import) {
                break;
            }
            anchor = Some(*stmt);
        }
        anchor
    }

    /// Whether the module or the helper already imports the acquire function
    /// from the tracker module (at its top level).
    fn imports_acquire(&self) -> bool {
        let config = &self.rule.config;
        let src = self.src();
        let root = self.file.tree.root_node();
        let body = self.function.field(FIELDS.body);
        [Some(root), body]
            .into_iter()
            .flatten()
            .flat_map(statements)
            .any(|stmt| {
                stmt.kind_name() == "import_from_statement"
                    && stmt
                        .field(FIELDS.module_name)
                        .is_some_and(|m| text(m, src) == config.tracker_module.as_bytes())
                    && {
                        let mut cursor = stmt.walk();
                        stmt.children_by_field_id(FIELDS.name, &mut cursor)
                            .any(|n| text(n, src) == config.acquire.as_bytes())
                    }
            })
    }

    /// For a helper that already calls the acquire function as
    /// `a, b = acquire(...)` and returns a name: add whichever of the
    /// `_tracking_*` attribute lines is missing, before the return.
    fn complete_attributes(
        &self,
        stmts: &[Node<'t>],
        last: Node<'t>,
        handout: Handout<'t>,
    ) -> Option<Diagnostic> {
        let Handout::Name(name, _) = handout else {
            return None;
        };
        let (src, style) = (self.src(), &self.file.style);
        let acquire = std::slice::from_ref(&self.rule.config.acquire);
        let targets = stmts
            .iter()
            .filter_map(|s| statement_assignment(*s))
            .find_map(|a| {
                let right = a.field(FIELDS.right)?;
                let left = a.field(FIELDS.left)?;
                calls_one_of(right, acquire, src)?;
                let names = syntax::target_names(left);
                (names.len() == 2 && names.iter().all(|n| n.kind_name() == "identifier"))
                    .then(|| (text(names[0], src), text(names[1], src)))
            })?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let has = |attribute: &str| {
            let target = format!("{name}.{attribute}");
            stmts
                .iter()
                .filter_map(|s| statement_assignment(*s))
                .any(|a| {
                    a.field(FIELDS.left)
                        .is_some_and(|l| text(l, src) == target.as_bytes())
                })
        };
        let mut lines = Vec::new();
        for (attribute, value) in [
            ("_tracking_context", targets.0),
            ("_tracking_start", targets.1),
        ] {
            if !has(attribute) {
                lines.push(format!(
                    "{name}.{attribute} = {}",
                    String::from_utf8_lossy(value)
                ));
            }
        }
        if lines.is_empty() || !syntax::starts_line(last, src) {
            return None;
        }
        let base = line_indent(src, last.start_byte()).to_vec();
        let rendered = Template(&lines.join("\n")).render(&base, style);
        Some(Diagnostic::fix(
            ID,
            self.function,
            format!(
                "helper `{}` tracks the connection but does not store the tracking on it",
                self.name
            ),
            Fix::new(vec![Edit::insert(
                last.start_byte(),
                before_statement(&rendered, &base, style),
            )]),
        ))
    }
}

/// How many times `name` is bound in the function's own scope.
fn count_bindings(function: Node, name: &[u8], src: &[u8]) -> usize {
    let mut count = 0;
    let Some(body) = function.field(FIELDS.body) else {
        return 0;
    };
    syntax::walk_scope(body, false, |n| {
        count += syntax::bound_names(n)
            .iter()
            .filter(|b| text(**b, src) == name)
            .count();
    });
    count
}
