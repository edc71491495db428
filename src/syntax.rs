//! Small questions about the Python syntax tree that several rules ask:
//! which node is a statement, what a call calls, where a scope ends, which
//! statements share a line. Answers only; no rule logic.

use std::num::NonZeroU16;
use std::sync::{LazyLock, OnceLock};

use tree_sitter::{Node, Query, QueryCursor, StreamingIterator, TreeCursor};

use anyhow::Result;

use crate::source::SourceFile;

/// The Python grammar, for the parsers, the queries and the tables below.
pub static LANGUAGE: LazyLock<tree_sitter::Language> =
    LazyLock::new(|| tree_sitter_python::LANGUAGE.into());

/// A query shipped in `queries/`, compiled the first time a file needs it.
/// Compiling costs 1-4 ms a query, as much as the rest of a run over a
/// repository in which few files hold a needle (the standard library: 5 of
/// 1,790); files with no needle never need one.
pub struct LazyQuery {
    file: &'static str,
    source: String,
    /// The kind id of the node every pattern of the query starts at.
    kind: u16,
    /// Compiled by the first thread that needs it; the others wait for it.
    compiled: OnceLock<Result<Query, String>>,
    /// The query's matches at a node, written in Rust: compiling a query
    /// costs milliseconds (tree-sitter analyses the grammar's tables for
    /// each), more than checking a file. With a shape, the query is the
    /// specification the shape is checked against (`self_check`), not run.
    shape: Option<Shape>,
}

/// A query's matches at one node: for each, its captures by name.
pub type Shape = for<'t> fn(Node<'t>, &[u8]) -> Vec<Captures<'t>>;

/// One match's captures, by capture name.
pub type Captures<'t> = Vec<(&'static str, Node<'t>)>;

impl LazyQuery {
    /// `kind`: the kind of node every pattern of the query starts at.
    pub fn new(file: &'static str, source: &str, kind: &str) -> LazyQuery {
        let kind_id = LANGUAGE.id_for_node_kind(kind, true);
        assert_ne!(kind_id, 0, "`{kind}` is not a node kind");
        LazyQuery {
            file,
            source: source.to_string(),
            kind: kind_id,
            compiled: OnceLock::new(),
            shape: None,
        }
    }

    /// Match by `shape` instead of running the query (see `shape`).
    pub fn shaped(self, shape: Shape) -> LazyQuery {
        LazyQuery {
            shape: Some(shape),
            ..self
        }
    }

    /// A query template: `placeholder` becomes the configured names' last
    /// dotted parts, quoted (for an `#any-of?` predicate), so the query only
    /// matches candidate calls; the whole names are checked in Rust. The
    /// configuration allows only Python names, so a template compiles
    /// whatever the names.
    pub fn template(
        file: &'static str,
        source: &str,
        kind: &str,
        placeholder: &str,
        names: &[String],
    ) -> LazyQuery {
        let quoted: Vec<String> = names
            .iter()
            .map(|n| format!("\"{}\"", n.rsplit('.').next().unwrap_or(n)))
            .collect();
        LazyQuery::new(file, &source.replace(placeholder, &quoted.join(" ")), kind)
    }

    /// The compiled query; an error names the query's file.
    pub fn compile(&self) -> Result<&Query> {
        self.compiled
            .get_or_init(|| {
                Query::new(&LANGUAGE, &self.source)
                    .map_err(|e| format!("queries/{}: the query does not compile: {e}", self.file))
            })
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The compiled query. Every shipped query compiles with any configured
    /// names (the tests compile each one), so a failure is a bug in connfix.
    fn get(&self) -> &Query {
        self.compile()
            .unwrap_or_else(|e| panic!("a shipped query does not compile: {e:#}"))
    }
}

/// One match of a query: its captured nodes, by capture name.
pub struct Match<'a, 't> {
    captures: Vec<(&'a str, Node<'t>)>,
    lineage: &'a Lineage<'t>,
}

impl<'a, 't> Match<'a, 't> {
    /// The node the match starts at (of one of the kinds `for_each_match`
    /// was given), with its ancestors.
    pub fn lineage(&self) -> &'a Lineage<'t> {
        self.lineage
    }

    /// The first node captured as `@name`, if any.
    pub fn get(&self, name: &str) -> Option<Node<'t>> {
        self.all(name).next()
    }

    /// Every node captured as `@name`.
    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = Node<'t>> + 's {
        self.captures
            .iter()
            .filter(move |c| c.0 == name)
            .map(|c| c.1)
    }
}

