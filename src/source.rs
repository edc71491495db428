//! One Python file as connfix sees it: its bytes (BOM split off), its
//! detected text style, and its syntax tree. Everything that rejects a file
//! before any rule runs (unreadable, binary, undecodable, merge conflict,
//! syntax error as the judge says) lives here, so every later step can
//! trust its input; a file whose tree has errors although the judge found
//! it valid is `partial`, and the rules read only its sound parts.

use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};

use tree_sitter::{InputEdit, Node, Parser, Point, Tree};

use crate::edit::Edit;
use crate::judge::{self, TargetVersion, Verdict};
use crate::syntax::KindName;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Encodings that keep ASCII bytes as ASCII, so the parser, which reads
/// UTF-8, still sees every keyword, name and bracket where it is. Non-ASCII
/// bytes only ever occur inside strings and comments in such files and are
/// copied through untouched.
const ASCII_COMPATIBLE: &[&str] = &[
    "ascii",
    "us-ascii",
    "latin-1",
    "latin1",
    "iso-8859-1",
    "iso8859-1",
    "iso-8859-15",
    "iso8859-15",
    "iso-8859-2",
    "iso8859-2",
    "iso-8859-5",
    "iso8859-5",
    "iso-8859-7",
    "iso8859-7",
    "cp1250",
    "cp1251",
    "cp1252",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "koi8-r",
    "koi8-u",
    "euc-jp",
    "shift_jis",
    "euc-kr",
    "gb2312",
    "gbk",
    "gb18030",
    "big5",
    "l1",
];

/// How a file writes its lines; every line connfix inserts follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    /// One level of indentation: a tab, or some number of spaces.
    pub indent: Vec<u8>,
    /// `\n` or `\r\n`, taken from the first line break of the file.
    pub newline: &'static [u8],
}

impl Style {
    /// The unit to add below a line indented with `base`: a tab where the
    /// line already uses tabs (Python compares tab and space indents in two
    /// ways, and mixing them after a tab can make a TabError).
    pub fn unit_after<'a>(&'a self, base: &[u8]) -> &'a [u8] {
        if base.contains(&b'\t') {
            b"\t"
        } else {
            &self.indent
        }
    }

    fn detect(text: &[u8], tree: &Tree) -> Style {
        let newline: &'static [u8] = match memchr::memchr(b'\n', text) {
            Some(i) if i > 0 && text[i - 1] == b'\r' => b"\r\n",
            _ => b"\n",
        };
        Style {
            indent: detect_indent(text, tree).unwrap_or_else(|| b"    ".to_vec()),
            newline,
        }
    }
}

/// The indentation step of the first block that starts on its own line:
/// the bytes its first statement has beyond the line of its header.
fn detect_indent(text: &[u8], tree: &Tree) -> Option<Vec<u8>> {
    let mut cursor = tree.walk();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind_name() == "block"
            && let (Some(first), Some(header)) = (first_statement(node), node.parent())
        {
            let inner = line_indent(text, first.start_byte());
            let outer = line_indent(text, header.start_byte());
            if first.start_position().row != header.start_position().row
                && inner.len() > outer.len()
                && inner.starts_with(outer)
            {
                return Some(inner[outer.len()..].to_vec());
            }
        }
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    None
}

fn first_statement(block: Node) -> Option<Node> {
    let mut cursor = block.walk();
    block
        .named_children(&mut cursor)
        .find(|n| n.kind_name() != "comment")
}

/// The whitespace that opens the line holding `offset`.
pub fn line_indent(text: &[u8], offset: usize) -> &[u8] {
    let start = line_start(text, offset);
    let len = text[start..]
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    &text[start..start + len]
}

pub fn line_start(text: &[u8], offset: usize) -> usize {
    memchr::memrchr(b'\n', &text[..offset]).map_or(0, |i| i + 1)
}

