//! The judge of what is valid Python: ruff's hand-written parser
//! (`ruff_python_parser`), which follows CPython's grammar, string and
//! number rules and, given a target version, its version gates. tree-sitter
//! stays the parser that finds and edits; it is looser than CPython in both
//! directions (it rejects `return a, *b`, accepts `print "x"` and `"\x9"`),
//! so whether a file is Python is asked of the judge instead, and only where
//! it matters: a file whose tree has errors, and every fixed text before it
//! is written or printed.
//!
//! What the judge does not check, as CPython's compiler does after parsing:
//! the symbol-table errors (`return` or `await` outside a function, a
//! duplicate parameter, a late `from __future__` import, `global` after
//! use). It accepts those files; connfix's fixes never make such code.
//! What CPython's tokenizer checks and ruff does not is checked here: the
//! nesting limits (`MAX_INDENT`, `MAX_LEVEL`) and inconsistent tabs and
//! spaces (`inconsistent_tabs`). `tests/judge_fidelity.rs` compares the
//! judge with CPython over a whole corpus.

use std::borrow::Cow;

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::{PySourceType, PythonVersion};
use ruff_python_parser::{LexicalErrorType, ParseErrorType, ParseOptions};
use ruff_text_size::Ranged;
use serde::Deserialize;

/// The Python version the judge holds code to (`target_version`): syntax
/// newer than it is an error. The default is the newest, so that no valid
/// code of any version is called a syntax error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetVersion {
    Py38,
    Py39,
    Py310,
    Py311,
    Py312,
    Py313,
    #[default]
    Py314,
}

impl TargetVersion {
    fn python(self) -> PythonVersion {
        match self {
            TargetVersion::Py38 => PythonVersion::PY38,
            TargetVersion::Py39 => PythonVersion::PY39,
            TargetVersion::Py310 => PythonVersion::PY310,
            TargetVersion::Py311 => PythonVersion::PY311,
            TargetVersion::Py312 => PythonVersion::PY312,
            TargetVersion::Py313 => PythonVersion::PY313,
            TargetVersion::Py314 => PythonVersion::PY314,
        }
    }
}

/// Why the judge rejects a text: its message, at a byte offset of the text
/// it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeError {
    pub offset: usize,
    pub message: String,
}

/// What the judge says of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid(JudgeError),
    /// Not judged: the text declares an encoding whose multi-byte characters
    /// may hold ASCII bytes (Shift_JIS, GBK, GB18030, Big5), so without
    /// decoding it, a `\` or a quote may be half of a character.
    Unjudged,
}

/// Encodings in which the second byte of a character may be ASCII.
const ASCII_UNSAFE: &[&str] = &["shift_jis", "shift-jis", "sjis", "gbk", "gb18030", "big5"];

