//! Code actions: each finding's fix (the edits `apply` makes for it), all
//! fixes of the file at once (what `apply` writes), and a comment that
//! silences a finding's rule on its line.

use crate::edit::Applicability;
use std::collections::HashMap;

use anyhow::Result;
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, TextEdit, Uri, WorkspaceEdit,
};

use super::position::Lines;
use super::{FIX_ALL, Server, analyse, bom_len};

impl Server {
    pub(super) fn code_actions(
        &mut self,
        params: CodeActionParams,
    ) -> Result<Vec<CodeActionOrCommand>> {
        let uri = params.text_document.uri;
        let Some(document) = self.documents.get_mut(&uri) else {
            return Ok(Vec::new());
        };
        let unsafe_fixes = self.options.unsafe_fixes;
        let analysis = analyse(&mut self.setups, unsafe_fixes, document);
        let document = &self.documents[&uri];
        let Ok(outcome) = &analysis.found else {
            return Ok(Vec::new());
        };
        let wanted = |kind: &str| {
            params.context.only.as_ref().is_none_or(|only| {
                only.iter().any(|o| {
                    let o = o.as_str();
                    kind == o || kind.strip_prefix(o).is_some_and(|r| r.starts_with('.'))
                })
            })
        };
        let lines = Lines::new(&document.text, self.encoding);
        let shift = bom_len(outcome);
        let (first, last) = (params.range.start.line, params.range.end.line);
        let mut actions = Vec::new();
        let mut ignored: Vec<(usize, &str)> = Vec::new();
        for found in &outcome.diagnostics {
            let diagnostic = self.diagnostic(&lines, shift, found);
            let line = diagnostic.range.start.line;
            if line < first || line > last || !wanted(CodeActionKind::QUICKFIX.as_str()) {
                continue;
            }
            if let Some(fix) = found.fix.as_ref().filter(|f| {
                let threshold = if unsafe_fixes {
                    Applicability::Unsafe
                } else {
                    Applicability::Safe
                };
                f.applicability >= threshold
            }) {
                let edits = fix
                    .edits
                    .iter()
                    .map(|e| TextEdit {
                        range: lines.range(e.range.start + shift, e.range.end + shift),
                        new_text: String::from_utf8_lossy(&e.replacement).into_owned(),
                    })
                    .collect();
                let unsafe_ = if fix.applicability == Applicability::Safe {
                    ""
                } else {
                    " (unsafe)"
                };
                actions.push(action(
                    format!("Fix this {} finding{unsafe_}", found.rule),
                    CodeActionKind::QUICKFIX,
                    &uri,
                    edits,
                    Some(vec![diagnostic.clone()]),
                    fix.applicability == Applicability::Safe,
                ));
            }
            let start = lines.line_start(found.offset + shift);
            if ignored.contains(&(start, found.rule.id())) {
                continue;
            }
            ignored.push((start, found.rule.id()));
            if let Some((at, insert)) = ignore_comment(&lines, start, found.rule.id()) {
                let edit = TextEdit {
                    range: lines.range(at, at),
                    new_text: insert,
                };
                actions.push(action(
                    format!("Ignore {} on this line", found.rule),
                    CodeActionKind::QUICKFIX,
                    &uri,
                    vec![edit],
                    Some(vec![diagnostic]),
                    false,
                ));
            }
        }
        if wanted(FIX_ALL) && outcome.fixable > 0 {
            let fixer = self
                .setups
                .fixer(&document.path, unsafe_fixes)
                .map_err(anyhow::Error::msg)?;
            let fixed = fixer.run(&document.path, document.text.clone().into_bytes());
            if let Ok(outcome) = fixed
                && let Some((_, new)) = &outcome.change
            {
                let edit = whole_lines_edit(&lines, document.text.as_bytes(), new);
                actions.push(action(
                    "Fix all connfix issues in this file".into(),
                    CodeActionKind::new(FIX_ALL),
                    &uri,
                    vec![edit],
                    None,
                    false,
                ));
            }
        }
        Ok(actions)
    }
}

fn action(
    title: String,
    kind: CodeActionKind,
    uri: &Uri,
    edits: Vec<TextEdit>,
    diagnostics: Option<Vec<lsp_types::Diagnostic>>,
    is_preferred: bool,
) -> CodeActionOrCommand {
    CodeActionOrCommand::CodeAction(CodeAction {
        title,
        kind: Some(kind),
        diagnostics,
        edit: Some(WorkspaceEdit {
            changes: Some(HashMap::from([(uri.clone(), edits)])),
            ..Default::default()
        }),
        is_preferred: is_preferred.then_some(true),
        ..Default::default()
    })
}