/// Call `each` with every match of `query` in `file` whose outermost node
/// (of the query's kind) holds an occurrence of one of `anchors`: words
/// every match the rule cares about holds (a called name's last part,
/// `close`, `with`).
///
/// A query cursor costs several times what a plain cursor walk costs for
/// every node it visits, and even one walk of the whole tree costs a good
/// part of a parse. Instead, each occurrence of an anchor in the text leads
/// one cursor from the root down to it, and the query runs pinned to the
/// nodes of its kind on that path: the cost follows the occurrences, not the
/// size of the file. When connfix checks itself (`self_check`), it checks the matches are those
/// of a whole-tree run at the nodes that hold an anchor, so a query whose
/// outermost kind changes without its `LazyQuery` fails loudly.
pub fn for_each_match<'t>(
    lazy: &LazyQuery,
    file: &'t SourceFile,
    anchors: &[String],
    mut each: impl FnMut(Match<'_, 't>),
) {
    let nodes = holding(file, lazy.kind, anchors);
    if nodes.is_empty() {
        return;
    }
    let src = file.text.as_slice();
    let check = crate::self_check();
    if let Some(shape) = lazy.shape {
        for lineage in &nodes {
            for captures in shape(lineage.node(), src) {
                each(Match { captures, lineage });
            }
        }
        if check {
            check_shape(lazy, shape, file, &nodes);
        }
        return;
    }
    let query = lazy.get();
    let names = query.capture_names();
    let mut seen = Vec::new();
    let mut matches_at = QueryCursor::new();
    matches_at.set_max_start_depth(Some(0));
    for lineage in &nodes {
        let mut matches = matches_at.matches(query, lineage.node(), src);
        while let Some(m) = matches.next() {
            if check {
                seen.push(match_key(m));
            }
            each(Match {
                captures: m
                    .captures()
                    .iter()
                    .map(|c| (names[c.index as usize], c.node))
                    .collect(),
                lineage,
            });
        }
    }
    if check {
        for lineage in &nodes {
            for pair in lineage.0.windows(2) {
                assert_eq!(
                    pair[1].parent(),
                    Some(pair[0]),
                    "a lineage is a chain of parents"
                );
            }
            assert_eq!(lineage.scope(), enclosing_scope(lineage.node()));
            assert_eq!(lineage.statement(), enclosing_statement(lineage.node()));
        }
        let holds = |node: Node| {
            anchors
                .iter()
                .any(|a| memchr::memmem::find(text(node, src), a.as_bytes()).is_some())
        };
        let (mut pinned, mut anchored) = (Vec::new(), Vec::new());
        for node in file.nodes_of_kinds(&[lazy.kind]) {
            let mut path = vec![node];
            while let Some(parent) = path[0].parent() {
                path.insert(0, parent);
            }
            let mut matches = matches_at.matches(query, node, src);
            while let Some(m) = matches.next() {
                pinned.push(match_key(m));
                if holds(node) && sound(&path) {
                    anchored.push(match_key(m));
                }
            }
        }
        let mut whole = Vec::new();
        let mut cursor = QueryCursor::new();
        let mut matches = cursor.matches(query, file.tree.root_node(), src);
        while let Some(m) = matches.next() {
            whole.push(match_key(m));
        }
        for keys in [&mut seen, &mut pinned, &mut anchored, &mut whole] {
            keys.sort();
        }
        assert_eq!(
            pinned, whole,
            "for_each_match: queries/{} matches outside its node kind",
            lazy.file
        );
        assert_eq!(
            seen, anchored,
            "for_each_match: the anchors {anchors:?} led to other nodes than those holding them"
        );
    }
}

/// `self_check`: at every node of the query's kind in the file, `shape`
/// finds the matches the query finds, capture for capture.
fn check_shape(lazy: &LazyQuery, shape: Shape, file: &SourceFile, nodes: &[Lineage]) {
    let query = lazy.get();
    let names = query.capture_names();
    let src = file.text.as_slice();
    let mut cursor = QueryCursor::new();
    cursor.set_max_start_depth(Some(0));
    let key = |captures: &[(&str, Node)]| {
        let mut key: Vec<(String, usize, usize)> = captures
            .iter()
            .map(|(n, node)| (n.to_string(), node.start_byte(), node.end_byte()))
            .collect();
        key.sort();
        key
    };
    let all: Vec<Node> = file.nodes_of_kinds(&[lazy.kind]).collect();
    for node in all.iter().copied().chain(nodes.iter().map(|l| l.node())) {
        let mut by_query = Vec::new();
        let mut matches = cursor.matches(query, node, src);
        while let Some(m) = matches.next() {
            let captures: Vec<(&str, Node)> = m
                .captures()
                .iter()
                .map(|c| (names[c.index as usize], c.node))
                .collect();
            by_query.push(key(&captures));
        }
        let mut by_shape: Vec<_> = shape(node, src).iter().map(|c| key(c)).collect();
        by_query.sort();
        by_shape.sort();
        assert_eq!(
            by_shape,
            by_query,
            "queries/{}: the Rust shape and the query disagree at {:?}",
            lazy.file,
            node.start_position()
        );
    }
}