/// Judge `text` (a file's bytes without its BOM) as a Python module for
/// `target`.
///
/// A text that is not UTF-8 (a PEP 263 declaration of an ASCII-compatible
/// encoding, which `source` checked) is judged with each non-ASCII byte read
/// as `é`: such bytes stand in strings and comments (anything goes), in
/// names (a letter) or in bytes literals (an error, as in CPython), so the
/// verdict is CPython's, except for the encodings of `ASCII_UNSAFE`.
pub fn judge(text: &[u8], target: TargetVersion) -> Verdict {
    let decoded: Cow<str> = match std::str::from_utf8(text) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            let declared = crate::source::declared_encoding(text)
                .unwrap_or_default()
                .to_ascii_lowercase();
            if ASCII_UNSAFE.contains(&declared.as_str()) {
                return Verdict::Unjudged;
            }
            Cow::Owned(
                text.iter()
                    .map(|&b| if b.is_ascii() { b as char } else { 'é' })
                    .collect(),
            )
        }
    };
    let options = ParseOptions::from(PySourceType::Python).with_target_version(target.python());
    let parsed = ruff_python_parser::parse_unchecked(&decoded, options);
    let (limit, unclosed) = brackets(parsed.tokens());
    let first = parsed.errors().iter().min_by_key(|e| e.location.start());
    let syntax = first.map(|e| {
        let at = usize::from(e.location.start());
        match (&e.error, unclosed) {
            // Where the first error is the end of the text, CPython names
            // the bracket left open, where ruff names the end.
            (ParseErrorType::Lexical(LexicalErrorType::Eof), Some(open)) => {
                let bracket = char::from(decoded.as_bytes()[open]);
                (open, format!("'{bracket}' was never closed"))
            }
            // A Python 2 statement: CPython names the missing parentheses
            // at the keyword.
            (ParseErrorType::SimpleStatementsOnSameLine, _) => {
                match python2_statement(parsed.tokens(), &decoded, at) {
                    Some((start, name)) => (
                        start,
                        format!(
                            "Missing parentheses in call to '{name}'. Did you mean {name}(...)?"
                        ),
                    ),
                    None => (at, message(&e.error, &decoded, at)),
                }
            }
            _ => (at, message(&e.error, &decoded, at)),
        }
    });
    let unsupported = parsed
        .unsupported_syntax_errors()
        .iter()
        .map(|e| (usize::from(e.range.start()), lower_first(e.to_string())));
    let tabs = inconsistent_tabs(parsed.tokens(), decoded.as_bytes());
    // At one place, the tokenizer's errors first: CPython's tokenizer runs
    // ahead of its parser.
    match tabs
        .into_iter()
        .chain(limit)
        .chain(syntax)
        .chain(unsupported)
        .min_by_key(|(at, _)| *at)
    {
        None => Verdict::Valid,
        Some((at, message)) => Verdict::Invalid(JudgeError {
            offset: original_offset(text, decoded.len(), at),
            message,
        }),
    }
}

/// CPython's tokenizer refuses a 100th level of indentation (`MAXINDENT`)
/// and a 201st open bracket (`MAXLEVEL`).
const MAX_INDENT: usize = 100;
const MAX_LEVEL: usize = 200;

/// One pass over the tokens: the first place one passes one of CPython's
/// nesting limits, with CPython's message; and the innermost bracket left
/// open at the end, if any.
fn brackets(tokens: &[ruff_python_ast::token::Token]) -> (Option<(usize, String)>, Option<usize>) {
    let mut indent = 0usize;
    let mut open: Vec<usize> = Vec::new();
    for token in tokens {
        let at = usize::from(token.start());
        match token.kind() {
            TokenKind::Indent => {
                indent += 1;
                if indent >= MAX_INDENT {
                    return (Some((at, "too many levels of indentation".into())), None);
                }
            }
            TokenKind::Dedent => indent = indent.saturating_sub(1),
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                open.push(at);
                if open.len() > MAX_LEVEL {
                    return (Some((at, "too many nested parentheses".into())), None);
                }
            }
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => {
                open.pop();
            }
            _ => {}
        }
    }
    (None, open.last().copied())
}