/// The offset of the line break (or the end of the file) after `offset`;
/// a `\r\n` break counts from its `\r`.
pub fn line_end(text: &[u8], offset: usize) -> usize {
    match memchr::memchr(b'\n', &text[offset..]) {
        Some(i) if i > 0 && text[offset + i - 1] == b'\r' => offset + i - 1,
        Some(i) => offset + i,
        None => text.len(),
    }
}

/// A parsed file. `text` excludes a UTF-8 BOM, which `bom` remembers so that
/// writing puts it back.
pub struct SourceFile {
    pub path: PathBuf,
    pub bom: bool,
    pub text: Vec<u8>,
    pub tree: Tree,
    pub style: Style,
    /// The Python version the judge holds this file to.
    pub target: TargetVersion,
    /// The tree has ERROR or MISSING nodes, and the judge found the text
    /// valid Python all the same: the rules act only where the tree is
    /// sound (`syntax::sound`).
    pub partial: bool,
    /// Every named node as (kind id, pre-order descendant index), built by
    /// one walk the first time a rule asks for nodes of some kinds: the
    /// rules share it instead of each walking the tree.
    named: OnceCell<Vec<(u16, u32)>>,
}

/// Why a file was not processed, with the position to point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based line and column, where there is a place to point at.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

/// How every message about a failure of connfix itself (not of the input)
/// begins: its fixes broke the file, or did not settle.
pub const INTERNAL_ERROR: &str = "internal error: ";

impl Rejection {
    /// Whether connfix rejected its own work rather than the input: a bug
    /// in connfix, which the tests count as a failure.
    pub fn is_internal(&self) -> bool {
        self.message.starts_with(INTERNAL_ERROR)
    }

    fn at(text: &[u8], offset: usize, message: impl Into<String>) -> Rejection {
        Rejection {
            position: Some(position_of(text, offset)),
            message: message.into(),
        }
    }

    fn whole(message: impl Into<String>) -> Rejection {
        Rejection {
            position: None,
            message: message.into(),
        }
    }
}

/// 1-based line and column (in bytes) of a byte offset.
pub fn position_of(text: &[u8], offset: usize) -> (usize, usize) {
    let line = memchr::memchr_iter(b'\n', &text[..offset]).count() + 1;
    (line, offset - line_start(text, offset) + 1)
}

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new({
        let mut parser = Parser::new();
        parser
            .set_language(&crate::syntax::LANGUAGE)
            .expect("the bundled tree-sitter-python grammar matches the tree-sitter runtime");
        parser
    });
}

/// Parse with this thread's parser.
pub fn parse_tree(text: &[u8]) -> Tree {
    parse_with(text, None)
}

/// Parse with this thread's parser, reusing the unchanged parts of `old`
/// (already told about the edits with `Tree::edit`).
fn parse_with(text: &[u8], old: Option<&Tree>) -> Tree {
    PARSER
        .with(|parser| parser.borrow_mut().parse(text, old))
        .expect("parsing without a timeout or cancellation flag always returns a tree")
}

/// Where `edits` (in order, not overlapping, ranges in `old`) put their
/// ends, in the terms `Tree::edit` takes: one `InputEdit` each, last first,
/// so that every edit's positions are still those of the old text.
fn input_edits(old: &[u8], edits: &[&Edit]) -> Vec<InputEdit> {
    let mut out = Vec::with_capacity(edits.len());
    // The row and line start at `scanned`, advanced through `old` once.
    let (mut scanned, mut row, mut line) = (0, 0, 0);
    let mut point = |offset: usize| {
        for i in memchr::memchr_iter(b'\n', &old[scanned..offset]) {
            row += 1;
            line = scanned + i + 1;
        }
        scanned = offset;
        Point::new(row, offset - line)
    };
    for edit in edits {
        let start_position = point(edit.range.start);
        let old_end_position = point(edit.range.end);
        let new = &edit.replacement;
        let new_end_position = match memchr::memrchr(b'\n', new) {
            Some(last) => Point::new(
                start_position.row + memchr::memchr_iter(b'\n', new).count(),
                new.len() - last - 1,
            ),
            None => Point::new(start_position.row, start_position.column + new.len()),
        };
        out.push(InputEdit {
            start_byte: edit.range.start,
            old_end_byte: edit.range.end,
            new_end_byte: edit.range.start + new.len(),
            start_position,
            old_end_position,
            new_end_position,
        });
    }
    out.reverse();
    out
}

