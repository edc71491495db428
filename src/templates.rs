//! What connfix's fixes say: the audit's release block and the helper's
//! tracking lines, as canonical Python (`indent::Template` renders them in
//! the file's style), and how to recognise a release block already there.
//! Rules decide where a fix goes; this module decides what it says, and
//! every configured name or generated literal in it is valid Python.

use tree_sitter::Node;

use crate::config::Config;
use crate::syntax::{FIELDS, FieldChild, KindName, statements, text};

/// The comment that opens a release block.
pub const RELEASE_COMMENT: &str = "# Release tracking before closing connection";

/// How a release block gets the release function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseImport {
    /// `from <tracker> import <release>` inside the block, as the audit
    /// writes it.
    Import,
    /// The scope already sees the module-level import: no import line
    /// (one would make the name local to the whole function).
    Global,
    /// `from <tracker> import <release> as <alias>`: the scope reads or
    /// binds the release function's own name otherwise.
    Alias(String),
}

/// The audit's release block for the connection `object` (a name, or
/// `self.attribute`), made idempotent: the release takes the tracking off
/// the connection, so a connection closed twice is released once.
pub fn release_block(config: &Config, object: &str, import: &ReleaseImport) -> String {
    let (module, release) = (&config.tracker_module, &config.release);
    let (import_line, call) = match import {
        ReleaseImport::Import => (
            format!("\n    from {module} import {release}"),
            release.clone(),
        ),
        ReleaseImport::Global => (String::new(), release.clone()),
        ReleaseImport::Alias(alias) => (
            format!("\n    from {module} import {release} as {alias}"),
            alias.clone(),
        ),
    };
    format!(
        "{RELEASE_COMMENT}\n\
         if hasattr({object}, '_tracking_context') and hasattr({object}, '_tracking_start'):{import_line}\n\
         \x20   {call}({object}._tracking_context, {object}._tracking_start)\n\
         \x20   del {object}._tracking_context, {object}._tracking_start"
    )
}

/// The key of the tracker module's registry of connections that take no
/// attributes: `vars(tracker)["tracked_connections"][id(conn)]` holds what
/// the acquire function returned for `conn`.
pub const REGISTRY: &str = "tracked_connections";

/// The helper's tracking of a connection kept in the tracker's registry
/// (raw DB-API connections take no attributes): `module` is the name the
/// tracker module is imported as, `context` the escaped context literal.
pub fn registry_track(
    config: &Config,
    object: &str,
    names: &RegistryNames,
    context: &str,
) -> String {
    let RegistryNames { module, id, .. } = names;
    format!(
        "# Track this connection acquisition (in the tracker, keyed by the connection: it takes no attributes)\n\
         {import}\n\
         {module}.__dict__.setdefault(\"{REGISTRY}\", {{}})[{id}({object})] = {module}.{acquire}({context})",
        import = names.import(config),
        acquire = config.acquire,
    )
}

/// The release block of a connection tracked in the registry: the entry is
/// taken out as it is released, so a connection closed twice is released
/// once, and one never tracked releases nothing. `tracking` is a name the
/// scope does not otherwise use.
pub fn registry_release(config: &Config, object: &str, names: &RegistryNames) -> String {
    let RegistryNames {
        module,
        tracking,
        id,
        ..
    } = names;
    format!(
        "{RELEASE_COMMENT}\n\
         {import}\n\
         if ({tracking} := {module}.__dict__.get(\"{REGISTRY}\", {{}}).pop({id}({object}), None)):\n\
         \x20   {module}.{release}(*{tracking})",
        import = names.import(config),
        release = config.release,
    )
}

/// The names a registry block uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryNames {
    /// The tracker module's alias.
    pub module: String,
    /// The tracking taken out of the registry.
    pub tracking: String,
    /// `id`, or `<builtins>.id` where the file binds `id` (a route's
    /// `def delete(id)`).
    pub id: String,
    /// The alias of `builtins`, where `id` needs it.
    builtins: Option<String>,
}

impl RegistryNames {
    fn import(&self, config: &Config) -> String {
        let tracker = format!("{} as {}", config.tracker_module, self.module);
        match &self.builtins {
            Some(b) if b == "builtins" => format!("import builtins, {tracker}"),
            Some(b) => format!("import builtins as {b}, {tracker}"),
            None => format!("import {tracker}"),
        }
    }
}