/// CPython's TabError, which ruff does not have: each logical line's
/// indentation is measured twice, a tab counting to the next multiple of 8
/// and as 1, and the two measures must order the line against the enclosing
/// indentation levels the same way (tokenizer.c). The place: the start of
/// the first line where they do not.
fn inconsistent_tabs(
    tokens: &[ruff_python_ast::token::Token],
    text: &[u8],
) -> Option<(usize, String)> {
    let mut levels: Vec<(usize, usize)> = vec![(0, 0)];
    let mut at_line_start = true;
    for token in tokens {
        let kind = token.kind();
        if kind == TokenKind::Newline {
            at_line_start = true;
            continue;
        }
        if !at_line_start
            || kind.is_trivia()
            || matches!(kind, TokenKind::Indent | TokenKind::Dedent)
        {
            continue;
        }
        at_line_start = false;
        let start = usize::from(token.start());
        let line = memchr::memrchr(b'\n', &text[..start]).map_or(0, |i| i + 1);
        let (mut col, mut alt) = (0, 0);
        // The whitespace that opens the line (a token the lexer could not
        // read may start before it).
        let indent = text[line..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\x0c'))
            .count();
        for &b in &text[line..line + indent] {
            match b {
                b'\t' => {
                    col = (col / 8 + 1) * 8;
                    alt += 1;
                }
                b'\x0c' => (col, alt) = (0, 0),
                _ => (col, alt) = (col + 1, alt + 1),
            }
        }
        let &(top, top_alt) = levels.last().expect("the first level is never popped");
        let consistent = if col > top {
            levels.push((col, alt));
            alt > top_alt
        } else {
            while levels.len() > 1 && col < levels[levels.len() - 1].0 {
                levels.pop();
            }
            let &(top, top_alt) = levels.last().expect("the first level is never popped");
            // A dedent to no enclosing level: CPython's IndentationError,
            // which ruff, measuring tabs its own way, does not always see.
            if col != top {
                return Some((
                    line,
                    "unindent does not match any outer indentation level".into(),
                ));
            }
            alt == top_alt
        };
        if !consistent {
            return Some((
                line,
                "inconsistent use of tabs and spaces in indentation".into(),
            ));
        }
    }
    None
}

/// The `print` or `exec` a statement starts with, with its offset, when
/// the token before `at` is that name at the start of a statement (the
/// Python 2 statement CPython recognises).
fn python2_statement<'a>(
    tokens: &[ruff_python_ast::token::Token],
    text: &'a str,
    at: usize,
) -> Option<(usize, &'a str)> {
    let before = tokens.partition_point(|t| usize::from(t.start()) < at);
    let name = tokens[..before]
        .iter()
        .rev()
        .find(|t| !t.kind().is_trivia())?;
    let word = &text[name.range()];
    let starts_statement = tokens[..before]
        .iter()
        .rev()
        .filter(|t| !t.kind().is_trivia())
        .nth(1)
        .is_none_or(|t| {
            matches!(
                t.kind(),
                TokenKind::Newline
                    | TokenKind::Indent
                    | TokenKind::Dedent
                    | TokenKind::Semi
                    | TokenKind::Colon
            )
        });
    (name.kind() == TokenKind::Name && matches!(word, "print" | "exec") && starts_statement)
        .then(|| (usize::from(name.start()), word))
}

/// The parser's message, made specific where it is vague: an escape it
/// cannot decode is named the way CPython names it.
fn message(error: &ParseErrorType, text: &str, at: usize) -> String {
    if let ParseErrorType::Lexical(LexicalErrorType::UnicodeError) = error {
        // The error points at or just after the escape's last character.
        let before = &text.as_bytes()[..at.min(text.len())];
        let escape = memchr::memrchr(b'\\', &before[before.len().saturating_sub(12)..])
            .map(|i| before.len().saturating_sub(12) + i)
            .and_then(|i| text.as_bytes().get(i + 1));
        let what = match escape {
            Some(b'x') => "truncated \\xXX escape",
            Some(b'u') => "truncated \\uXXXX escape",
            Some(b'U') => "truncated \\UXXXXXXXX escape",
            Some(b'N') => "malformed \\N character escape or unknown Unicode character name",
            _ => "an escape sequence that cannot be decoded",
        };
        return format!("invalid string literal: {what}");
    }
    lower_first(error.to_string())
}

/// CPython's messages start in lower case; ruff's mostly do not. A word in
/// capitals (`EOF`) stays as it is.
fn lower_first(text: String) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if chars.clone().next().is_some_and(|c| c.is_lowercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text,
    }
}

