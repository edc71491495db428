// The documentation, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/unparsed-region.md")]

use crate::rules::{Code, Diagnostic};
use crate::source::SourceFile;
use crate::syntax;

pub const ID: Code = Code::UnparsedRegion;

/// A warning for each part of a `partial` file the rules left alone, at the
/// place tree-sitter could not read.
pub fn check(file: &SourceFile) -> Vec<Diagnostic> {
    syntax::unsound_regions(file)
        .into_iter()
        .map(|(error, unit)| {
            let (first, last) = (unit.start_position().row + 1, unit.end_position().row + 1);
            let (lines, them) = if first == last {
                (format!("line {first}"), "it")
            } else {
                (format!("lines {first}-{last}"), "them")
            };
            Diagnostic {
                rule: ID,
                severity: ID.severity(),
                offset: error.start_byte(),
                message: format!(
                    "tree-sitter cannot read this line, though Python's grammar allows it; connfix leaves \
                     {lines} alone: check {them} for leaks by hand"
                ),
                fix: None,
            }
        })
        .collect()
}
