//! Byte offsets (what connfix's diagnostics and edits carry) to LSP
//! positions and back, in the position encoding negotiated with the client:
//! UTF-8 (bytes) when it offers it, else LSP's default, UTF-16 code units.

use lsp_types::{Position, PositionEncodingKind, Range};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

impl Encoding {
    /// UTF-8 if the client offers it (no conversion at all), else UTF-16,
    /// which every client must accept.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Encoding {
        match offered {
            Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
            _ => Encoding::Utf16,
        }
    }

    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }
    }
}

/// Where each line of a text starts. Lines end at `\n` (a `\r` before it
/// stays at the end of its line).
pub struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
    encoding: Encoding,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str, encoding: Encoding) -> Lines<'t> {
        let starts = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
            .collect();
        Lines {
            text,
            starts,
            encoding,
        }
    }

    /// The position of a byte offset (one inside a character counts as the
    /// character's start; one past the end as the end).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let character = match self.encoding {
            Encoding::Utf8 => offset - start,
            Encoding::Utf16 => self.text[start..offset].encode_utf16().count(),
        };
        Position::new(line as u32, character as u32)
    }

    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    /// The byte offset of a position. As LSP says, a character past the end
    /// of its line means the end of the line (before its line break), and a
    /// line past the last means the end of the text.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let end = self.line_end(start);
        let line = &self.text[start..end];
        let wanted = position.character as usize;
        match self.encoding {
            Encoding::Utf8 => {
                let mut at = wanted.min(line.len());
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                start + at
            }
            Encoding::Utf16 => {
                let mut units = 0;
                for (at, c) in line.char_indices() {
                    if units >= wanted {
                        return start + at;
                    }
                    units += c.len_utf16();
                }
                end
            }
        }
    }

    /// The offset of the end of the line that starts at `start`, before its
    /// line break (`\n` or `\r\n`).
    pub fn line_end(&self, start: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        end
    }

    /// The line (0-based) holding `offset`, and the offset's column in bytes.
    pub fn point(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        (line, offset - self.starts[line])
    }

    /// The text between two offsets on character boundaries.
    pub fn slice(&self, start: usize, end: usize) -> &'t str {
        &self.text[start..end]
    }

    /// The start of the line holding `offset`.
    pub fn line_start(&self, offset: usize) -> usize {
        self.starts[self.starts.partition_point(|&s| s <= offset) - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "a = 1\r\ns = \"h\u{e9}llo \u{1F600}\"; conn.close()\nend";

    #[test]
    fn utf16_counts_code_units_and_utf8_bytes() {
        let close = TEXT.find("conn").unwrap();
        let utf16 = Lines::new(TEXT, Encoding::Utf16);
        // `s = "h` 6, `é` 1 unit (2 bytes), `llo ` 4, `😀` 2 units, a
        // surrogate pair (4 bytes), `"; ` 3.
        assert_eq!(utf16.position(close), Position::new(1, 16));
        assert_eq!(utf16.offset(Position::new(1, 16)), close);
        let utf8 = Lines::new(TEXT, Encoding::Utf8);
        assert_eq!(utf8.position(close), Position::new(1, 19));
        assert_eq!(utf8.offset(Position::new(1, 19)), close);
    }

    #[test]
    fn past_the_end_of_a_line_is_its_end_before_the_line_break() {
        let lines = Lines::new(TEXT, Encoding::Utf16);
        assert_eq!(lines.offset(Position::new(0, 99)), 5);
        assert_eq!(lines.offset(Position::new(9, 0)), TEXT.len());
        assert_eq!(lines.position(TEXT.len()), Position::new(2, 3));
        // Inside a character: its start.
        let e = TEXT.find('\u{e9}').unwrap();
        assert_eq!(lines.position(e + 1), lines.position(e));
    }

    #[test]
    fn utf8_is_chosen_only_when_offered() {
        assert_eq!(Encoding::negotiate(None), Encoding::Utf16);
        let offered = [PositionEncodingKind::UTF16, PositionEncodingKind::UTF8];
        assert_eq!(Encoding::negotiate(Some(&offered)), Encoding::Utf8);
        let offered = [PositionEncodingKind::UTF32];
        assert_eq!(Encoding::negotiate(Some(&offered)), Encoding::Utf16);
    }
}