/// The nodes of kind id `kind` that hold a whole occurrence of one of
/// `anchors`, in pre-order (document order, a node before those inside it).
/// In a `partial` file, only those where the tree is `sound`.
fn holding<'t>(file: &'t SourceFile, kind: u16, anchors: &[String]) -> Vec<Lineage<'t>> {
    let mut out: Vec<Lineage> = Vec::new();
    let root = file.tree.root_node();
    let mut cursor = file.tree.walk();
    let mut path: Vec<Node> = Vec::new();
    for anchor in anchors.iter().filter(|a| !a.is_empty()) {
        for start in memchr::memmem::find_iter(&file.text, anchor.as_bytes()) {
            descend(&mut cursor, root, start..start + anchor.len(), &mut path);
            for (i, node) in path.iter().enumerate() {
                if node.kind_id() == kind && (!file.partial || sound(&path[..=i])) {
                    out.push(Lineage(path[..=i].to_vec()));
                }
            }
        }
    }
    out.sort_by_key(|l| {
        let n = l.node();
        (n.start_byte(), std::cmp::Reverse(n.end_byte()), n.id())
    });
    out.dedup_by_key(|l| l.node().id());
    out
}

/// The part of the tree a node's soundness is judged by: its innermost
/// function (the node itself, if it is one), or outside functions the
/// top-level statement that holds it. `path`: the node's ancestors, root
/// first, and the node.
fn unit<'a, 't>(path: &'a [Node<'t>]) -> &'a Node<'t> {
    let function = KINDS.function_definition;
    path.iter()
        .rev()
        .find(|n| n.kind_id() == function)
        .or(path.get(1))
        .unwrap_or(&path[0])
}

/// Whether the tree can be trusted at the node at the end of `path` (its
/// ancestors, root first): no ERROR node above it, and its `unit` holds no
/// ERROR or MISSING node. A file tree-sitter cannot fully read, but which is
/// valid Python (the judge says so), is fixed only where this holds:
/// elsewhere tree-sitter's guess at the structure may be wrong.
pub fn sound(path: &[Node]) -> bool {
    !path[0].has_error() || (!path.iter().any(|n| n.is_error()) && !unit(path).has_error())
}

/// Where the rules leave a `partial` file alone: for each ERROR or MISSING
/// node (not those inside another ERROR node), the node and the `unit`
/// that holds it, in document order, one per unit.
pub fn unsound_regions(file: &SourceFile) -> Vec<(Node<'_>, Node<'_>)> {
    let mut out: Vec<(Node, Node)> = Vec::new();
    let mut path = vec![file.tree.root_node()];
    let mut cursor = file.tree.walk();
    // Only subtrees that hold an error are entered: a tree-sitter cursor
    // walk, with `path` kept at the cursor's depth.
    'walk: loop {
        let node = cursor.node();
        let error = node.is_error() || node.is_missing();
        if error {
            let unit = *unit(&path);
            if !out.iter().any(|(_, u)| *u == unit) {
                out.push((node, unit));
            }
        }
        if !error && node.has_error() && cursor.goto_first_child() {
            path.push(cursor.node());
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                *path.last_mut().expect("the path holds the cursor's node") = cursor.node();
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
            path.pop();
        }
    }
    out
}

/// A node with its ancestors, the root first and the node last: what
/// climbing with `Node::parent` gives, without its cost (each `parent` call
/// descends from the root again).
#[derive(Debug, Clone)]
pub struct Lineage<'t>(Vec<Node<'t>>);

impl<'t> Lineage<'t> {
    pub fn node(&self) -> Node<'t> {
        *self.0.last().expect("a lineage holds at least its node")
    }

    /// The `n`th ancestor: 1 is the parent.
    pub fn up(&self, n: usize) -> Option<Node<'t>> {
        self.0.len().checked_sub(n + 1).map(|i| self.0[i])
    }

    /// `enclosing_scope` of the node.
    pub fn scope(&self) -> Node<'t> {
        let above = &self.0[..self.0.len() - 1];
        above
            .iter()
            .rev()
            .copied()
            .find(|a| is_scope(*a))
            .unwrap_or(self.0[0])
    }

    /// The outermost function around the node (the node's own scope when
    /// it is in no function): where a name of a nested function's closure
    /// is bound.
    pub fn outermost_scope(&self) -> Node<'t> {
        self.0
            .iter()
            .copied()
            .find(|n| n.kind_name() == "function_definition")
            .unwrap_or_else(|| self.scope())
    }

    /// `enclosing_function` of the node.
    pub fn function(&self) -> Option<Node<'t>> {
        let scope = self.scope();
        (scope.kind_name() == "function_definition").then_some(scope)
    }

    /// `enclosing_statement` of the node.
    pub fn statement(&self) -> Option<Node<'t>> {
        (1..self.0.len())
            .rev()
            .map(|i| (self.0[i], self.0[i - 1]))
            .find_map(|(n, parent)| {
                (n.is_named()
                    && n.kind_name() != "comment"
                    && matches!(parent.kind_name(), "block" | "module"))
                .then_some(n)
            })
    }
}

