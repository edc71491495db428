//! The repository's view of its helpers: for every helper definition, where
//! it keeps a connection's tracking and who closes the connection, found in
//! a first pass over the files that can matter (those holding a helper's
//! name) and read by the per-file rules. A caller in one module learns what
//! its helper in another module hands out: the form of release block its
//! closes need, and whether the connection is its own to close at all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use tree_sitter::Node;

use crate::config::{Config, Tracking};
use crate::syntax::{self, FIELDS, FieldChild, KindName, calls_one_of, text};

/// Where a helper keeps a connection's tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// On the connection, as the audit does (`conn._tracking_context`).
    Attribute,
    /// In the tracker module's registry, keyed by the connection: for
    /// connections that take no attributes (sqlite3, psycopg2).
    Registry,
}

/// Who closes a connection a helper hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The caller (the audit's helper).
    Caller,
    /// Nobody per call: the helper caches it (`flask.g`, an attribute, a
    /// global, `lru_cache`) and a teardown closes it.
    Cache,
    /// The helper itself: a generator or `@contextmanager` helper closes it
    /// when the caller's `with` (or `Depends`) ends.
    Helper,
}

/// What a helper definition hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub form: Form,
    pub owner: Owner,
}

impl Summary {
    /// A helper connfix cannot see (defined outside the paths given): the
    /// configured form, owned by the caller.
    pub fn unseen(config: &Config) -> Summary {
        Summary {
            form: match config.tracking {
                Tracking::Registry => Form::Registry,
                _ => Form::Attribute,
            },
            owner: Owner::Caller,
        }
    }
}

/// Summarise the helper `function` (a `function_definition`).
pub fn summarize(function: Node, src: &[u8], config: &Config) -> Summary {
    let mut raw = false;
    let mut generator = false;
    // Texts of the places a created connection is kept (`g.db`,
    // `self._conn`, a global name), and names bound in the same chained
    // assignment as one of them (`db = g._db = connect()`).
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut chained: Vec<&[u8]> = Vec::new();
    let mut returned: Vec<&[u8]> = Vec::new();
    let mut globals: Vec<&[u8]> = Vec::new();
    let mut assignments: Vec<Node> = Vec::new();
    if let Some(body) = function.field(FIELDS.body) {
        syntax::walk_scope(body, false, |n| match n.kind_name() {
            "call" => raw |= calls_one_of(n, &config.raw_connections, src).is_some(),
            "yield" if n.is_named() => generator = true,
            "return_statement" => returned.extend(n.named_child(0).map(|v| text(v, src))),
            "global_statement" => {
                let mut cursor = n.walk();
                globals.extend(n.named_children(&mut cursor).map(|g| text(g, src)));
            }
            "assignment" if n.parent().is_none_or(|p| p.kind_name() != "assignment") => {
                assignments.push(n)
            }
            _ => {}
        });
    }
    for assignment in assignments {
        let (targets, value) = chain(assignment);
        if !value.is_some_and(|v| is_call(v)) {
            continue;
        }
        let keeps = targets.iter().any(|t| {
            matches!(t.kind_name(), "attribute" | "subscript")
                || (t.kind_name() == "identifier" && globals.contains(&text(*t, src)))
        });
        if keeps {
            for t in &targets {
                match t.kind_name() {
                    "identifier" if !globals.contains(&text(*t, src)) => {
                        chained.push(text(*t, src))
                    }
                    _ => kept.push(text(*t, src)),
                }
            }
        }
    }
    let cached_by_decorator = decorators(function, src)
        .iter()
        .any(|d| matches!(last_part(d), b"lru_cache" | b"cache"));
    let cached = cached_by_decorator
        || returned
            .iter()
            .any(|r| kept.contains(r) || chained.contains(r));
    Summary {
        form: match config.tracking {
            Tracking::Registry => Form::Registry,
            Tracking::Attribute => Form::Attribute,
            Tracking::Auto if raw => Form::Registry,
            Tracking::Auto => Form::Attribute,
        },
        owner: if generator {
            Owner::Helper
        } else if cached {
            Owner::Cache
        } else {
            Owner::Caller
        },
    }
}