/// The comment that silences `rule` on the line starting at `start`: where
/// to insert what. A line with an ignore comment naming other rules gets
/// the rule added to its list; a line ending in a backslash (continued on
/// the next) cannot take a comment; a line already silencing every rule,
/// or this one, needs nothing.
pub(super) fn ignore_comment(lines: &Lines, start: usize, rule: &str) -> Option<(usize, String)> {
    const IGNORE: &str = "connfix: ignore";
    let line = lines.slice(start, lines.line_end(start));
    if let Some(at) = line.find(IGNORE).filter(|at| line[..*at].contains('#')) {
        let rest = &line[at + IGNORE.len()..];
        let list = rest.strip_prefix('[')?;
        let close = list.find(']')?;
        let codes = &list[..close];
        if codes.split(',').any(|c| c.trim() == rule) {
            return None;
        }
        let insert = if codes.trim().is_empty() {
            rule.to_string()
        } else {
            format!(", {rule}")
        };
        let close_at = start + at + IGNORE.len() + 1 + close;
        let end_of_codes = start + (lines.slice(start, close_at).trim_end().len());
        return Some((end_of_codes, insert));
    }
    let content = line.trim_end();
    if content.ends_with('\\') {
        return None;
    }
    Some((
        start + content.len(),
        format!("  # connfix: ignore[{rule}]"),
    ))
}

/// One edit turning `old` into `new`: the lines between their common first
/// and last lines replaced, so the editor keeps everything else (cursor,
/// folds, marks) where it was.
fn whole_lines_edit(lines: &Lines, old: &[u8], new: &[u8]) -> TextEdit {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let prefix = old[..prefix]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let most = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(most)
        .take_while(|(a, b)| a == b)
        .count();
    // From the start of a line: just after a line break.
    let suffix = if suffix == old.len() || old[old.len() - suffix - 1] == b'\n' {
        suffix
    } else {
        old[old.len() - suffix..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(0, |i| suffix - i - 1)
    };
    TextEdit {
        range: lines.range(prefix, old.len() - suffix),
        new_text: String::from_utf8_lossy(&new[prefix..new.len() - suffix]).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::position::Encoding;
    use super::*;

    fn ignore(line: &str) -> Option<String> {
        let lines = Lines::new(line, Encoding::Utf8);
        ignore_comment(&lines, 0, "never-closed").map(|(at, insert)| {
            let mut out = line.to_string();
            out.insert_str(at, &insert);
            out
        })
    }

    #[test]
    fn an_ignore_comment_is_added_or_extended() {
        assert_eq!(
            ignore("conn = get_db_connection()  \n").unwrap(),
            "conn = get_db_connection()  # connfix: ignore[never-closed]  \n"
        );
        assert_eq!(
            ignore("conn = f()  # note # connfix: ignore[orm-bypass ]\r\n").unwrap(),
            "conn = f()  # note # connfix: ignore[orm-bypass, never-closed ]\r\n"
        );
        assert_eq!(
            ignore("conn = f()  # connfix: ignore[]\n").unwrap(),
            "conn = f()  # connfix: ignore[never-closed]\n"
        );
        assert_eq!(
            ignore("conn = f()  # connfix: ignore[never-closed]\n"),
            None
        );
        assert_eq!(ignore("conn = f()  # connfix: ignore\n"), None);
        assert_eq!(ignore("conn = f() + \\\n"), None);
    }

    #[test]
    fn fix_all_replaces_only_the_lines_that_differ() {
        let old = "a\nb\nc\nd\n";
        let new = "a\nb\nB2\nc\nd\n";
        let lines = Lines::new(old, Encoding::Utf16);
        let edit = whole_lines_edit(&lines, old.as_bytes(), new.as_bytes());
        let mut out = old.to_string();
        let range = lines.offset(edit.range.start)..lines.offset(edit.range.end);
        out.replace_range(range, &edit.new_text);
        assert_eq!(out, new);
        assert_eq!((edit.range.start.line, edit.range.end.line), (2, 2));
        assert_eq!(edit.new_text, "B2\n");
    }
}