type MatchKey = (usize, Vec<(u32, usize, usize)>);

fn match_key(m: &tree_sitter::QueryMatch) -> MatchKey {
    let mut captures: Vec<(u32, usize, usize)> = m
        .captures()
        .iter()
        .map(|c| (c.index, c.node.start_byte(), c.node.end_byte()))
        .collect();
    captures.sort();
    (m.pattern_index, captures)
}

pub fn text<'a>(node: Node, src: &'a [u8]) -> &'a [u8] {
    &src[node.byte_range()]
}

pub fn is_scope(node: Node) -> bool {
    matches!(
        node.kind_name(),
        "function_definition" | "class_definition" | "module"
    )
}

/// The function, class or module whose body holds `node` (a function's
/// name and parameters belong to the enclosing scope, but rules only ask
/// about nodes in bodies).
pub fn enclosing_scope(node: Node) -> Node {
    let mut at = node;
    while let Some(parent) = at.parent() {
        if is_scope(parent) {
            return parent;
        }
        at = parent;
    }
    at
}

/// The nearest enclosing function definition, if `node` is not at module or
/// class level.
pub fn enclosing_function(node: Node) -> Option<Node> {
    let scope = enclosing_scope(node);
    (scope.kind_name() == "function_definition").then_some(scope)
}

/// A statement is a child of a block or of the module.
pub fn is_statement(node: Node) -> bool {
    node.is_named()
        && node.kind_name() != "comment"
        && node
            .parent()
            .is_some_and(|p| matches!(p.kind_name(), "block" | "module"))
}

/// The statement that holds `node` (itself if it is one).
pub fn enclosing_statement(node: Node) -> Option<Node> {
    let mut at = node;
    loop {
        if is_statement(at) {
            return Some(at);
        }
        at = at.parent()?;
    }
}

/// The statements of a block or module, without comments.
pub fn statements(block: Node) -> Vec<Node> {
    let mut cursor = block.walk();
    block
        .named_children(&mut cursor)
        .filter(|n| n.kind_name() != "comment")
        .collect()
}

/// The statement after `node` in its block, past comments.
pub fn next_statement(node: Node) -> Option<Node> {
    let mut next = node.next_named_sibling();
    while let Some(c) = next.filter(|c| c.kind_name() == "comment") {
        next = c.next_named_sibling();
    }
    next
}

/// The statement before `node` in its block, past comments.
pub fn prev_statement(node: Node) -> Option<Node> {
    let mut prev = node.prev_named_sibling();
    while let Some(c) = prev.filter(|c| c.kind_name() == "comment") {
        prev = c.prev_named_sibling();
    }
    prev
}

/// Whether `call` calls one of `names`: `name(...)`, or `x.name(...)` for
/// any `x`; a dotted name (`socket.socket`) matches the end of the callee.
pub fn calls_one_of(call: Node, names: &[String], src: &[u8]) -> Option<usize> {
    if call.kind_name() != "call" {
        return None;
    }
    callee_is_one_of(call.field(FIELDS.function)?, names, src)
}

/// Whether the expression `callee` names one of `names`, as `calls_one_of`
/// matches a call's function.
pub fn callee_is_one_of(callee: Node, names: &[String], src: &[u8]) -> Option<usize> {
    if !matches!(callee.kind_name(), "identifier" | "attribute") {
        return None;
    }
    let callee = text(callee, src);
    names.iter().position(|name| {
        let name = name.as_bytes();
        callee == name
            || (callee.len() > name.len()
                && callee.ends_with(name)
                && callee[callee.len() - name.len() - 1] == b'.')
    })
}

