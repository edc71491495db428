//! Indentation: writing inserted lines in the file's style, and shifting a
//! region one level deeper without changing a byte of any string literal.

use std::ops::Range;

use crate::source::Style;

/// Lines of Python to insert, written canonically: `\n` line breaks and four
/// spaces a level. `render` turns them into the file's style.
pub struct Template<'a>(pub &'a str);

impl Template<'_> {
    /// Every line prefixed by `base` (and by one unit of `style` for each
    /// canonical level), joined by the file's line break, with no break at
    /// the end. An empty line stays empty.
    pub fn render(&self, base: &[u8], style: &Style) -> Vec<Vec<u8>> {
        let unit = style.unit_after(base);
        self.0
            .split('\n')
            .map(|line| {
                if line.trim().is_empty() {
                    return Vec::new();
                }
                let content = line.trim_start_matches(' ');
                let depth = (line.len() - content.len()) / 4;
                let mut out = base.to_vec();
                for _ in 0..depth {
                    out.extend_from_slice(unit);
                }
                out.extend_from_slice(content.as_bytes());
                out
            })
            .collect()
    }
}

/// Lines to put in front of a statement that starts at its line's
/// indentation `base`: each line, then a line break and `base` again so the
/// statement keeps its place. The first line's `base` is already in the file.
pub fn before_statement(lines: &[Vec<u8>], base: &[u8], style: &Style) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.strip_prefix(base).unwrap_or(line));
        out.extend_from_slice(style.newline);
        out.extend_from_slice(base);
    }
    // An empty line must not carry `base` as trailing whitespace.
    collapse_blank_lines(out, base, style)
}

/// Lines to put at the end of a line: a line break before each.
pub fn after_line(lines: &[Vec<u8>], style: &Style) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(style.newline);
        out.extend_from_slice(line);
    }
    out
}

fn collapse_blank_lines(text: Vec<u8>, base: &[u8], style: &Style) -> Vec<u8> {
    if base.is_empty() {
        return text;
    }
    let blank: Vec<u8> = [style.newline, base, style.newline].concat();
    let fixed: Vec<u8> = [style.newline, style.newline].concat();
    let mut out = text;
    while let Some(at) = memchr::memmem::find(&out, &blank) {
        out.splice(at..at + blank.len(), fixed.iter().copied());
    }
    out
}

/// `text[range]` with `unit` put in front of every line that starts inside
/// the range, except blank lines and lines that start inside a string
/// literal (listed in `strings`, as byte ranges of the whole text).
pub fn indent_region(
    text: &[u8],
    range: Range<usize>,
    unit: &[u8],
    strings: &[Range<usize>],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(range.len() + range.len() / 8);
    let mut copied = range.start;
    for line in indented_lines(text, range.clone(), strings) {
        out.extend_from_slice(&text[copied..line.start]);
        out.extend_from_slice(unit);
        copied = line.start;
    }
    out.extend_from_slice(&text[copied..range.end]);
    out
}

/// Whether `indent_region(text, range, unit, strings)` deepens every line it
/// indents by the same amount, as CPython and tree-sitter count columns:
/// a tab unit always does (tab stops are eight columns apart); spaces do
/// only in front of indentation without a tab, whose column the spaces
/// would not move.
pub fn shifts_uniformly(
    text: &[u8],
    range: Range<usize>,
    unit: &[u8],
    strings: &[Range<usize>],
) -> bool {
    unit == b"\t" || indented_lines(text, range, strings).all(|i| !text[i].contains(&b'\t'))
}

/// The indentation of each line `indent_region` indents: the lines that
/// start inside `range`, are not blank, and do not start inside a string
/// literal of `strings`.
fn indented_lines<'a>(
    text: &'a [u8],
    range: Range<usize>,
    strings: &'a [Range<usize>],
) -> impl Iterator<Item = Range<usize>> + 'a {
    let mut at = range.start;
    let mut line_begins = at == 0 || text[at - 1] == b'\n';
    std::iter::from_fn(move || {
        while at < range.end {
            let start = at;
            let begins = line_begins;
            at = memchr::memchr(b'\n', &text[at..range.end]).map_or(range.end, |i| at + i + 1);
            line_begins = true;
            if !begins || strings.iter().any(|s| s.start < start && start < s.end) {
                continue;
            }
            let rest = &text[start..range.end];
            let blank = rest
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .count();
            if !matches!(rest.get(blank), None | Some(b'\n') | Some(b'\r')) {
                return Some(start..start + blank);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(indent: &str, newline: &'static str) -> Style {
        Style {
            indent: indent.as_bytes().to_vec(),
            newline: newline.as_bytes(),
        }
    }

    #[test]
    fn renders_levels_in_the_file_unit() {
        let lines = Template("if x:\n    y()\n\nz()").render(b"  ", &style("  ", "\n"));
        assert_eq!(
            lines,
            vec![
                b"  if x:".to_vec(),
                b"    y()".to_vec(),
                vec![],
                b"  z()".to_vec()
            ]
        );
    }

    #[test]
    fn a_tab_indented_base_nests_with_a_tab() {
        let lines = Template("if x:\n    y()").render(b"\t", &style("    ", "\n"));
        assert_eq!(lines, vec![b"\tif x:".to_vec(), b"\t\ty()".to_vec()]);
    }

    #[test]
    fn before_statement_keeps_the_statement_at_its_indent_and_blank_lines_bare() {
        let s = style("    ", "\r\n");
        let lines = Template("a()\n\nb()").render(b"    ", &s);
        assert_eq!(
            before_statement(&lines, b"    ", &s),
            b"a()\r\n\r\n    b()\r\n    ".to_vec()
        );
    }

    #[test]
    fn spaces_in_front_of_a_tab_do_not_shift_uniformly() {
        let text = b"x = 1\n\ty = 2\n    z = 3\n\t\n";
        assert!(!shifts_uniformly(text, 0..text.len(), b"    ", &[]));
        // A tab unit moves every tab stop by one.
        assert!(shifts_uniformly(text, 0..text.len(), b"\t", &[]));
        // The lines without a tab, and a blank line (not indented).
        assert!(shifts_uniformly(text, 13..text.len(), b"    ", &[]));
        // A line that starts inside a string literal is not indented.
        let string = 3..9;
        assert!(shifts_uniformly(text, 0..13, b"    ", &[string]));
    }

    #[test]
    fn indent_region_skips_blank_lines_and_string_continuations() {
        let text = b"x = 1\n    s = '''\nkeep\n  '''\n\n    y()\n";
        let start = text.iter().position(|b| *b == b'\'').unwrap();
        let end = start + 14; // the literal with its quotes
        assert_eq!(&text[start..end], b"'''\nkeep\n  '''");
        let out = indent_region(
            text,
            6..text.len(),
            b"  ",
            std::slice::from_ref(&(start..end)),
        );
        assert_eq!(out, b"      s = '''\nkeep\n  '''\n\n      y()\n".to_vec());
    }
}