impl SourceFile {
    /// Check and parse the bytes of a file; `path` is only for messages.
    pub fn new(
        path: &Path,
        bytes: Vec<u8>,
        target: TargetVersion,
    ) -> Result<SourceFile, Rejection> {
        let (bom, text) = check_bytes(bytes)?;
        SourceFile::parse(path, bom, text, None, target)
    }

    /// Parse checked text. `style` is kept when given (re-parsing an edited
    /// file must not change how later edits are written).
    pub fn parse(
        path: &Path,
        bom: bool,
        text: Vec<u8>,
        style: Option<Style>,
        target: TargetVersion,
    ) -> Result<SourceFile, Rejection> {
        let tree = parse_tree(&text);
        SourceFile::checked(path, bom, text, tree, style, target)
    }

    /// Parse text that an editor changed from the text `old` was parsed
    /// from (`old` told about every change with `Tree::edit`), reusing the
    /// tree of the parts the changes did not touch.
    pub fn parse_edited(
        path: &Path,
        bom: bool,
        text: Vec<u8>,
        old: &Tree,
        target: TargetVersion,
    ) -> Result<SourceFile, Rejection> {
        let tree = parse_with(&text, Some(old));
        assert!(
            !crate::self_check() || same_tree(&tree, &parse_tree(&text)),
            "an incremental parse must give the tree a fresh parse gives"
        );
        SourceFile::checked(path, bom, text, tree, None, target)
    }

    /// This file after `edits` (in order, not overlapping, ranges in this
    /// file's text) turned its text into `text`: parsed again, reusing the
    /// tree of the parts the edits did not touch, and checked like a first
    /// parse. The style is kept.
    pub fn reparse(&self, text: Vec<u8>, edits: &[&Edit]) -> Result<SourceFile, Rejection> {
        let mut old = self.tree.clone();
        for edit in input_edits(&self.text, edits) {
            old.edit(&edit);
        }
        let tree = parse_with(&text, Some(&old));
        assert!(
            !crate::self_check() || same_tree(&tree, &parse_tree(&text)),
            "an incremental re-parse must give the tree a fresh parse gives"
        );
        SourceFile::checked(
            &self.path,
            self.bom,
            text,
            tree,
            Some(self.style.clone()),
            self.target,
        )
    }

    /// Accept a parsed text: at once when tree-sitter read all of it; when
    /// it did not, only if the judge finds the text valid Python (then the
    /// file is `partial`). A text the judge rejects is a syntax error at the
    /// judge's place, in its words.
    fn checked(
        path: &Path,
        bom: bool,
        text: Vec<u8>,
        tree: Tree,
        style: Option<Style>,
        target: TargetVersion,
    ) -> Result<SourceFile, Rejection> {
        let partial = match first_error(&tree) {
            None => false,
            Some(offset) => match judge::judge(&text, target) {
                Verdict::Valid => true,
                Verdict::Invalid(error) => return Err(syntax_error(&text, &error)),
                Verdict::Unjudged => {
                    return Err(Rejection::at(
                        &text,
                        offset,
                        "syntax error: the Python parser (tree-sitter) cannot read this file, and \
                         its declared encoding is not one connfix can check with CPython's rules, \
                         so it is left unchanged; fix the syntax, or exclude the file",
                    ));
                }
            },
        };
        let style = style.unwrap_or_else(|| Style::detect(&text, &tree));
        Ok(SourceFile {
            path: path.to_path_buf(),
            bom,
            text,
            tree,
            style,
            target,
            partial,
            named: OnceCell::new(),
        })
    }

