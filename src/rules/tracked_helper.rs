// The documentation of each code this rule reports, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/tracked-helper.md")]
#![doc = include_str!("../../docs/rules/unrecognised-helper.md")]
#![doc = include_str!("../../docs/rules/not-a-helper.md")]
#![doc = include_str!("../../docs/rules/untrackable-connection.md")]

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::{Edit, Fix};
use crate::indent::{Template, after_line, before_statement};
use crate::project::{Form, Owner};
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
            )
            .shaped(function_shape),
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
            Code::NotAHelper,
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
                            cx,
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

/// `queries/tracked-helper.scm` in Rust: a definition with a name and a
/// body.
fn function_shape<'t>(n: Node<'t>, _: &[u8]) -> Vec<syntax::Captures<'t>> {
    match (n.field(FIELDS.name), n.field(FIELDS.body)) {
        (Some(name), Some(body))
            if name.kind_name() == "identifier" && body.kind_name() == "block" =>
        {
            vec![vec![("function", n), ("name", name), ("body", body)]]
        }
        _ => Vec::new(),
    }
}

/// One helper definition being looked at.
struct Helper<'a, 't> {
    rule: &'a TrackedHelper,
    cx: &'a Context<'t>,
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
        if let Some(what) = self.not_a_helper() {
            return Some(Diagnostic::new(
                Code::NotAHelper,
                self.function,
                format!(
                    "`{}` shares a helper's name but is {what}: connfix leaves it alone",
                    self.name
                ),
            ));
        }
        let mut acquires = false;
        let mut returns = Vec::new();
        let mut yields = Vec::new();
        syntax::walk_scope(body, false, |n| match n.kind_name() {
            "call" => {
                acquires |= calls_one_of(n, std::slice::from_ref(&config.acquire), src).is_some()
            }
            "return_statement" => returns.push(n),
            "yield" if n.is_named() => yields.push(n),
            _ => {}
        });
        // A method or function that hands on another helper's connection
        // (`def get_db_connection(self): return get_db_connection()`) is a
        // wrapper: the helper it calls tracks.
        let helpers = self.cx.helpers();
        if !returns.is_empty()
            && returns.iter().all(|r| {
                r.named_child(0).is_some_and(|v| {
                    matches!(v.kind_name(), "call" | "await") && helpers.is_value(v, src)
                })
            })
        {
            return None;
        }
        let summary = self
            .cx
            .local_helpers()
            .iter()
            .find(|(_, f, _)| *f == self.function)
            .map_or_else(
                || crate::project::summarize(self.function, src, config),
                |(_, _, s)| *s,
            );
        if acquires && summary.form == Form::Registry {
            // Tracked already (by connfix's registry form, or by hand).
            return None;
        }
        let stmts = statements(body);
        let last = *stmts.last()?;
        let simple = returns.len() == 1 && returns[0] == last;
        match summary.owner {
            _ if acquires => {}
            Owner::Helper => return self.generator(summary.form, &yields),
            Owner::Cache => return self.cached(summary.form, &returns),
            Owner::Caller if summary.form == Form::Registry || !simple => {
                return self.before_handouts(summary.form, &returns);
            }
            Owner::Caller => {}
        }
        if !simple {
            // Tracked already on some path (by hand or by connfix).
            return None;
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

    /// What the function is when it only shares a helper's name: a pytest
    /// fixture, or a decorator (it returns a function it defines).
    fn not_a_helper(&self) -> Option<&'static str> {
        let src = self.src();
        let decorators = crate::project::decorators(self.function, src);
        if decorators
            .iter()
            .any(|d| d.ends_with(b"fixture") || d.ends_with(b"fixture_async"))
        {
            return Some("a pytest fixture");
        }
        let body = self.function.field(FIELDS.body)?;
        let inner: Vec<&[u8]> = statements(body)
            .into_iter()
            .filter(|s| s.kind_name() == "function_definition")
            .filter_map(|f| f.field(FIELDS.name))
            .map(|n| text(n, src))
            .collect();
        let returns_inner = statements(body).iter().any(|s| {
            s.kind_name() == "return_statement"
                && s.named_child(0)
                    .is_some_and(|v| v.kind_name() == "identifier" && inner.contains(&text(v, src)))
        });
        returns_inner.then_some("a decorator (it returns the function it defines)")
    }