/// The targets of a (chained) assignment, outermost first, and its value:
/// `a = b.c = value`.
pub fn chain(assignment: Node) -> (Vec<Node>, Option<Node>) {
    let mut targets = Vec::new();
    let mut at = assignment;
    loop {
        targets.extend(at.field(FIELDS.left));
        match at.field(FIELDS.right) {
            Some(right) if right.kind_name() == "assignment" => at = right,
            right => return (targets, right),
        }
    }
}

/// A call, awaited or not.
fn is_call(value: Node) -> bool {
    match value.kind_name() {
        "call" => true,
        "await" | "parenthesized_expression" => value.named_child(0).is_some_and(is_call),
        _ => false,
    }
}

/// The decorators' expressions' callee texts (`functools.lru_cache` for
/// `@functools.lru_cache(maxsize=1)`).
pub fn decorators<'s>(function: Node, src: &'s [u8]) -> Vec<&'s [u8]> {
    let Some(decorated) = function
        .parent()
        .filter(|p| p.kind_name() == "decorated_definition")
    else {
        return Vec::new();
    };
    let mut cursor = decorated.walk();
    decorated
        .named_children(&mut cursor)
        .filter(|d| d.kind_name() == "decorator")
        .filter_map(|d| d.named_child(0))
        .map(|e| match e.kind_name() {
            "call" => e.field(FIELDS.function).map_or(e, |f| f),
            _ => e,
        })
        .map(|e| text(e, src))
        .collect()
}

fn last_part(name: &[u8]) -> &[u8] {
    name.rsplit(|b| *b == b'.').next().unwrap_or(name)
}

/// One helper definition of the repository.
#[derive(Debug, Clone)]
struct Defined {
    path: PathBuf,
    name: String,
    summary: Summary,
}

/// What the first pass found.
#[derive(Debug, Default)]
struct Found {
    helpers: Vec<Defined>,
    /// Module-level functions that close a parameter: file, name, the
    /// parameter's position.
    closers: Vec<(PathBuf, String, usize)>,
}

/// The helpers defined in the files of a run, and the functions of those
/// files that close a parameter (`def release_db_connection(conn):
/// conn.close()`). Found when first asked for: a run whose files each
/// define the helpers they call never needs it.
#[derive(Debug, Default)]
pub struct Project {
    paths: Vec<PathBuf>,
    config: Config,
    found: std::sync::OnceLock<Index>,
}

/// What the first pass found, by name, each definition by its file's
/// module path (`stem`). A repository of many services defines the same
/// helper many times; a lookup reads only the definitions of its name, and
/// one whose answer does not depend on the file asking (no module, or an
/// absolute one) is answered once for the run.
#[derive(Debug, Default)]
struct Index {
    helpers: HashMap<String, Vec<(PathBuf, Summary)>>,
    closers: HashMap<String, Vec<(PathBuf, usize)>>,
    answers: Mutex<HashMap<Question, Option<Summary>>>,
}

/// A lookup: the helper's name, and the module it is imported from.
type Question = (String, Option<String>);

impl Index {
    fn new(found: Found) -> Index {
        let mut index = Index::default();
        for d in found.helpers {
            index
                .helpers
                .entry(d.name)
                .or_default()
                .push((stem(&d.path), d.summary));
        }
        for (path, name, at) in found.closers {
            index
                .closers
                .entry(name)
                .or_default()
                .push((stem(&path), at));
        }
        index
    }
}

