//! Where a text's string literals and comments are, found without parsing:
//! part of the prefilter's closer look. A needle that occurs only inside
//! strings and comments (a docstring's example, a script template in a
//! test, a list of audit event names) cannot be part of a match, so the file
//! need not be parsed for it.
//!
//! The scan is Python's tokenizer reduced to what decides where a string or a
//! comment starts and ends. A backslash always takes the next character
//! along (in raw strings too, for the tokenizer), so raw and plain strings
//! end alike. Where the scan cannot be sure it says so and the file is
//! parsed: an f-string (or t-string) replacement field holding a quote, a
//! `#` or a backslash, which Python 3.12 allows and older versions did not;
//! a single-quoted string that reaches the end of its line; a string that
//! reaches the end of the text; a `}` alone in an f-string.

use std::ops::Range;

/// The byte ranges of `text`'s string literals (prefix and quotes included)
/// and comments, in order and disjoint; `None` when the scan cannot be sure.
pub fn literal_ranges(text: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = memchr::memchr3(b'#', b'\'', b'"', &text[at..]) {
        let start = at + found;
        let range = if text[start] == b'#' {
            start..memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |n| start + n)
        } else {
            let (prefix, formatted) = prefix(text, start);
            start - prefix..string_end(text, start, formatted)?
        };
        at = range.end;
        out.push(range);
    }
    Some(out)
}

/// Whether `range` lies wholly inside one of `literals` (as given by
/// `literal_ranges`).
pub fn inside(literals: &[Range<usize>], range: Range<usize>) -> bool {
    let after = literals.partition_point(|l| l.start <= range.start);
    after > 0 && range.end <= literals[after - 1].end
}

/// The length of the string prefix (`r`, `b`, `f`, `rb`, `Rb`, `ft`...)
/// before the quote at `quote`, and whether it makes a formatted string (f or
/// t). A word that is not a prefix (`if"x"`) is a word before a plain string.
fn prefix(text: &[u8], quote: usize) -> (usize, bool) {
    let word = text[..quote]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b >= 0x80)
        .count();
    let letters = text[quote - word..quote].to_ascii_lowercase();
    let formatted = matches!(
        letters.as_slice(),
        b"f" | b"t" | b"fr" | b"rf" | b"tr" | b"rt"
    );
    if formatted || matches!(letters.as_slice(), b"r" | b"u" | b"b" | b"br" | b"rb") {
        (word, formatted)
    } else {
        (0, false)
    }
}

/// The end (one past the closing quote) of the string whose opening quote is
/// at `open`; `None` when the scan cannot be sure (see the module's doc).
fn string_end(text: &[u8], open: usize, formatted: bool) -> Option<usize> {
    let quote = text[open];
    let triple = text[open..].starts_with(&[quote; 3]);
    let mut at = open + if triple { 3 } else { 1 };
    // The depth of replacement fields (`{...}`) in a formatted string.
    let mut depth = 0usize;
    loop {
        let byte = *text.get(at)?;
        if depth > 0 {
            match byte {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                b'\'' | b'"' | b'#' | b'\\' => return None,
                b'\n' | b'\r' if !triple => return None,
                _ => {}
            }
            at += 1;
            continue;
        }
        match byte {
            b'\\' => {
                at += 2;
                if text.get(at - 1) == Some(&b'\r') && text.get(at) == Some(&b'\n') {
                    at += 1;
                }
            }
            b'\n' | b'\r' if !triple => return None,
            b if b == quote => {
                if !triple {
                    return Some(at + 1);
                }
                if text[at..].starts_with(&[quote; 3]) {
                    return Some(at + 3);
                }
                at += 1;
            }
            b'{' if formatted => {
                if text.get(at + 1) == Some(&b'{') {
                    at += 2;
                } else {
                    depth = 1;
                    at += 1;
                }
            }
            b'}' if formatted => {
                if text.get(at + 1) != Some(&b'}') {
                    return None;
                }
                at += 2;
            }
            _ => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literals of `text`, as text.
    fn literals(text: &str) -> Option<Vec<&str>> {
        literal_ranges(text.as_bytes()).map(|ranges| ranges.into_iter().map(|r| &text[r]).collect())
    }

    #[test]
    fn strings_and_comments_with_their_prefixes() {
        assert_eq!(
            literals("x = 'a' + \"b#\" # c 'd'\ny = rb'\\'' + F\"e\"\n"),
            Some(vec!["'a'", "\"b#\"", "# c 'd'", "rb'\\''", "F\"e\""])
        );
        // A word that is not a prefix is code before a plain string.
        assert_eq!(literals("if\"x\": pass\n"), Some(vec!["\"x\""]));
        assert_eq!(literals("sqlite3.connect(db)\n"), Some(vec![]));
    }

    #[test]
    fn triple_quoted_strings_span_lines_and_hold_lone_quotes() {
        let text = "s = \"\"\"\nconn = sqlite3.connect(\"x\")\n'''\n\"\"\"\nconn.close()\n";
        assert_eq!(
            literals(text),
            Some(vec!["\"\"\"\nconn = sqlite3.connect(\"x\")\n'''\n\"\"\""])
        );
        // A backslash takes the next character along, also in a raw string,
        // and a backslash at the end of a line continues the string.
        assert_eq!(
            literals("r'\\\\' 'a\\\r\nb'\n"),
            Some(vec!["r'\\\\'", "'a\\\r\nb'"])
        );
    }

    #[test]
    fn f_string_fields_are_code_and_unsure_where_python_versions_differ() {
        assert_eq!(
            literals("f\"{a['k']}\" f'{{x}}' f'{x:{w}}'\n"),
            None,
            "a quote inside a field"
        );
        assert_eq!(
            literals("f'{{x}}' f'{x:{w}}' t\"{y!r}\"\n"),
            Some(vec!["f'{{x}}'", "f'{x:{w}}'", "t\"{y!r}\""])
        );
        assert_eq!(literals("f'{x # no}'\n"), None);
        assert_eq!(literals("f'a}b'\n"), None);
    }

    #[test]
    fn unterminated_strings_are_unsure() {
        assert_eq!(literals("x = 'abc\ny = 1\n"), None);
        assert_eq!(literals("x = \"\"\"abc\n"), None);
        assert_eq!(literals("x = 'abc"), None);
    }

    #[test]
    fn inside_needs_the_whole_range_in_one_literal() {
        let ranges = vec![2..5, 10..20];
        assert!(inside(&ranges, 11..14));
        assert!(inside(&ranges, 10..20));
        assert!(!inside(&ranges, 4..7));
        assert!(!inside(&ranges, 0..2));
        assert!(!inside(&ranges, 6..9));
        assert!(!inside(&ranges, 19..21));
        assert!(!inside(&[], 0..1));
    }
}