/// The names a registry block binds: the tracker module's alias (its last
/// part) and the taken tracking (`tracking`), each the first of its kind
/// that the file does not mention anywhere, so the block changes the binding
/// of no name the code reads; the same names for every block of a pass.
/// Where the file mentions `id` (a parameter, a local), the builtin is
/// reached through `builtins`.
pub fn registry_names(file: &crate::source::SourceFile, config: &Config) -> RegistryNames {
    let root = file.tree.root_node();
    let free = |base: &str| -> String {
        (0..)
            .map(|i| match i {
                0 => base.to_string(),
                1 => format!("_{base}"),
                i => format!("_{base}{i}"),
            })
            .find(|n| !crate::syntax::mentions(root, n.as_bytes(), &file.text))
            .expect("some name is free")
    };
    let last = config
        .tracker_module
        .rsplit('.')
        .next()
        .unwrap_or(&config.tracker_module);
    let builtins = crate::syntax::mentions(root, b"id", &file.text).then(|| free("builtins"));
    RegistryNames {
        module: free(last),
        tracking: free("tracking"),
        id: builtins
            .as_ref()
            .map_or_else(|| "id".to_string(), |b| format!("{b}.id")),
        builtins,
    }
}

/// Whether `statement` is a registry release of `object`: an `if` whose
/// condition takes `id(object)` out of a mapping (`....pop(id(object), ...)`).
pub fn is_registry_release(statement: Node, object: &[u8], src: &[u8]) -> bool {
    statement.kind_name() == "if_statement"
        && statement
            .field(FIELDS.condition)
            .is_some_and(|c| holds_id_call(c, b"pop", object, src))
}

/// Whether `statement` is a registry tracking of `object`: an assignment
/// whose target is `...[id(object)]` on a `setdefault(...)` of the registry.
pub fn is_registry_track(statement: Node, object: &[u8], src: &[u8]) -> bool {
    crate::syntax::statement_assignment(statement)
        .and_then(|a| a.field(FIELDS.left))
        .is_some_and(|left| {
            left.kind_name() == "subscript"
                && memchr::memmem::find(text(left, src), REGISTRY.as_bytes()).is_some()
                && left
                    .field(FIELDS.subscript)
                    .is_some_and(|s| is_id_of(s, object, src))
        })
}

/// Whether some call `X.<method>(id(object), ...)` is in `node`.
fn holds_id_call(node: Node, method: &[u8], object: &[u8], src: &[u8]) -> bool {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind_name() == "call"
            && n.field(FIELDS.function).is_some_and(|f| {
                f.kind_name() == "attribute"
                    && f.field(FIELDS.attribute)
                        .is_some_and(|a| text(a, src) == method)
            })
            && n.field(FIELDS.arguments)
                .and_then(|a| a.named_child(0))
                .is_some_and(|first| is_id_of(first, object, src))
        {
            return true;
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }
    false
}

/// `id(object)`.
fn is_id_of(node: Node, object: &[u8], src: &[u8]) -> bool {
    node.kind_name() == "call"
        && node
            .field(FIELDS.function)
            .is_some_and(|f| text(f, src) == b"id" || text(f, src).ends_with(b".id"))
        && node
            .field(FIELDS.arguments)
            .and_then(|a| a.named_child(0))
            .is_some_and(|a| text(a, src) == object)
}

/// Whether `statement` releases the tracking of `object` (its text): an
/// `if` whose condition calls `hasattr(object, '_tracking_context')` and
/// whose body calls something with `object._tracking_context` as its first
/// argument. The audit's block (without the `del`) counts, and so does any
/// block of that shape: the names around it do not matter, the structure
/// does (a string that merely holds the words is not a release).
pub fn is_release_block(statement: Node, object: &[u8], src: &[u8]) -> bool {
    if statement.kind_name() != "if_statement" {
        return false;
    }
    let Some(condition) = statement.field(FIELDS.condition) else {
        return false;
    };
    let mut guarded = false;
    let mut stack = vec![condition];
    while let Some(n) = stack.pop() {
        match n.kind_name() {
            "boolean_operator" | "parenthesized_expression" => {
                let mut cursor = n.walk();
                stack.extend(n.named_children(&mut cursor));
            }
            "call" => guarded |= is_hasattr_tracking(n, object, src),
            _ => {}
        }
    }
    guarded
        && statement.field(FIELDS.consequence).is_some_and(|body| {
            statements(body).iter().any(|s| {
                let call = crate::syntax::statement_call(*s);
                call.and_then(|c| c.field(FIELDS.arguments))
                    .and_then(|a| a.named_child(0))
                    .is_some_and(|first| {
                        first.kind_name() == "attribute"
                            && first
                                .field(FIELDS.object)
                                .is_some_and(|o| text(o, src) == object)
                            && first
                                .field(FIELDS.attribute)
                                .is_some_and(|a| text(a, src) == b"_tracking_context")
                    })
            })
        })
}