    /// The nodes whose kind id is one of `kinds`, in pre-order (document
    /// order, a node before the nodes inside it).
    pub fn nodes_of_kinds<'a>(&'a self, kinds: &[u16]) -> impl Iterator<Item = Node<'a>> {
        let named = self.named.get_or_init(|| {
            let mut out = Vec::new();
            let mut walk = self.tree.walk();
            'walk: loop {
                let node = walk.node();
                if node.is_named() {
                    out.push((node.kind_id(), walk.descendant_index() as u32));
                }
                if walk.goto_first_child() {
                    continue;
                }
                while !walk.goto_next_sibling() {
                    if !walk.goto_parent() {
                        break 'walk;
                    }
                }
            }
            out
        });
        // Going from one node to a later one only climbs to their common
        // ancestor and steps down again, skipping whole subtrees.
        let mut cursor = self.tree.walk();
        named
            .iter()
            .filter(|(kind, _)| kinds.contains(kind))
            .map(move |&(_, index)| {
                cursor.goto_descendant(index as usize);
                cursor.node()
            })
    }

    /// The file's bytes as they are on disk, from (possibly edited) text.
    pub fn to_disk(&self, text: &[u8]) -> Vec<u8> {
        if self.bom {
            [BOM, text].concat()
        } else {
            text.to_vec()
        }
    }
}

/// The rejection of a text the judge found invalid.
pub fn syntax_error(text: &[u8], error: &judge::JudgeError) -> Rejection {
    Rejection::at(
        text,
        error.offset,
        format!(
            "syntax error: {}; CPython would not compile this file either, so it is left unchanged: \
             fix the syntax (or set `target_version` if the code is for a newer Python)",
            error.message
        ),
    )
}

/// Whether two trees have the same nodes at the same places.
fn same_tree(a: &Tree, b: &Tree) -> bool {
    let (mut a, mut b) = (a.walk(), b.walk());
    loop {
        let (x, y) = (a.node(), b.node());
        if x.kind_id() != y.kind_id()
            || x.byte_range() != y.byte_range()
            || x.is_missing() != y.is_missing()
        {
            return false;
        }
        let down = a.goto_first_child();
        if down != b.goto_first_child() {
            return false;
        }
        if down {
            continue;
        }
        loop {
            let (next_a, next_b) = (a.goto_next_sibling(), b.goto_next_sibling());
            if next_a != next_b {
                return false;
            }
            if next_a {
                break;
            }
            let (up_a, up_b) = (a.goto_parent(), b.goto_parent());
            if up_a != up_b {
                return false;
            }
            if !up_a {
                return true;
            }
        }
    }
}

/// The offset of the first ERROR or MISSING node, if the tree has one.
pub fn first_error(tree: &Tree) -> Option<usize> {
    let mut node = tree.root_node();
    if !node.has_error() {
        return None;
    }
    'descend: loop {
        if node.is_error() || node.is_missing() {
            return Some(node.start_byte());
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.has_error() {
                node = child;
                continue 'descend;
            }
        }
        return Some(node.start_byte());
    }
}

/// Every check that needs no parse: `decode`, then `check_conflict_markers`.
pub fn check_bytes(bytes: Vec<u8>) -> Result<(bool, Vec<u8>), Rejection> {
    let (bom, text) = decode(bytes)?;
    check_conflict_markers(&text)?;
    Ok((bom, text))
}

/// The start of a conflict's first line: a text that does not hold it has
/// no conflict, and need not go through `check_conflict_markers`.
pub const CONFLICT_START: &[u8] = b"<<<<<<<";