/// The module a top-level import of `root` takes `callee` from: `db` for
/// `gdc` under `from db import get_db_connection as gdc`, or for
/// `db.get_db_connection` under `import db`; `.db` for a relative import.
pub fn imported_from(root: Node, callee: &[u8], src: &[u8]) -> Option<String> {
    let (head, _) = match callee.iter().rposition(|b| *b == b'.') {
        Some(dot) => (&callee[..dot], &callee[dot + 1..]),
        None => (callee, callee),
    };
    let dotted = head.len() != callee.len();
    for stmt in statements(root) {
        let mut cursor = stmt.walk();
        let names: Vec<Node> = stmt
            .children_by_field_id(FIELDS.name, &mut cursor)
            .collect();
        let bound = |n: &Node| match n.kind_name() {
            "aliased_import" => (
                n.field(FIELDS.name)
                    .map(|x| text(x, src))
                    .unwrap_or_default(),
                n.field(FIELDS.alias)
                    .map(|x| text(x, src))
                    .unwrap_or_default(),
            ),
            _ => (text(*n, src), text(*n, src)),
        };
        match stmt.kind_name() {
            "import_from_statement" if !dotted && names.iter().any(|n| bound(n).1 == callee) => {
                let module = stmt.field(FIELDS.module_name)?;
                return Some(String::from_utf8_lossy(text(module, src)).into_owned());
            }
            "import_from_statement" if dotted => {
                // `from app import raw` then `raw.get_db_connection()`.
                if let Some((name, _)) = names.iter().map(bound).find(|(_, a)| *a == head) {
                    let module = text(stmt.field(FIELDS.module_name)?, src);
                    let sep = if module.ends_with(b".") { "" } else { "." };
                    return Some(format!(
                        "{}{sep}{}",
                        String::from_utf8_lossy(module),
                        String::from_utf8_lossy(name)
                    ));
                }
            }
            "import_statement" if dotted => {
                if let Some((module, _)) = names.iter().map(bound).find(|(_, a)| *a == head) {
                    return Some(String::from_utf8_lossy(module).into_owned());
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether a top-level statement of `root` is `from module import name`
/// (also among others, or aliased to its own name).
pub fn imports_from(root: Node, module: &str, name: &str, src: &[u8]) -> bool {
    statements(root).iter().any(|stmt| {
        stmt.kind_name() == "import_from_statement"
            && stmt
                .field(FIELDS.module_name)
                .is_some_and(|m| text(m, src) == module.as_bytes())
            && {
                let mut cursor = stmt.walk();
                stmt.children_by_field_id(FIELDS.name, &mut cursor)
                    .any(|n| match n.kind_name() {
                        "aliased_import" => {
                            n.field(FIELDS.alias)
                                .is_some_and(|a| text(a, src) == name.as_bytes())
                                && n.field(FIELDS.name)
                                    .is_some_and(|a| text(a, src) == name.as_bytes())
                        }
                        _ => text(n, src) == name.as_bytes(),
                    })
            }
    })
}

/// `x.method()` with no arguments: the name `x`, if `call` is that.
pub fn method_call_on_name<'a>(call: Node, method: &str, src: &'a [u8]) -> Option<&'a [u8]> {
    if call.kind_name() != "call" {
        return None;
    }
    let function = call.field(FIELDS.function)?;
    let arguments = call.field(FIELDS.arguments)?;
    if function.kind_name() != "attribute"
        || arguments.named_child_count() != 0
        || arguments.kind_name() != "argument_list"
    {
        return None;
    }
    let object = function.field(FIELDS.object)?;
    let attribute = function.field(FIELDS.attribute)?;
    (object.kind_name() == "identifier" && text(attribute, src) == method.as_bytes())
        .then(|| text(object, src))
}

/// The call a simple statement consists of (`f()` or `await f()`).
pub fn statement_call(stmt: Node) -> Option<Node> {
    if stmt.kind_name() != "expression_statement" || stmt.named_child_count() != 1 {
        return None;
    }
    let expr = stmt.named_child(0)?;
    match expr.kind_name() {
        "call" => Some(expr),
        "await" => expr.named_child(0).filter(|c| c.kind_name() == "call"),
        _ => None,
    }
}

/// The assignment a simple statement consists of, if it has exactly one
/// target.
pub fn statement_assignment(stmt: Node) -> Option<Node> {
    if stmt.kind_name() != "expression_statement" || stmt.named_child_count() != 1 {
        return None;
    }
    let expr = stmt.named_child(0)?;
    (expr.kind_name() == "assignment"
        && expr
            .field(FIELDS.right)
            .is_some_and(|r| r.kind_name() != "assignment"))
    .then_some(expr)
}

/// What a walk does after visiting a node.
pub enum Step {
    /// Go on into the node's children.
    Into,
    /// Go on past the node, skipping its children.
    Over,
    /// End the walk.
    Stop,
}

/// Visit `node` and its descendants in document order (a node before the
/// nodes inside it) with one cursor; `visit` says where to go next.
/// Iterative, so that deeply nested expressions cannot overflow the stack.
pub fn walk<'t>(node: Node<'t>, mut visit: impl FnMut(Node<'t>) -> Step) {
    let mut cursor = node.walk();
    let mut depth = 0usize;
    'walk: loop {
        match visit(cursor.node()) {
            Step::Stop => return,
            Step::Into if cursor.goto_first_child() => {
                depth += 1;
                continue;
            }
            Step::Into | Step::Over => {}
        }
        loop {
            if depth == 0 {
                break 'walk;
            }
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            cursor.goto_parent();
            depth -= 1;
        }
    }
}

/// Visit `node` and its descendants in order, not entering nested function
/// or class definitions (nor lambdas, when `lambdas` is false).
pub fn walk_scope<'t>(node: Node<'t>, lambdas: bool, mut visit: impl FnMut(Node<'t>)) {
    let kinds = &*KINDS;
    walk(node, |n| {
        visit(n);
        let kind = n.kind_id();
        let nested = n != node
            && (kind == kinds.function_definition
                || kind == kinds.class_definition
                || (!lambdas && kind == kinds.lambda));
        if nested { Step::Over } else { Step::Into }
    });
}

/// Whether the identifier `name` occurs anywhere under `node` (nested scopes
/// included).
pub fn mentions(node: Node, name: &[u8], src: &[u8]) -> bool {
    let mut found = false;
    identifiers(node, name, src, 0, |_, _| {
        found = true;
        Step::Stop
    });
    found
}

/// Call `each` with every identifier under `node` (`node` included, nested
/// scopes too) whose text is `name` and that starts at or after byte `from`,
/// in document order, with its ancestors from `node` down to its parent;
/// `Step::Stop` from `each` ends the search.
///
/// A walk visits every node under `node`; this searches the text for `name`
/// and leads one cursor from `node` down to each occurrence, so the cost
/// follows the occurrences (an identifier is a leaf, and each of its
/// ancestors holds its whole text). Occurrences in strings, comments or
/// longer names lead to a leaf that is not that identifier and are passed
/// over.
pub fn identifiers<'t>(
    node: Node<'t>,
    name: &[u8],
    src: &[u8],
    from: usize,
    mut each: impl FnMut(Node<'t>, &[Node<'t>]) -> Step,
) {
    let (start, end) = (from.max(node.start_byte()), node.end_byte());
    if name.is_empty() || start >= end {
        return;
    }
    let finder = memchr::memmem::Finder::new(name);
    let identifier = KINDS.identifier;
    let mut cursor = node.walk();
    let mut path: Vec<Node<'t>> = Vec::new();
    // Overlapping occurrences too: the one an identifier starts at may
    // begin inside a false one (`ab` + `aba` in `ababa`).
    let mut at = start;
    while let Some(found) = finder.find(&src[at..end]) {
        let (first, last) = (at + found, at + found + name.len());
        at = first + 1;
        descend(&mut cursor, node, first..last, &mut path);
        let leaf = path.pop().expect("a descent holds at least its start");
        if leaf.kind_id() == identifier
            && leaf.byte_range() == (first..last)
            && let Step::Stop = each(leaf, &path)
        {
            return;
        }
    }
}