/// Whether the release block `statement` (`is_release_block`) takes the
/// tracking off the connection after releasing it (`del
/// object._tracking_context, ...`), so a second close releases nothing.
pub fn takes_tracking_off(statement: Node, object: &[u8], src: &[u8]) -> bool {
    let attribute = [object, b"._tracking_context"].concat();
    statement.field(FIELDS.consequence).is_some_and(|body| {
        statements(body).iter().any(|s| {
            s.kind_name() == "delete_statement"
                && memchr::memmem::find(text(*s, src), &attribute).is_some()
        })
    })
}

/// `hasattr(object, '_tracking_context')`.
fn is_hasattr_tracking(call: Node, object: &[u8], src: &[u8]) -> bool {
    let (Some(function), Some(arguments)) =
        (call.field(FIELDS.function), call.field(FIELDS.arguments))
    else {
        return false;
    };
    let (Some(first), Some(second)) = (arguments.named_child(0), arguments.named_child(1)) else {
        return false;
    };
    text(function, src) == b"hasattr"
        && text(first, src) == object
        && second.kind_name() == "string"
        && memchr::memmem::find(text(second, src), b"_tracking_context").is_some()
}

/// A Python string literal, in double quotes, whose value is `value`:
/// quotes and backslashes escaped, and every character outside printable
/// ASCII written as an escape, so the literal is valid in a file of any
/// ASCII-compatible encoding.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quotes_backslashes_and_non_ascii() {
        assert_eq!(string_literal("branding.py::get"), "\"branding.py::get\"");
        assert_eq!(string_literal("we\"ird.py"), "\"we\\\"ird.py\"");
        assert_eq!(string_literal("a\\x9b.py"), "\"a\\\\x9b.py\"");
        assert_eq!(
            string_literal("é\u{9b}😀\n"),
            "\"\\xe9\\x9b\\U0001f600\\n\""
        );
    }

    #[test]
    fn release_blocks_in_the_three_import_forms() {
        let config = Config::default();
        let block = release_block(&config, "conn", &ReleaseImport::Import);
        assert_eq!(
            block,
            "# Release tracking before closing connection\n\
             if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n    \
             from src.utils.connection_tracker import track_connection_released\n    \
             track_connection_released(conn._tracking_context, conn._tracking_start)\n    \
             del conn._tracking_context, conn._tracking_start"
        );
        assert!(!release_block(&config, "c", &ReleaseImport::Global).contains("import"));
        assert!(
            release_block(&config, "c", &ReleaseImport::Alias("_rel".into()))
                .contains("import track_connection_released as _rel\n    _rel(c._tracking_context")
        );
    }

    #[test]
    fn a_release_block_is_recognised_by_its_shape_not_its_words() {
        let check = |src: &str| {
            let tree = crate::source::parse_tree(src.as_bytes());
            let stmt = tree.root_node().named_child(0).unwrap();
            is_release_block(stmt, b"conn", src.as_bytes())
        };
        let config = Config::default();
        for import in [ReleaseImport::Import, ReleaseImport::Global] {
            assert!(check(
                &release_block(&config, "conn", &import)[RELEASE_COMMENT.len() + 1..]
            ));
        }
        assert!(check(
            "if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):\n    \
             track_connection_released(conn._tracking_context, conn._tracking_start)\n"
        ));
        assert!(!check(
            "if x:\n    log(\"track_connection_released(conn._tracking_context)\")\n"
        ));
        assert!(!check(
            "if hasattr(other, '_tracking_context'):\n    rel(other._tracking_context, 1)\n"
        ));
    }
}