/// The offset in the original `text` of offset `at` of the judged text
/// (`decoded_len` long): the same, unless non-ASCII bytes were widened to
/// the two bytes of `é`.
fn original_offset(text: &[u8], decoded_len: usize, at: usize) -> usize {
    if decoded_len == text.len() {
        return at.min(text.len());
    }
    let mut decoded = 0;
    for (i, b) in text.iter().enumerate() {
        if decoded >= at {
            return i;
        }
        decoded += if b.is_ascii() { 1 } else { 2 };
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> Verdict {
        judge(text.as_bytes(), TargetVersion::default())
    }

    fn error(text: &str, target: TargetVersion) -> (usize, String) {
        match judge(text.as_bytes(), target) {
            Verdict::Invalid(e) => (e.offset, e.message),
            other => panic!("{text:?} was not rejected: {other:?}"),
        }
    }

    /// The false syntax errors: valid code tree-sitter rejects.
    #[test]
    fn accepts_what_cpython_accepts_and_tree_sitter_does_not() {
        for text in [
            "def f():\n    return True, alert, *([dash.no_update] * 6)\n",
            "def f():\n    yield 1, *rest\n",
            "x = f\"{'\\n'.join(a)}\"\n",
            "match x:\n    case [1, *r]:\n        pass\n",
            "type X = list[int]\n",
            "def f[T](x: T) -> T:\n    return x\n",
            "if (n := 10) > 5:\n    pass\n",
            "x = t\"{a}\"\n",
        ] {
            assert_eq!(verdict(text), Verdict::Valid, "{text}");
        }
    }

    /// The false acceptances: a truncated `\x` escape (what a file
    /// name with a `\x9b` in it became in an inserted string), a Python 2
    /// `print` statement.
    #[test]
    fn rejects_a_truncated_hex_escape_with_cpythons_words() {
        assert_eq!(
            error("x = \"\\x9\"\n", TargetVersion::default()),
            (8, "invalid string literal: truncated \\xXX escape".into())
        );
        let (_, message) = error(
            "context = track(\"a\\x9.py::get\")\n",
            TargetVersion::default(),
        );
        assert_eq!(message, "invalid string literal: truncated \\xXX escape");
        let (_, message) = error("x = '\\u12'\n", TargetVersion::default());
        assert_eq!(message, "invalid string literal: truncated \\uXXXX escape");
        // Raw strings hold any backslash.
        assert_eq!(verdict("x = r\"\\x9\"\n"), Verdict::Valid);
    }

    /// CPython 3.11: `Missing parentheses in call to 'print'. Did you mean
    /// print(...)?` at the `print`; other statements on one line keep the
    /// parser's message.
    #[test]
    fn rejects_a_print_statement_at_its_position() {
        let (offset, message) = error("x = 1\nprint 'hello'\n", TargetVersion::default());
        assert_eq!(offset, 6);
        assert_eq!(
            message,
            "Missing parentheses in call to 'print'. Did you mean print(...)?"
        );
        let (offset, message) = error("x = 1 y = 2\n", TargetVersion::default());
        assert_eq!(offset, 6);
        assert_eq!(
            message,
            "simple statements must be separated by newlines or semicolons"
        );
    }

    /// CPython 3.11's TabError, at the start of the line; a tab that
    /// means the same either way is fine.
    #[test]
    fn inconsistent_tabs_are_cpythons_tab_error() {
        for (text, line) in [
            ("if x:\n\tpass\n        pass\n", 3),
            ("if x:\n        pass\n\tpass\n", 3),
            ("if x:\n    if y:\n\tpass\n", 3),
            (
                "def f():\n    try:\n    \t    g()\n            g()\n    finally:\n        h()\n",
                4,
            ),
        ] {
            let (offset, message) = error(text, TargetVersion::default());
            assert_eq!(
                message, "inconsistent use of tabs and spaces in indentation",
                "{text:?}"
            );
            let start = text.match_indices('\n').nth(line - 2).unwrap().0 + 1;
            assert_eq!(offset, start, "{text:?}");
        }
        for text in [
            "if x:\n\tif y:\n\t\tpass\n\tpass\n",
            "if x:\n    pass\n# \tcomment\n\n    x = (1,\n\t2)\n",
            "if x:\n\tpass\nelse:\n        pass\n",
        ] {
            assert_eq!(verdict(text), Verdict::Valid, "{text:?}");
        }
        // A dedent to no enclosing level, as CPython measures tabs (a tab
        // then 8 spaces is column 16; 12 spaces match no level), found by
        // the fuzz test once it counted connfix rejecting its own output.
        let text = "try:\n    x = 1\nfinally:\n\t        if x:\n            x = 2\n";
        let (offset, message) = error(text, TargetVersion::default());
        assert_eq!(
            message,
            "unindent does not match any outer indentation level"
        );
        assert_eq!(offset, text.find("            x = 2").unwrap());
        assert!(compile_fails(text));
    }

    /// Whether CPython refuses to compile `text`.
    fn compile_fails(text: &str) -> bool {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys; compile(sys.argv[1], 'x', 'exec')", text])
            .output()
            .expect("python3 runs");
        !out.status.success()
    }

    /// CPython 3.11: 99 levels of indentation and 200 open brackets pass,
    /// one more does not.
    #[test]
    fn cpythons_nesting_limits_hold() {
        let nested = |levels: usize| {
            let mut text = String::new();
            for level in 0..levels {
                text += &format!("{}if x:\n", " ".repeat(level));
            }
            text + &" ".repeat(levels) + "pass\n"
        };
        assert_eq!(verdict(&nested(99)), Verdict::Valid);
        let (offset, message) = error(&nested(100), TargetVersion::default());
        assert_eq!(message, "too many levels of indentation");
        // At the start of line 101, as CPython says.
        assert_eq!(offset, nested(100).len() - 100 - "pass\n".len());
        let brackets = |n: usize| format!("x = {}1{}\n", "([".repeat(n / 2), "])".repeat(n / 2));
        assert_eq!(verdict(&brackets(200)), Verdict::Valid);
        assert_eq!(
            error(
                &format!("x = {}1{}\n", "(".repeat(201), ")".repeat(201)),
                TargetVersion::default()
            ),
            (4 + 200, "too many nested parentheses".into())
        );
    }

    /// CPython 3.11's words and places.
    #[test]
    fn an_unclosed_bracket_is_named_at_its_place() {
        let error = |text| error(text, TargetVersion::default());
        assert_eq!(
            error("s = 1\nconn = get_db_connection(\n"),
            (30, "'(' was never closed".into())
        );
        assert_eq!(error("x = (1, [2,\n"), (8, "'[' was never closed".into()));
        // An error before the end is named where it is.
        assert_eq!(error("def f(:\n").0, 6);
    }

    #[test]
    fn the_target_version_gates_newer_syntax() {
        let text = "match x:\n    case 1:\n        pass\n";
        assert_eq!(judge(text.as_bytes(), TargetVersion::Py310), Verdict::Valid);
        let (offset, message) = error(text, TargetVersion::Py39);
        assert_eq!(offset, 0);
        assert!(
            message.starts_with("cannot use `match` statement on Python 3.9"),
            "{message}"
        );
    }

    #[test]
    fn declared_single_byte_encodings_are_judged_and_positions_kept() {
        let latin1 = b"# -*- coding: latin-1 -*-\ns = '\xe9'\nt = b'\xe9'\n";
        match judge(latin1, TargetVersion::default()) {
            Verdict::Invalid(e) => {
                // CPython: bytes can only contain ASCII literal characters.
                assert_eq!(
                    e.offset,
                    latin1.iter().position(|b| *b == b'b').unwrap() + 2
                );
                assert!(e.message.contains("ASCII"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
        let sjis = b"# coding: shift_jis\ns = '\x83\x5c'\n";
        assert_eq!(judge(sjis, TargetVersion::default()), Verdict::Unjudged);
    }
}