/// Fill `path` with the nodes from `root` down to the smallest one that
/// holds all of `range` (a leaf, when the range is a whole token), root
/// first: one cursor step a level, where climbing with `Node::parent`
/// descends from the root again at every call.
fn descend<'t>(
    cursor: &mut TreeCursor<'t>,
    root: Node<'t>,
    range: std::ops::Range<usize>,
    path: &mut Vec<Node<'t>>,
) {
    cursor.reset(root);
    path.clear();
    loop {
        path.push(cursor.node());
        if cursor.goto_first_child_for_byte(range.start).is_none() {
            return;
        }
        let child = cursor.node();
        if child.start_byte() > range.start || child.end_byte() < range.end {
            return;
        }
    }
}

/// The ids of the node kinds that whole-scope walks test at every node,
/// looked up once: comparing ids is cheaper still than `KindName`.
pub struct Kinds {
    pub identifier: u16,
    pub function_definition: u16,
    pub class_definition: u16,
    pub lambda: u16,
    pub named_expression: u16,
    pub keyword_argument: u16,
    /// The kinds `bound_names` reads names from.
    pub binding: [u16; 7],
}

/// Node kind names by kind id: `Node::kind` asks tree-sitter for the name,
/// then measures it and checks it is UTF-8 at every call, and the rules
/// compare kinds at almost every node they look at.
static KIND_NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    (0..LANGUAGE.node_kind_count())
        .map(|id| {
            u16::try_from(id)
                .ok()
                .and_then(|id| LANGUAGE.node_kind_for_id(id))
                .unwrap_or("")
        })
        .collect()
});
/// `Node::kind` through a table (`KIND_NAMES`).
pub trait KindName {
    fn kind_name(&self) -> &'static str;
}

impl KindName for Node<'_> {
    fn kind_name(&self) -> &'static str {
        // ERROR's id (`u16::MAX`) is past the table: a file tree-sitter
        // cannot fully read may still be processed (the judge says so).
        let name = KIND_NAMES
            .get(usize::from(self.kind_id()))
            .copied()
            .unwrap_or(if self.is_error() { "ERROR" } else { "" });
        debug_assert_eq!(name, self.kind(), "the kind table agrees with tree-sitter");
        name
    }
}