    /// The helper's context literal: `"file.py::helper"`.
    fn context(&self) -> String {
        let file_name = self
            .file
            .path
            .file_name()
            .map_or_else(|| "<stdin>".into(), |n| n.to_string_lossy());
        // The file name is text, not code: a quote, a backslash or a
        // control character in it must not end or change the literal.
        crate::templates::string_literal(&format!("{file_name}::{}", self.name))
    }

    /// The lines that track the connection `object` holds, in `form`;
    /// under `if object is not None:` when it may hold `None`.
    fn track_lines(&self, form: Form, object: &str, maybe_none: bool) -> String {
        let config = &self.rule.config;
        let lines = match form {
            Form::Registry => {
                let names = crate::templates::registry_names(self.file, config);
                crate::templates::registry_track(config, object, &names, &self.context())
            }
            Form::Attribute => {
                let import = if self.imports_acquire() {
                    String::new()
                } else {
                    format!("from {} import {}\n", config.tracker_module, config.acquire)
                };
                // The import first: the audit's comment sits right above
                // the acquire call, as in its Step 1.
                format!(
                    "{import}# Track this connection acquisition\ncontext, track_start = {}({})\n\
                     {object}._tracking_context = context\n{object}._tracking_start = track_start",
                    config.acquire,
                    self.context()
                )
            }
        };
        if !maybe_none {
            return lines;
        }
        let body: Vec<String> = lines.lines().map(|l| format!("    {l}")).collect();
        format!("if {object} is not None:\n{}", body.join("\n"))
    }

    /// The release block before a close of `object` in the helper's own
    /// code (a generator's `finally`, a cache's teardown).
    fn release_lines(&self, form: Form, object: &str) -> String {
        let config = &self.rule.config;
        match form {
            Form::Registry => {
                let names = crate::templates::registry_names(self.file, config);
                crate::templates::registry_release(config, object, &names)
            }
            Form::Attribute => crate::templates::release_block(
                config,
                object,
                &crate::templates::ReleaseImport::Import,
            ),
        }
    }

    /// An edit putting `lines` on lines of their own before `stmt`, or
    /// after it; `None` where `stmt` shares its line.
    fn insert(&self, stmt: Node, lines: &str, after: bool) -> Option<Edit> {
        let (src, style) = (self.src(), &self.file.style);
        if !syntax::own_lines(stmt, src) {
            return None;
        }
        let base = line_indent(src, stmt.start_byte()).to_vec();
        let rendered = Template(lines).render(&base, style);
        Some(if after {
            Edit::insert(line_end(src, stmt.end_byte()), after_line(&rendered, style))
        } else {
            Edit::insert(stmt.start_byte(), before_statement(&rendered, &base, style))
        })
    }

