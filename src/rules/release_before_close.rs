// The documentation of each code this rule reports, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/release-before-close.md")]
#![doc = include_str!("../../docs/rules/close-in-expression.md")]

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::{Edit, Fix};
use crate::indent::{Template, after_line};
use crate::rules::{Diagnostic, Fixes, Rule};
use crate::source::{SourceFile, line_indent};
use crate::syntax::{
    self, FIELDS, FieldChild, KindName, LazyQuery, calls_one_of, statements, text,
};

pub const ID: &str = "release-before-close";

/// A close call (or its statement) and the name it closes.
type Close<'t, 's> = (Node<'t>, &'s [u8]);
/// A close call, its statement and the name it closes.
type Site<'t, 's> = (Node<'t>, Option<Node<'t>>, &'s [u8]);
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
            ),
            config: config.clone(),
        })
    }

    fn release_block(&self, name: &str) -> String {
        let (module, release) = (&self.config.tracker_module, &self.config.release);
        format!(
            "# Release tracking before closing connection\n\
             if hasattr({name}, '_tracking_context') and hasattr({name}, '_tracking_start'):\n\
             \x20   from {module} import {release}\n\
             \x20   {release}({name}._tracking_context, {name}._tracking_start)"
        )
    }
}

impl Rule for ReleaseBeforeClose {
    fn codes(&self) -> &'static [&'static str] {
        &["release-before-close", "close-in-expression"]
    }

    fn fixes(&self) -> Fixes {
        Fixes::Safe
    }

    fn needles(&self) -> Vec<String> {
        self.config.helpers.clone()
    }

    fn check(&self, file: &SourceFile) -> Vec<Diagnostic> {
        let src = file.text.as_slice();
        let mut out = Vec::new();
        // Close calls, grouped by the scope that holds them.
        let mut by_scope: Vec<(Node, Vec<Site>)> = Vec::new();
        syntax::for_each_match(&self.query, file, &["close".into()], |m| {
            if let (Some(close), Some(object)) = (m.get("close"), m.get("object")) {
                // The query's only pattern starts at the close call.
                let lineage = m.lineage();
                debug_assert_eq!(close, lineage.node());
                let scope = lineage.scope();
                let entry = (close, lineage.statement(), text(object, src));
                match by_scope.iter_mut().find(|(s, _)| *s == scope) {
                    Some((_, closes)) => closes.push(entry),
                    None => by_scope.push((scope, vec![entry])),
                }
            }
        });
        let mut targets: Vec<(Node, &[u8])> = Vec::new();
        for (scope, closes) in by_scope {
            let watch: Vec<Node> = closes.iter().filter_map(|(_, s, _)| *s).collect();
            let mut flow = Flow {
                src,
                helpers: &self.config.helpers,
                watch: watch.iter().map(|n| n.id()).collect(),
                seen: HashMap::new(),
            };
            let body = if scope.kind_name() == "module" {
                Some(scope)
            } else {
                scope.field(FIELDS.body)
            };
            let Some(body) = body else { continue };
            flow.block(body, BTreeSet::new());
            for (close, stmt, name) in closes {
                let Some(stmt) = stmt else {
                    continue;
                };
                if !flow
                    .seen
                    .get(&stmt.id())
                    .is_some_and(|names| names.contains(name))
                {
                    continue;
                }
                if syntax::statement_call(stmt) != Some(close) {
                    out.push(Diagnostic::new(
                        "close-in-expression",
                        close,
                        format!(
                            "`{}.close()` is inside an expression, where the release cannot go before it; \
                             make the close a statement of its own",
                            String::from_utf8_lossy(name)
                        ),
                    ));
                } else if !self.released_before(stmt, name, src) {
                    targets.push((stmt, name));
                }
            }
        }
        // One edit for each run of statements sharing a line.
        let mut runs: Vec<(Vec<Node>, Vec<Close>)> = Vec::new();
        for (stmt, name) in targets {
            let run = syntax::line_run(stmt);
            match runs.iter_mut().find(|(r, _)| r[0] == run[0]) {
                Some((_, members)) => members.push((stmt, name)),
                None => runs.push((run, vec![(stmt, name)])),
            }
        }
        for (run, members) in runs {
            out.push(self.fix_run(file, &run, &members));
        }
        out
    }
}