pub static KINDS: LazyLock<Kinds> = LazyLock::new(|| {
    let id = |kind| LANGUAGE.id_for_node_kind(kind, true);
    Kinds {
        identifier: id("identifier"),
        function_definition: id("function_definition"),
        class_definition: id("class_definition"),
        lambda: id("lambda"),
        named_expression: id("named_expression"),
        keyword_argument: id("keyword_argument"),
        binding: [
            "assignment",
            "augmented_assignment",
            "for_statement",
            "for_in_clause",
            "named_expression",
            "as_pattern_target",
            "delete_statement",
        ]
        .map(id),
    }
});

/// A field's id: tree-sitter's `FieldId`, which it does not export by name.
pub type FieldId = NonZeroU16;

/// The ids of the grammar's fields the rules read, looked up once:
/// `Node::child_by_field_name` looks the name up among all the grammar's
/// field names, one `strncmp` each, at every call (2 % of a dense check).
/// Each field is named once; its id is that of the field of the same name.
macro_rules! fields {
    ($($name:ident),* $(,)?) => {
        pub struct Fields {
            $(pub $name: FieldId,)*
        }

        pub static FIELDS: LazyLock<Fields> = LazyLock::new(|| Fields {
            $($name: LANGUAGE.field_id_for_name(stringify!($name)).unwrap_or_else(|| {
                panic!("`{}` is not a field of the Python grammar", stringify!($name))
            }),)*
        });
    };
}

fields!(
    alias,
    alternative,
    arguments,
    attribute,
    body,
    condition,
    consequence,
    definition,
    function,
    left,
    module_name,
    name,
    object,
    parameters,
    right,
    subject,
    subscript,
    superclasses,
    value,
);

/// `Node::child_by_field_name` by the field's id (`FIELDS`).
pub trait FieldChild<'t> {
    fn field(&self, id: FieldId) -> Option<Node<'t>>;
}

impl<'t> FieldChild<'t> for Node<'t> {
    fn field(&self, id: FieldId) -> Option<Node<'t>> {
        self.child_by_field_id(id.get())
    }
}

/// The `:` that ends the header of the clause owning `block`.
pub fn header_colon(block: Node) -> Option<Node> {
    let mut at = block.prev_sibling();
    while let Some(node) = at {
        if node.kind_name() == ":" {
            return Some(node);
        }
        if node.kind_name() != "comment" {
            return None;
        }
        at = node.prev_sibling();
    }
    None
}

/// Whether a block's statements sit on its header's line (`if x: y()`).
pub fn is_inline_block(block: Node) -> bool {
    match (header_colon(block), statements(block).first()) {
        (Some(colon), Some(first)) => colon.end_position().row == first.start_position().row,
        _ => false,
    }
}

/// The statements around `stmt` that share a line with it, joined by `;`
/// (all of an inline block's statements): the run one line edit rewrites.
pub fn line_run(stmt: Node) -> Vec<Node> {
    let Some(block) = stmt.parent() else {
        return vec![stmt];
    };
    let siblings = statements(block);
    if block.kind_name() == "block" && is_inline_block(block) {
        return siblings;
    }
    let Some(at) = siblings.iter().position(|s| *s == stmt) else {
        return vec![stmt];
    };
    let mut first = at;
    while first > 0
        && siblings[first - 1].end_position().row == siblings[first].start_position().row
    {
        first -= 1;
    }
    let mut last = at;
    while last + 1 < siblings.len()
        && siblings[last + 1].start_position().row == siblings[last].end_position().row
    {
        last += 1;
    }
    siblings[first..=last].to_vec()
}

/// The definition a statement makes: a decorated definition's function or
/// class, else the statement itself.
pub fn undecorated(stmt: Node) -> Option<Node> {
    match stmt.kind_name() {
        "decorated_definition" => stmt.field(FIELDS.definition),
        _ => Some(stmt),
    }
}

/// Whether the statement has its lines to itself: it starts its line (see
/// `starts_line`; a statement of an inline block does not), and no other
/// statement shares them through `;`. Lines can be put before and after
/// such a statement, or the statement replaced, by whole lines.
pub fn own_lines(stmt: Node, src: &[u8]) -> bool {
    // A statement after a `;` does not start its line.
    starts_line(stmt, src)
        && next_statement(stmt).is_none_or(|n| n.start_position().row != stmt.end_position().row)
}

/// Whether the statement starts its line (only indentation before it),
/// and the line is not the continuation of one ending in a backslash (a
/// line put before the statement would be joined to that one).
pub fn starts_line(stmt: Node, src: &[u8]) -> bool {
    let before = &src[..stmt.start_byte()];
    let indented = before
        .iter()
        .rev()
        .take_while(|b| **b != b'\n')
        .all(|b| *b == b' ' || *b == b'\t');
    let line_start = before.len() - before.iter().rev().take_while(|b| **b != b'\n').count();
    let previous = src[..line_start.saturating_sub(1)].strip_suffix(b"\r");
    let previous = previous.unwrap_or(&src[..line_start.saturating_sub(1)]);
    // A statement tree-sitter starts at a backslash (`\` alone on the line
    // above its text) continues that line too.
    let continued = src.get(stmt.start_byte()) == Some(&b'\\');
    indented && !continued && (line_start == 0 || !previous.ends_with(b"\\"))
}