    /// Whether the name `value` reads always holds a connection the helper
    /// made (a call's value), or `None`: `Ok(true)` when it may be `None`.
    fn made_here(&self, value: Node<'t>) -> Result<bool, &'static str> {
        let model = self.cx.semantic.scope(self.function);
        let reference = model
            .reference_at(value)
            .ok_or("it hands out a name it does not bind")?;
        if reference.reaching.is_empty() {
            return Err("it hands out a name it does not bind");
        }
        let mut maybe_none = false;
        for b in reference.reaching.iter() {
            let binding = &model.bindings[*b as usize];
            let value = binding.value.filter(|_| {
                matches!(
                    binding.kind,
                    crate::semantic::BindingKind::Assign | crate::semantic::BindingKind::Walrus
                )
            });
            match value.map(|v| (v.kind_name(), v)) {
                Some(("call" | "await", v)) if may_make_connection(v, self.src()) => {}
                Some(("none", _)) => maybe_none = true,
                _ => {
                    return Err(
                        "it hands out a name that does not always hold a connection it made",
                    );
                }
            }
        }
        Ok(maybe_none)
    }

    /// Whether `stmt` is preceded by tracking of `object` (either form).
    fn tracked_before(&self, stmt: Node, object: &[u8]) -> bool {
        let src = self.src();
        let Some(prev) = syntax::prev_statement(stmt) else {
            return false;
        };
        let tracks = |s: Node| {
            crate::templates::is_registry_track(s, object, src)
                || statement_assignment(s)
                    .and_then(|a| a.field(FIELDS.left))
                    .is_some_and(|l| text(l, src) == [object, b"._tracking_start"].concat())
        };
        tracks(prev)
            || (prev.kind_name() == "if_statement"
                && prev
                    .field(FIELDS.consequence)
                    .and_then(|b| statements(b).last().copied())
                    .is_some_and(tracks))
    }

    /// A helper whose connection goes out through `return`s (several, in
    /// `try` clauses, or a raw connection): tracked right before each
    /// `return` that hands one out, so exactly the connections handed out
    /// are counted.
    fn before_handouts(&self, form: Form, returns: &[Node<'t>]) -> Option<Diagnostic> {
        let src = self.src();
        let mut edits = Vec::new();
        for ret in returns {
            let Some(value) = ret.named_child(0) else {
                continue;
            };
            match value.kind_name() {
                "none" => continue,
                "identifier" => {
                    let maybe_none = match self.made_here(value) {
                        Ok(maybe_none) => maybe_none,
                        Err(why) => return self.decline(why),
                    };
                    let name = text(value, src);
                    if self.tracked_before(*ret, name) {
                        continue;
                    }
                    let lines = self.track_lines(form, &String::from_utf8_lossy(name), maybe_none);
                    match self.insert(*ret, &lines, false) {
                        Some(edit) => edits.push(edit),
                        None => return self.decline("a `return` it would edit shares its line"),
                    }
                }
                "call" | "await" if !may_make_connection(value, src) => {
                    return self
                        .decline("it returns a call connfix does not know to make a connection");
                }
                "call" | "await" => {
                    let conn = ["conn", "connection", "db_conn", "_conn"]
                        .into_iter()
                        .find(|n| !syntax::mentions(self.function, n.as_bytes(), src))?;
                    let lines = format!(
                        "{conn} = {}\n{}\nreturn {conn}",
                        String::from_utf8_lossy(text(value, src)),
                        self.track_lines(form, conn, false)
                    );
                    if !syntax::own_lines(*ret, src) {
                        return self.decline("a `return` it would edit shares its line");
                    }
                    let base = line_indent(src, ret.start_byte()).to_vec();
                    let rendered = Template(&lines).render(&base, &self.file.style);
                    let mut replacement = rendered.join(self.file.style.newline);
                    replacement.drain(..base.len());
                    edits.push(Edit::replace(ret.byte_range(), replacement));
                }
                _ => return self.decline("it returns something other than a connection it made"),
            }
        }
        self.tracking_fix(form, edits)
    }

    /// The fix made of `edits`, if any, after the checks every form needs.
    fn tracking_fix(&self, form: Form, edits: Vec<Edit>) -> Option<Diagnostic> {
        if edits.is_empty() {
            return None;
        }
        let body = self.function.field(FIELDS.body)?;
        if form == Form::Attribute
            && ["context", "track_start"]
                .iter()
                .any(|n| syntax::mentions(body, n.as_bytes(), self.src()))
        {
            return self.decline("it already uses the name `context` or `track_start`");
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

    /// A generator or `@contextmanager` helper: tracked before each `yield`
    /// of the connection, released before each of its own closes of it.
    fn generator(&self, form: Form, yields: &[Node<'t>]) -> Option<Diagnostic> {
        let src = self.src();
        let mut edits = Vec::new();
        let mut names: Vec<&[u8]> = Vec::new();
        for y in yields {
            let statement = y
                .parent()
                .filter(|p| p.kind_name() == "expression_statement");
            let value = y.named_child(0).filter(|v| v.kind_name() == "identifier");
            let (Some(statement), Some(value)) = (statement, value) else {
                return self.decline("it yields something other than a connection it made, or uses the yield's value");
            };
            let maybe_none = match self.made_here(value) {
                Ok(maybe_none) => maybe_none,
                Err(why) => return self.decline(why),
            };
            let name = text(value, src);
            names.push(name);
            if self.tracked_before(statement, name) {
                continue;
            }
            let lines = self.track_lines(form, &String::from_utf8_lossy(name), maybe_none);
            match self.insert(statement, &lines, false) {
                Some(edit) => edits.push(edit),
                None => return self.decline("a `yield` it would edit shares its line"),
            }
        }
        let closes = self.closes_of(self.function, |object| names.contains(&object));
        for close in closes {
            let object = String::from_utf8_lossy(text_of_close(close, src)?).into_owned();
            match self.insert(close, &self.release_lines(form, &object), false) {
                Some(edit) => edits.push(edit),
                None => return self.decline("a close it would edit shares its line"),
            }
        }
        self.tracking_fix(form, edits)
    }

    /// Statements `X.close()` under `scope` (nested functions too) whose
    /// `X` text passes `wanted`, without a release block before them.
    fn closes_of(&self, scope: Node<'t>, wanted: impl Fn(&[u8]) -> bool) -> Vec<Node<'t>> {
        let src = self.src();
        let mut out = Vec::new();
        syntax::identifiers(scope, b"close", src, 0, |_, path| {
            let Some(stmt) = path
                .iter()
                .rev()
                .find(|n| n.kind_name() == "expression_statement")
            else {
                return syntax::Step::Into;
            };
            if let Some(object) = text_of_close(*stmt, src).filter(|o| wanted(o)) {
                let released = syntax::prev_statement(*stmt).is_some_and(|p| {
                    crate::templates::is_release_block(p, object, src)
                        || crate::templates::is_registry_release(p, object, src)
                });
                if !released && !out.contains(stmt) {
                    out.push(*stmt);
                }
            }
            syntax::Step::Into
        });
        out
    }

    /// A caching helper: tracked once, where it creates the connection
    /// (right after the assignment that keeps it), and released before
    /// the closes of what it keeps in this file (the teardown).
    fn cached(&self, form: Form, returns: &[Node<'t>]) -> Option<Diagnostic> {
        let src = self.src();
        let config = &self.rule.config;
        let body = self.function.field(FIELDS.body)?;
        // `@lru_cache`: the connection is made once, handed out by return.
        let decorated = crate::project::decorators(self.function, src)
            .iter()
            .any(|d| d.ends_with(b"cache"));
        if decorated {
            return self.before_handouts(form, returns);
        }
        let mut kept: Vec<(Node<'t>, Node<'t>)> = Vec::new();
        syntax::walk_scope(body, false, |n| {
            if n.kind_name() == "assignment"
                && n.parent()
                    .is_some_and(|p| p.kind_name() == "expression_statement")
            {
                let (targets, value) = crate::project::chain(n);
                let call = value.is_some_and(|v| matches!(v.kind_name(), "call" | "await"));
                if let Some(t) = targets
                    .iter()
                    .find(|t| matches!(t.kind_name(), "attribute" | "subscript" | "identifier"))
                    .filter(|_| call)
                {
                    kept.push((n.parent().expect("checked"), *t));
                }
            }
        });
        // Keep only the targets the function hands out (directly or via
        // the chain), as `summarize` found them.
        let returned: Vec<&[u8]> = returns
            .iter()
            .filter_map(|r| r.named_child(0))
            .map(|v| text(v, src))
            .collect();
        kept.retain(|(stmt, _)| {
            let (targets, _) = crate::project::chain(stmt.named_child(0).expect("an assignment"));
            targets.iter().any(|t| returned.contains(&text(*t, src)))
                && targets.iter().any(|t| t.kind_name() != "identifier")
                || targets.iter().any(|t| {
                    t.kind_name() == "identifier"
                        && returned.contains(&text(*t, src))
                        && self.declares_global(text(*t, src))
                })
        });
        if kept.is_empty() {
            return self.decline("it caches a connection in a way connfix does not follow");
        }
        let mut edits = Vec::new();
        let mut keys: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (stmt, target) in &kept {
            let object = text(*target, src);
            let after = syntax::next_statement(*stmt);
            if after.is_some_and(|a| crate::templates::is_registry_track(a, object, src)) {
                continue;
            }
            let lines = self.track_lines(form, &String::from_utf8_lossy(object), false);
            match self.insert(*stmt, &lines, true) {
                Some(edit) => edits.push(edit),
                None => return self.decline("the assignment it would edit shares its line"),
            }
            keys.push(cache_key(*target, src));
        }
        if edits.is_empty() {
            return None;
        }
        // The teardown: closes in this file of the kept object, or of a
        // name taken from where it is kept (`db = g.pop('db', None)`).
        let root = self.cx.file.tree.root_node();
        let teardown = self.closes_of(root, |object| {
            keys.iter().any(|(whole, _)| whole == object) || self.taken_from_cache(object, &keys)
        });
        if teardown.is_empty() {
            return self.decline(
                "it caches the connection, and no close of the cached connection (a teardown) is in this file",
            );
        }
        for close in teardown {
            let object = String::from_utf8_lossy(text_of_close(close, src)?).into_owned();
            if syntax::mentions(root, config.release.as_bytes(), src) && form == Form::Attribute {
                return self
                    .decline("its teardown's file already uses the release function's name");
            }
            match self.insert(close, &self.release_lines(form, &object), false) {
                Some(edit) => edits.push(edit),
                None => return self.decline("a close it would edit shares its line"),
            }
        }
        self.tracking_fix(form, edits)
    }

    fn declares_global(&self, name: &[u8]) -> bool {
        self.cx.semantic.scope(self.function).is_declared(name)
    }

    /// Whether the name `object` is bound, somewhere in the file, from
    /// where the connection is kept: a value that names the keeper's object
    /// and its key (`g.pop('db', None)`, `getattr(g, '_db', None)`).
    fn taken_from_cache(&self, object: &[u8], keys: &[(Vec<u8>, Vec<u8>)]) -> bool {
        let src = self.src();
        let mut found = false;
        syntax::identifiers(self.file.tree.root_node(), object, src, 0, |ident, path| {
            let Some(a) = path
                .last()
                .filter(|a| a.kind_name() == "assignment" && a.field(FIELDS.left) == Some(ident))
            else {
                return syntax::Step::Into;
            };
            let value = a
                .field(FIELDS.right)
                .map(|v| text(v, src))
                .unwrap_or_default();
            found |= keys.iter().any(|(whole, key)| {
                let owner = whole
                    .split(|b| *b == b'.' || *b == b'[')
                    .next()
                    .unwrap_or(whole);
                memchr::memmem::find(value, owner).is_some()
                    && memchr::memmem::find(value, key).is_some()
            });
            if found {
                syntax::Step::Stop
            } else {
                syntax::Step::Into
            }
        });
        found
    }

    fn handout(&self, stmts: &[Node<'t>], last: Node<'t>) -> Result<Handout<'t>, &'static str> {
        let src = self.src();
        let value = last.named_child(0).ok_or("it returns nothing")?;
        match value.kind_name() {
            "call" | "await" if !may_make_connection(value, src) => {
                Err("it returns a call connfix does not know to make a connection")
            }
            "call" | "await" => Ok(Handout::Call(value)),
            "identifier" => {
                let name = text(value, src);
                let bindings = count_bindings(self.function, name, src);
                let binding = stmts.iter().find(|s| {
                    statement_assignment(**s).is_some_and(|a| {
                        let left = a.field(FIELDS.left).map(|l| text(l, src));
                        left == Some(name)
                            && a.field(FIELDS.right).is_some_and(|r| {
                                r.kind_name() == "call" && may_make_connection(r, src)
                            })
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
            if !syntax::own_lines(stmt, src) {
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

/// `X` of the statement `X.close()` (no arguments).
fn text_of_close<'s>(stmt: Node, src: &'s [u8]) -> Option<&'s [u8]> {
    let call = syntax::statement_call(stmt)?;
    let function = call.field(FIELDS.function)?;
    let empty = call
        .field(FIELDS.arguments)
        .is_some_and(|a| a.named_child_count() == 0);
    (function.kind_name() == "attribute"
        && empty
        && function.field(FIELDS.attribute).map(|a| text(a, src)) == Some(b"close"))
    .then(|| function.field(FIELDS.object).map(|o| text(o, src)))
    .flatten()
}

/// Where a cache keeps a connection: the target's whole text, and its key
/// (the attribute's name, or the subscript's text, quotes stripped).
fn cache_key(target: Node, src: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let whole = text(target, src).to_vec();
    let key = match target.kind_name() {
        "attribute" => target.field(FIELDS.attribute).map(|a| text(a, src)),
        "subscript" => target.field(FIELDS.subscript).map(|s| text(s, src)),
        _ => None,
    }
    .unwrap_or(&whole)
    .iter()
    .copied()
    .filter(|b| !matches!(b, b'"' | b'\''))
    .collect();
    (whole, key)
}

/// Whether a call (awaited or not) may make a connection: anything but a
/// lookup of a setting (`os.getenv(...)`, `os.environ.get(...)`,
/// `config.get(...)`), which hands out a string that takes no attributes.
fn may_make_connection(value: Node, src: &[u8]) -> bool {
    let call = match value.kind_name() {
        "await" => match value.named_child(0) {
            Some(c) => c,
            None => return false,
        },
        _ => value,
    };
    let Some(callee) = call.field(FIELDS.function) else {
        return false;
    };
    let callee = text(callee, src);
    let last = callee.rsplit(|b| *b == b'.').next().unwrap_or(callee);
    !(callee.starts_with(b"os.") || matches!(last, b"getenv" | b"get" | b"format" | b"join"))
}