/// The checks that need no parse and no search: split off a BOM, reject
/// binary and undecodable files. Returns the BOM flag and the text. A text
/// that holds `CONFLICT_START` must then pass `check_conflict_markers`.
pub fn decode(bytes: Vec<u8>) -> Result<(bool, Vec<u8>), Rejection> {
    let (bom, text) = match bytes.strip_prefix(BOM) {
        Some(rest) => (true, rest.to_vec()),
        None => (false, bytes),
    };
    check_encoding(&text)?;
    Ok((bom, text))
}

fn check_encoding(text: &[u8]) -> Result<(), Rejection> {
    if text.starts_with(b"\xFF\xFE") || text.starts_with(b"\xFE\xFF") {
        return Err(Rejection::whole(
            "the file is UTF-16 or UTF-32, which connfix does not read; convert it to UTF-8",
        ));
    }
    if let Some(nul) = memchr::memchr(0, &text[..text.len().min(8192)]) {
        return Err(Rejection::at(
            text,
            nul,
            "binary file (it contains a NUL byte); it is not Python source",
        ));
    }
    let Err(error) = std::str::from_utf8(text) else {
        return Ok(());
    };
    match declared_encoding(text) {
        Some(name)
            if ASCII_COMPATIBLE.contains(&name.to_ascii_lowercase().replace('_', "-").as_str())
                || ASCII_COMPATIBLE.contains(&name.to_ascii_lowercase().as_str()) =>
        {
            Ok(())
        }
        Some(name) => Err(Rejection::whole(format!(
            "the file declares the encoding `{name}`, which connfix cannot edit safely; convert it to UTF-8"
        ))),
        None => Err(Rejection::at(
            text,
            error.valid_up_to(),
            "the file is not valid UTF-8 and declares no encoding (PEP 263); convert it to UTF-8 or add a `# -*- coding: ... -*-` line",
        )),
    }
}

/// The PEP 263 `coding[:=]name` declaration of the first two lines.
pub fn declared_encoding(text: &[u8]) -> Option<String> {
    for line in text.split(|b| *b == b'\n').take(2) {
        let line = String::from_utf8_lossy(line);
        let trimmed = line.trim_start();
        if !trimmed.starts_with('#') {
            continue;
        }
        if let Some(at) = trimmed.find("coding") {
            let rest = &trimmed[at + "coding".len()..];
            if let Some(rest) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('=')) {
                let name: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                    .collect();
                if !name.is_empty() {
                    return Some(name);
                }
            }
        }
    }
    None
}