/// Byte ranges of the string literals that span several lines, under `node`.
pub fn multiline_strings(node: Node) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut cursor = node.walk();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind_name() == "string" {
            if n.start_position().row != n.end_position().row {
                out.push(n.byte_range());
            }
            continue;
        }
        if n.start_position().row != n.end_position().row {
            stack.extend(n.children(&mut cursor));
        }
    }
    out
}

/// The names a binding construct binds, if `node` is one: assignment and
/// loop targets, `with ... as`, walrus, `del`.
pub fn bound_names(node: Node) -> Vec<Node> {
    // Most nodes bind nothing: decide that from the kind id before reading
    // the kind's name.
    if !KINDS.binding.contains(&node.kind_id()) {
        return Vec::new();
    }
    let target = match node.kind_name() {
        "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
            node.field(FIELDS.left)
        }
        "named_expression" => node.field(FIELDS.name),
        "as_pattern_target" => Some(node),
        "delete_statement" => node.named_child(0),
        _ => None,
    };
    target.map(target_names).unwrap_or_default()
}

/// The plain names in an assignment target (`a`, `a, (b, *c)`); attributes
/// and subscripts bind no name.
pub fn target_names(target: Node) -> Vec<Node> {
    target_leaves(target)
        .into_iter()
        .filter(|n| n.kind_name() == "identifier")
        .collect()
}

/// The parts of an assignment target past its unpacking, in order: plain
/// names (which it binds) and anything else (`x.y`, `d[k]`, which it reads).
pub fn target_leaves(target: Node) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack = vec![target];
    let mut cursor = target.walk();
    while let Some(n) = stack.pop() {
        match n.kind_name() {
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "list_splat_pattern"
            | "parenthesized_expression"
            | "as_pattern_target"
            | "expression_list"
            | "tuple"
            | "list" => stack.extend(
                n.named_children(&mut cursor)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev(),
            ),
            _ => out.push(n),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// Queries compile on first use, so compile every shipped one here, with
    /// the default names in its placeholders and with a name of every shape
    /// the configuration allows.
    #[test]
    fn every_shipped_query_compiles() {
        let defaults = Config::default();
        let odd = vec![
            "a.b_c.D9".to_string(),
            "_".to_string(),
            "émoji_ünicode".to_string(),
        ];
        let mut compiled = 0;
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/queries")).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            for names in [
                &defaults.helpers,
                &defaults.engine_factories,
                &defaults.orm_sessions,
                &odd,
            ] {
                let mut text = source.clone();
                for placeholder in ["@HELPERS@", "@FACTORIES@", "@SESSIONS@"] {
                    text = LazyQuery::template("x.scm", &text, "call", placeholder, names).source;
                }
                LazyQuery::new("x.scm", &text, "call")
                    .compile()
                    .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                compiled += 1;
            }
        }
        assert_eq!(compiled, 6 * 4);
    }

    #[test]
    fn a_query_that_does_not_compile_names_its_file() {
        let error = LazyQuery::new("broken.scm", "(call", "call")
            .compile()
            .unwrap_err();
        assert!(
            format!("{error:#}").starts_with("queries/broken.scm: the query does not compile: "),
            "{error:#}"
        );
    }

    /// Only identifiers that are exactly the name, in document order with
    /// their ancestors; not in strings, comments or longer names; from the
    /// given byte on; until `Step::Stop`.
    #[test]
    fn identifiers_are_found_at_the_names_occurrences() {
        let src = "def f(ab):\n    aba = \"aba\"  # aba\n    x = ab + ababa + aba\n    return f\"{aba}\", aba.y\n";
        let tree = crate::source::parse_tree(src.as_bytes());
        let root = tree.root_node();
        let found = |from: usize, stop_after: usize| {
            let mut out = Vec::new();
            identifiers(root, b"aba", src.as_bytes(), from, |n, path| {
                assert_eq!(path.first(), Some(&root));
                assert_eq!(path.last().copied(), n.parent());
                out.push((n.start_position().row, n.start_position().column));
                if out.len() == stop_after {
                    Step::Stop
                } else {
                    Step::Into
                }
            });
            out
        };
        assert_eq!(found(0, 0), [(1, 4), (2, 21), (3, 14), (3, 21)]);
        assert_eq!(
            found(src.find("x =").unwrap(), 0),
            [(2, 21), (3, 14), (3, 21)]
        );
        assert_eq!(found(0, 2), [(1, 4), (2, 21)]);
        assert!(mentions(root, b"ab", src.as_bytes()));
        assert!(!mentions(root, b"abab", src.as_bytes()));
    }
}