impl ReleaseBeforeClose {
    /// Whether the statement before `stmt` already releases `name`.
    fn released_before(&self, stmt: Node, name: &[u8], src: &[u8]) -> bool {
        let Some(prev) = syntax::prev_statement(stmt) else {
            return false;
        };
        let body = text(prev, src);
        let call = format!("{}(", self.config.release);
        let attribute = [name, b"._tracking_context"].concat();
        memchr::memmem::find(body, call.as_bytes()).is_some()
            && memchr::memmem::find(body, &attribute).is_some()
    }

    fn fix_run(&self, file: &SourceFile, run: &[Node], members: &[(Node, &[u8])]) -> Diagnostic {
        let (src, style) = (file.text.as_slice(), &file.style);
        let block = run[0].parent().expect("a statement has a parent");
        let inline = block.kind_name() == "block" && syntax::is_inline_block(block);
        let base = if inline {
            let header = line_indent(src, block.parent().map_or(block, |h| h).start_byte());
            [header, style.unit_after(header)].concat()
        } else {
            line_indent(src, run[0].start_byte()).to_vec()
        };
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for stmt in run {
            if let Some((_, name)) = members.iter().find(|(m, _)| m == stmt) {
                let block = self.release_block(&String::from_utf8_lossy(name));
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
        let names: Vec<String> = members
            .iter()
            .map(|(_, n)| format!("`{}`", String::from_utf8_lossy(n)))
            .collect();
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

/// The names that may hold a helper connection, followed through one
/// scope's statements in order (a may-analysis: a name tracked on any path
/// into a statement counts as tracked there).
struct Flow<'s> {
    src: &'s [u8],
    helpers: &'s [String],
    /// Statements whose incoming state is wanted.
    watch: std::collections::HashSet<usize>,
    seen: HashMap<usize, BTreeSet<&'s [u8]>>,
}

type State<'s> = BTreeSet<&'s [u8]>;

impl<'s> Flow<'s> {
    fn block(&mut self, block: Node, mut state: State<'s>) -> State<'s> {
        for stmt in statements(block) {
            state = self.statement(stmt, state);
        }
        state
    }

    fn branch(&mut self, block: Option<Node>, state: &State<'s>) -> State<'s> {
        match block {
            Some(block) => self.block(block, state.clone()),
            None => state.clone(),
        }
    }

    fn statement(&mut self, stmt: Node, mut state: State<'s>) -> State<'s> {
        if self.watch.contains(&stmt.id()) {
            self.seen
                .entry(stmt.id())
                .or_default()
                .extend(state.iter().copied());
        }
        let field = |id| stmt.field(id);
        match stmt.kind_name() {
            "expression_statement" => {
                if let Some(expr) = stmt
                    .named_child(0)
                    .filter(|e| e.kind_name() == "assignment")
                {
                    self.assignment(expr, &mut state);
                }
                state
            }
            "if_statement" => {
                let mut out = self.branch(field(FIELDS.consequence), &state);
                let mut has_else = false;
                let mut cursor = stmt.walk();
                for clause in stmt.children_by_field_id(FIELDS.alternative, &mut cursor) {
                    has_else |= clause.kind_name() == "else_clause";
                    let body = clause
                        .field(FIELDS.consequence)
                        .or_else(|| clause.field(FIELDS.body));
                    out.extend(self.branch(body, &state));
                }
                if !has_else {
                    out.extend(state);
                }
                out
            }
            "for_statement" | "while_statement" => {
                if let Some(left) = field(FIELDS.left) {
                    self.unbind(left, &mut state);
                }
                let once = self.branch(field(FIELDS.body), &state);
                let entry: State = state.union(&once).copied().collect();
                let twice = self.branch(field(FIELDS.body), &entry);
                let after: State = entry.union(&twice).copied().collect();
                let alternative = field(FIELDS.alternative).and_then(|e| e.field(FIELDS.body));
                let mut out = self.branch(alternative, &after);
                out.extend(after);
                out
            }
            "try_statement" => {
                let body = self.branch(field(FIELDS.body), &state);
                let entry: State = state.union(&body).copied().collect();
                let mut out = entry.clone();
                let mut finally = None;
                let mut cursor = stmt.walk();
                for clause in stmt.named_children(&mut cursor) {
                    match clause.kind_name() {
                        "except_clause" | "except_group_clause" => {
                            let block = clause
                                .named_children(&mut clause.walk())
                                .find(|c| c.kind_name() == "block");
                            out.extend(self.branch(block, &entry));
                        }
                        "else_clause" => out.extend(self.branch(clause.field(FIELDS.body), &body)),
                        "finally_clause" => {
                            finally = clause
                                .named_children(&mut clause.walk())
                                .find(|c| c.kind_name() == "block")
                        }
                        _ => {}
                    }
                }
                match finally {
                    Some(block) => self.block(block, out),
                    None => out,
                }
            }
            "with_statement" => {
                let mut targets = Vec::new();
                let mut cursor = stmt.walk();
                for clause in stmt
                    .named_children(&mut cursor)
                    .filter(|c| c.kind_name() == "with_clause")
                {
                    syntax::walk_scope(clause, false, |n| {
                        if n.kind_name() == "as_pattern_target" {
                            targets.push(n);
                        }
                    });
                }
                for target in targets {
                    self.unbind(target, &mut state);
                }
                self.branch(field(FIELDS.body), &state)
            }
            "match_statement" => {
                let mut out = state.clone();
                if let Some(body) = field(FIELDS.body) {
                    let mut cursor = body.walk();
                    for case in body
                        .named_children(&mut cursor)
                        .filter(|c| c.kind_name() == "case_clause")
                    {
                        out.extend(self.branch(case.field(FIELDS.consequence), &state));
                    }
                }
                out
            }
            "function_definition" | "class_definition" => {
                if let Some(name) = field(FIELDS.name) {
                    state.remove(text(name, self.src));
                }
                state
            }
            "decorated_definition" => {
                if let Some(name) = field(FIELDS.definition).and_then(|d| d.field(FIELDS.name)) {
                    state.remove(text(name, self.src));
                }
                state
            }
            "delete_statement" => {
                for name in syntax::bound_names(stmt) {
                    state.remove(text(name, self.src));
                }
                state
            }
            _ => state,
        }
    }

    /// `a = b = value`: every plain-name target becomes tracked if the value
    /// is a helper call, stays as it was if the value is `None`, and is
    /// untracked otherwise.
    fn assignment(&mut self, assignment: Node, state: &mut State<'s>) {
        let mut targets = Vec::new();
        let mut at = assignment;
        let value = loop {
            if let Some(left) = at.field(FIELDS.left) {
                targets.push(left);
            }
            match at.field(FIELDS.right) {
                Some(right) if right.kind_name() == "assignment" => at = right,
                other => break other,
            }
        };
        let Some(value) = value else { return };
        if value.kind_name() == "none" {
            return;
        }
        let helper = self.is_helper_call(value);
        for target in targets {
            if helper && target.kind_name() == "identifier" {
                state.insert(text(target, self.src));
            } else {
                self.unbind(target, state);
            }
        }
    }

    /// `helper()`, also awaited, parenthesised or as either branch of a
    /// conditional expression (iteratively: nesting can be deep).
    fn is_helper_call(&self, value: Node) -> bool {
        let mut stack = vec![value];
        while let Some(node) = stack.pop() {
            match node.kind_name() {
                "call" if calls_one_of(node, self.helpers, self.src).is_some() => return true,
                "await" | "parenthesized_expression" => stack.extend(node.named_child(0)),
                "conditional_expression" => {
                    let mut cursor = node.walk();
                    stack.extend(node.named_children(&mut cursor));
                }
                _ => {}
            }
        }
        false
    }

    fn unbind(&self, target: Node, state: &mut State<'s>) {
        for name in syntax::target_names(target) {
            state.remove(text(name, self.src));
        }
    }
}