/// The position of the parameter that the function `def` closes as one of
/// its top-level statements (`c.close()`), if any.
pub fn closes_parameter(def: Node, src: &[u8]) -> Option<usize> {
    let parameters = def.field(FIELDS.parameters)?;
    let body = def.field(FIELDS.body)?;
    let mut cursor = parameters.walk();
    let params: Vec<&[u8]> = parameters
        .named_children(&mut cursor)
        .map(|p| text(p, src))
        .collect();
    let closes = |s: Node| {
        let call = syntax::statement_call(s)?;
        syntax::method_call_on_name(call, "close", src)
    };
    let closed = syntax::statements(body).into_iter().find_map(|s| {
        // Also under `if c:` or `if c is not None:` (no `else`): the
        // close of a connection that is there.
        if s.kind_name() == "if_statement" && s.field(FIELDS.alternative).is_none() {
            let condition = s.field(FIELDS.condition).map(|c| text(c, src))?;
            let tested = condition.strip_suffix(b" is not None").unwrap_or(condition);
            return syntax::statements(s.field(FIELDS.consequence)?)
                .into_iter()
                .find_map(closes)
                .filter(|c| *c == tested);
        }
        closes(s)
    })?;
    params.iter().position(|p| *p == closed)
}

impl Project {
    /// The run's files, to be read for helpers when first needed.
    pub fn new(paths: Vec<PathBuf>, config: &Config) -> Project {
        Project {
            paths,
            config: config.clone(),
            found: std::sync::OnceLock::new(),
        }
    }

    fn found(&self) -> &Index {
        self.found.get_or_init(|| Index::new(self.scan()))
    }

    /// Read the files that hold a helper's name, in parallel, parsing only
    /// the definitions that matter (the helpers, and the module-level
    /// functions that call `.close()`), each on its own: a file is parsed
    /// whole only where a definition's lines do not parse alone.
    fn scan(&self) -> Found {
        let config = &self.config;
        let names = crate::rules::last_parts(&config.helpers);
        let finders: Vec<memchr::memmem::Finder> = names
            .iter()
            .map(|n| memchr::memmem::Finder::new(n.as_bytes()))
            .collect();
        let found: Vec<Found> = self
            .paths
            .par_iter()
            .filter_map(|path| {
                let text = std::fs::read(path).ok()?;
                if (text.len() as u64) > config.max_file_kib * 1024
                    || !finders.iter().any(|f| f.find(&text).is_some())
                {
                    return None;
                }
                Some(defined_in(path, &text, &names, config))
            })
            .collect();
        let mut all = Found::default();
        for f in found {
            all.helpers.extend(f.helpers);
            all.closers.extend(f.closers);
        }
        all
    }

    /// The summary of the helper `name` that a call in `from` reaches:
    /// through `module` (the dotted or relative module it is imported
    /// from) when known, else any helper of that name; `None` when there
    /// is none, or the candidates disagree.
    pub fn lookup(&self, name: &str, module: Option<&str>, from: &Path) -> Option<Summary> {
        let index = self.found();
        let defined = index.helpers.get(name)?;
        let key = module
            .is_none_or(|m| !m.starts_with('.'))
            .then(|| (name.to_string(), module.map(str::to_string)));
        let answers = || index.answers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(answer) = key.as_ref().and_then(|k| answers().get(k).copied()) {
            return answer;
        }
        let target = module.map(|m| Target::new(m, from));
        let mut answer: Option<Summary> = None;
        for (stem, summary) in defined {
            if target.as_ref().is_some_and(|t| !t.holds(stem)) {
                continue;
            }
            match answer {
                Some(s) if s != *summary => {
                    answer = None;
                    break;
                }
                _ => answer = Some(*summary),
            }
        }
        if let Some(key) = key {
            answers().insert(key, answer);
        }
        answer
    }

    /// The parameter that the function `name` of `module` (imported from
    /// `from`) closes.
    pub fn closer(&self, name: &str, module: &str, from: &Path) -> Option<usize> {
        let target = Target::new(module, from);
        self.found()
            .closers
            .get(name)?
            .iter()
            .find(|(stem, _)| target.holds(stem))
            .map(|(_, at)| *at)
    }
}