/// A conflict is a `<<<<<<<` line, then `=======`, then `>>>>>>>`: all
/// three, in order. One of them alone (an RST underline of `=` in a
/// docstring) is text.
pub fn check_conflict_markers(text: &[u8]) -> Result<(), Rejection> {
    // Only a file with a line-starting `<<<<<<<` is read line by line.
    let Some(begin) = memchr::memmem::find_iter(text, CONFLICT_START)
        .find(|&at| at == 0 || text[at - 1] == b'\n')
    else {
        return Ok(());
    };
    let is = |line: &[u8], marker: &[u8]| {
        line.starts_with(marker)
            && matches!(line.get(marker.len()), None | Some(b' ') | Some(b'\r'))
    };
    let mut offset = begin;
    let mut start = None;
    let mut middle = false;
    for line in text[begin..].split(|b| *b == b'\n') {
        if is(line, b"<<<<<<<") {
            start = Some(offset);
            middle = false;
        } else if start.is_some() && is(line, b"=======") {
            middle = true;
        } else if let (Some(at), true) = (start, middle && is(line, b">>>>>>>")) {
            return Err(Rejection::at(
                text,
                at,
                "unresolved merge-conflict marker; resolve the conflict, then run connfix again",
            ));
        }
        offset += line.len() + 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Result<SourceFile, Rejection> {
        SourceFile::new(
            Path::new("t.py"),
            text.as_bytes().to_vec(),
            TargetVersion::default(),
        )
    }

    fn bytes(bytes: &[u8]) -> Result<SourceFile, Rejection> {
        SourceFile::new(Path::new("t.py"), bytes.to_vec(), TargetVersion::default())
    }

    #[test]
    fn detects_tabs_and_crlf() {
        let file = source("def f():\r\n\tif x:\r\n\t\treturn 1\r\n").unwrap();
        assert_eq!(
            file.style,
            Style {
                indent: b"\t".to_vec(),
                newline: b"\r\n"
            }
        );
    }

    #[test]
    fn detects_two_spaces_and_defaults_to_four() {
        assert_eq!(source("class A:\n  x = 1\n").unwrap().style.indent, b"  ");
        assert_eq!(source("x = 1\n").unwrap().style.indent, b"    ");
    }

    #[test]
    fn bom_is_split_off_and_restored() {
        let file = bytes(b"\xEF\xBB\xBFx = 1\n").unwrap();
        assert_eq!(file.text, b"x = 1\n");
        assert_eq!(file.to_disk(&file.text), b"\xEF\xBB\xBFx = 1\n");
    }

    #[test]
    fn syntax_error_has_the_judges_position_and_message() {
        let rejection = source("x = 1\ndef f(:\n    pass\n").err().unwrap();
        assert_eq!(rejection.position, Some((2, 7)));
        assert!(
            rejection.message.starts_with(
                "syntax error: expected a parameter or the end of the parameter list; CPython would not compile"
            ),
            "{}",
            rejection.message
        );
    }

    #[test]
    fn valid_python_tree_sitter_cannot_read_is_accepted_as_partial() {
        let file = source("def f():\n    return True, a, *([1] * 6)\n").unwrap();
        assert!(file.partial);
        assert!(!source("def f():\n    return 1\n").unwrap().partial);
        // tree-sitter reads a Python 2 print statement; CPython does not, but
        // only texts tree-sitter cannot read are judged on the way in.
        assert!(!source("print 'x'\n").unwrap().partial);
    }

    #[test]
    fn conflict_markers_are_rejected_at_their_line() {
        let rejection = source("x = 1\n<<<<<<< HEAD\ny = 2\n=======\ny = 3\n>>>>>>> b\n")
            .err()
            .unwrap();
        assert_eq!(rejection.position, Some((2, 1)));
        assert!(
            rejection
                .message
                .starts_with("unresolved merge-conflict marker")
        );
    }

    #[test]
    fn a_lone_separator_line_is_not_a_conflict() {
        assert!(source("HELP = \"\"\"\nOptions\n=======\n\"\"\"\n").is_ok());
        assert!(source("x = '''\n<<<<<<< not a conflict without its end\n'''\n").is_ok());
        let check = |text: &str| check_bytes(text.as_bytes().to_vec()).map(|_| ());
        assert_eq!(
            check("x = '<<<<<<< a'\n========\n  =======\n|||||| x\n>>>>>>>> y\n"),
            Ok(())
        );
        let crlf =
            check("a = 1\r\n<<<<<<< HEAD\r\nb\r\n=======\r\nc\r\n>>>>>>> x\r\n").unwrap_err();
        assert_eq!(crlf.position, Some((2, 1)));
    }

    #[test]
    fn latin1_with_declaration_is_accepted_without_it_rejected() {
        let declared = b"# -*- coding: latin-1 -*-\ns = '\xe9'\n".to_vec();
        assert!(bytes(&declared).is_ok());
        let undeclared = b"s = '\xe9'\n".to_vec();
        let rejection = bytes(&undeclared).err().unwrap();
        assert_eq!(rejection.position, Some((1, 6)));
    }

    #[test]
    fn binary_and_utf16_are_rejected() {
        assert!(bytes(b"\x7fELF\x00\x01").is_err());
        assert!(bytes(b"\xFF\xFEx\x00").is_err());
    }
}