/// The helpers and closers of one file.
fn defined_in(path: &Path, text: &[u8], names: &[String], config: &Config) -> Found {
    let mut found = Found::default();
    let mut whole = false;
    for def in definition_lines(text) {
        let helper = names.iter().any(|n| n.as_bytes() == def.name);
        // A module-level function whose text closes one of its parameters
        // (`conn.close()` for a parameter `conn`): read before parsing, so
        // the route functions that close their own connections are not
        // parsed twice.
        let closer = def.indent == 0 && {
            let body = &text[def.range.clone()];
            def.parameters.iter().any(|p| {
                let close = [*p, b".close()"].concat();
                memchr::memmem::find(body, &close).is_some()
            })
        };
        if !(helper || closer) {
            continue;
        }
        // The definition alone, moved to the first column.
        let slice = dedent(&text[def.range.clone()], def.indent);
        let tree = crate::source::parse_tree(&slice);
        let root = tree.root_node();
        let Some(function) = definitions(root)
            .into_iter()
            .next()
            .filter(|_| !root.has_error())
        else {
            whole = true;
            break;
        };
        record(&mut found, path, function, &slice, helper, closer, config);
    }
    if whole {
        found = Found::default();
        let tree = crate::source::parse_tree(text);
        let root = tree.root_node();
        let top: Vec<Node> = syntax::statements(root)
            .into_iter()
            .filter_map(syntax::undecorated)
            .collect();
        for function in definitions(root) {
            let Some(name) = function.field(FIELDS.name) else {
                continue;
            };
            let helper = names
                .iter()
                .any(|n| n.as_bytes() == syntax::text(name, text));
            let closer = top.contains(&function);
            record(&mut found, path, function, text, helper, closer, config);
        }
    }
    found
}

fn record(
    found: &mut Found,
    path: &Path,
    function: Node,
    src: &[u8],
    helper: bool,
    closer: bool,
    config: &Config,
) {
    let Some(name) = function.field(FIELDS.name) else {
        return;
    };
    let name = String::from_utf8_lossy(syntax::text(name, src)).into_owned();
    if closer && let Some(at) = closes_parameter(function, src) {
        found.closers.push((path.to_path_buf(), name.clone(), at));
    }
    if helper {
        found.helpers.push(Defined {
            path: path.to_path_buf(),
            summary: summarize(function, src, config),
            name,
        });
    }
}

/// A `def` found in the text: its name, its indentation, and the bytes of
/// its decorators, header and body (up to the next line, not blank nor a
/// comment, indented no deeper than the `def`).
struct DefinitionLines<'s> {
    name: &'s [u8],
    /// The parameters' names, as far as the header's first line shows.
    parameters: Vec<&'s [u8]>,
    indent: usize,
    range: std::ops::Range<usize>,
}

fn definition_lines(text: &[u8]) -> Vec<DefinitionLines<'_>> {
    // (start, end without the line break, indentation, content)
    let mut lines: Vec<(usize, usize, usize)> = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len())) {
        if start > text.len() {
            break;
        }
        let line = &text[start..end];
        let indent = line
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        lines.push((start, end, indent));
        start = end + 1;
    }
    let content = |i: usize| {
        let (s, e, indent) = lines[i];
        &text[s + indent..e]
    };
    let mut out = Vec::new();
    for i in 0..lines.len() {
        let line = content(i);
        let after = line
            .strip_prefix(b"async ")
            .map(|l| l.trim_ascii_start())
            .unwrap_or(line);
        let Some(rest) = after.strip_prefix(b"def") else {
            continue;
        };
        if !rest.first().is_some_and(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let rest = rest.trim_ascii_start();
        let name_len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b >= 0x80)
            .count();
        let indent = lines[i].2;
        let mut first = i;
        while first > 0 && lines[first - 1].2 == indent && content(first - 1).starts_with(b"@") {
            first -= 1;
        }
        let mut last = i;
        for (j, line) in lines.iter().enumerate().skip(i + 1) {
            let c = content(j);
            if c.is_empty() || c.starts_with(b"#") || c == b"\r" {
                continue;
            }
            if line.2 <= indent {
                break;
            }
            last = j;
        }
        let after_name = &rest[name_len..];
        let header = after_name
            .strip_prefix(b"(")
            .map(|h| &h[..h.iter().position(|b| *b == b')').unwrap_or(h.len())])
            .unwrap_or_default();
        let parameters = header
            .split(|b| *b == b',')
            .map(|p| {
                let p = p.trim_ascii_start();
                let p = &p[p.iter().take_while(|b| **b == b'*').count()..];
                &p[..p
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b >= 0x80)
                    .count()]
            })
            .filter(|p| !p.is_empty())
            .collect();
        out.push(DefinitionLines {
            name: &rest[..name_len],
            parameters,
            indent,
            range: lines[first].0..lines[last].1,
        });
    }
    out
}

/// The lines of `text` with up to `indent` leading blanks removed.
fn dedent(text: &[u8], indent: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let blanks = line
            .iter()
            .take(indent)
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        out.extend_from_slice(&line[blanks..]);
    }
    out.push(b'\n');
    out
}

/// The module-level functions and the methods of module-level classes.
pub fn definitions(root: Node) -> Vec<Node> {
    let unwrap = syntax::undecorated;
    let mut out = Vec::new();
    for stmt in syntax::statements(root).into_iter().filter_map(unwrap) {
        match stmt.kind_name() {
            "function_definition" => out.push(stmt),
            "class_definition" => {
                if let Some(body) = stmt.field(FIELDS.body) {
                    out.extend(
                        syntax::statements(body)
                            .into_iter()
                            .filter_map(unwrap)
                            .filter(|s| s.kind_name() == "function_definition"),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether `path` is the file of `module` as imported from the file
/// `from`: `a.b` is `.../a/b.py` or `.../a/b/__init__.py`; `.b`, `..b`
/// are relative to `from`'s folder.
#[cfg(test)]
fn module_is(module: &str, path: &Path, from: &Path) -> bool {
    Target::new(module, from).holds(&stem(path))
}

/// A file's module path: without `.py`, a package's `__init__` as its
/// folder.
fn stem(path: &Path) -> PathBuf {
    let stem = path.with_extension("");
    if stem.file_name().is_some_and(|n| n == "__init__") {
        stem.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        stem
    }
}

/// The module paths an import's module names: relative ones (`.b`, `..b`)
/// one path from the importing file's folder, absolute ones (`a.b`) any
/// path ending in their parts.
enum Target<'m> {
    Exact(PathBuf),
    Suffix(Vec<&'m str>),
}

impl<'m> Target<'m> {
    fn new(module: &'m str, from: &Path) -> Target<'m> {
        let dots = module.len() - module.trim_start_matches('.').len();
        let parts = module[dots..].split('.').filter(|p| !p.is_empty());
        if dots == 0 {
            return Target::Suffix(parts.collect());
        }
        let mut base = from.parent().map(Path::to_path_buf).unwrap_or_default();
        for _ in 1..dots {
            base = base.parent().map(Path::to_path_buf).unwrap_or_default();
        }
        Target::Exact(parts.fold(base, |p, part| p.join(part)))
    }

    /// Whether the module path `stem` is one this target names.
    fn holds(&self, stem: &Path) -> bool {
        match self {
            Target::Exact(path) => path == stem,
            Target::Suffix(parts) => {
                let mut components = stem.components().rev();
                parts.iter().rev().all(|p| {
                    components
                        .next()
                        .is_some_and(|c| c.as_os_str() == std::ffi::OsStr::new(p))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_of(src: &str) -> Summary {
        let tree = crate::source::parse_tree(src.as_bytes());
        let function = definitions(tree.root_node())[0];
        summarize(function, src.as_bytes(), &Config::default())
    }

    #[test]
    fn helpers_are_summarised_by_shape() {
        let summary = |form, owner| Summary { form, owner };
        assert_eq!(
            summary_of("def get_db_connection():\n    return connect(use_pool=True)\n"),
            summary(Form::Attribute, Owner::Caller)
        );
        assert_eq!(
            summary_of("def get_db_connection():\n    c = sqlite3.connect(P)\n    return c\n"),
            summary(Form::Registry, Owner::Caller)
        );
        assert_eq!(
            summary_of(
                "def get_db_connection():\n    if 'db' not in g:\n        g.db = sqlite3.connect(P)\n    return g.db\n"
            ),
            summary(Form::Registry, Owner::Cache)
        );
        assert_eq!(
            summary_of(
                "def get_db_connection():\n    db = getattr(g, '_db', None)\n    if db is None:\n        db = g._db = connect()\n    return db\n"
            ),
            summary(Form::Attribute, Owner::Cache)
        );
        assert_eq!(
            summary_of(
                "def get_db_connection():\n    global _c\n    if _c is None:\n        _c = connect()\n    return _c\n"
            ),
            summary(Form::Attribute, Owner::Cache)
        );
        assert_eq!(
            summary_of("@lru_cache(maxsize=1)\ndef get_db_connection():\n    return connect()\n"),
            summary(Form::Attribute, Owner::Cache)
        );
        assert_eq!(
            summary_of(
                "@contextmanager\ndef get_db_connection():\n    c = psycopg2.connect(D)\n    try:\n        yield c\n    finally:\n        c.close()\n"
            ),
            summary(Form::Registry, Owner::Helper)
        );
        // A helper that only sets an attribute of its own connection is
        // not a cache.
        assert_eq!(
            summary_of(
                "def get_db_connection():\n    c = connect()\n    c.row_factory = make_row()\n    return c\n"
            ),
            summary(Form::Attribute, Owner::Caller)
        );
    }

    #[test]
    fn the_first_pass_reads_definitions_alone_and_whole_files_where_it_must() {
        let config = Config::default();
        let names = crate::rules::last_parts(&config.helpers);
        let text = b"import sqlite3\n\n\n@contextmanager\ndef get_db_connection():\n    c = sqlite3.connect(P)\n    try:\n        yield c\n    finally:\n        c.close()\n\n\n\
def release_db_connection(conn):\n    if conn is not None:\n        conn.close()\n\n\n\
def route(slug):\n    conn = get_db_connection()\n    conn.close()\n";
        let found = defined_in(Path::new("db.py"), text, &names, &config);
        let helpers: Vec<(&str, Summary)> = found
            .helpers
            .iter()
            .map(|d| (d.name.as_str(), d.summary))
            .collect();
        let generator = Summary {
            form: Form::Registry,
            owner: Owner::Helper,
        };
        assert_eq!(helpers, [("get_db_connection", generator)]);
        assert_eq!(
            found.closers,
            [(
                PathBuf::from("db.py"),
                "release_db_connection".to_string(),
                0
            )]
        );
        // A string at the first column inside a definition: its lines do
        // not parse alone, so the file is parsed whole, with the same result.
        let text =
            b"def get_db_connection():\n    q = \"\"\"\nSELECT 1\n\"\"\"\n    return connect(q)\n";
        let found = defined_in(Path::new("db.py"), text, &names, &config);
        assert_eq!(found.helpers.len(), 1);
        assert_eq!(found.helpers[0].summary, Summary::unseen(&config));
    }

    #[test]
    fn modules_resolve_to_files_absolute_and_relative() {
        let from = Path::new("app/routes/users.py");
        assert!(module_is("app.db", Path::new("app/db.py"), from));
        assert!(module_is("db", Path::new("app/db/__init__.py"), from));
        assert!(module_is(
            ".helpers",
            Path::new("app/routes/helpers.py"),
            from
        ));
        assert!(module_is("..db", Path::new("app/db.py"), from));
        assert!(!module_is("app.db", Path::new("app/other.py"), from));
        assert!(!module_is(".db", Path::new("app/db.py"), from));
    }
}
