//! The per-file pipeline: check the bytes, skip files no rule can match,
//! parse once, run the rules, apply their fixes with the one edit engine,
//! then verify: the result parses, and the rules find nothing more to fix
//! (the fixed point). A file whose fixes fail verification is left as it was
//! and reported.

use std::path::Path;

use aho_corasick::AhoCorasick;

use crate::edit::{self, Fix};
use crate::rules::{Diagnostic, Ruleset};
use crate::source::{self, Rejection, SourceFile};

/// Passes before giving up on reaching a fixed point. Fixes that overlap
/// wait for the next pass, so nested sites take a few.
const MAX_PASSES: usize = 16;

/// The rules of a run, with the prefilter built from what they look for.
pub struct Fixer {
    rules: Ruleset,
    needles: Option<AhoCorasick>,
    unsafe_fixes: bool,
}

/// What happened to one file's text.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The diagnostics on the original text.
    pub diagnostics: Vec<Diagnostic>,
    /// The original text (BOM included) and the fixed one, when they differ.
    pub change: Option<(Vec<u8>, Vec<u8>)>,
    /// How many fixes were applied in all passes.
    pub fixes: usize,
    /// Line breaks of the original text (BOM excluded), for positions.
    pub text: Vec<u8>,
}

impl Fixer {
    /// `unsafe_fixes`: apply fixes marked unsafe too.
    pub fn new(rules: Ruleset, unsafe_fixes: bool) -> Fixer {
        let words: Vec<String> = rules.rules.iter().flat_map(|r| r.needles()).collect();
        let needles = (!words.is_empty())
            .then(|| AhoCorasick::new(&words).expect("plain strings always build"));
        Fixer {
            rules,
            needles,
            unsafe_fixes,
        }
    }

    pub fn unsafe_fixes(&self) -> bool {
        self.unsafe_fixes
    }

    fn applicable(&self, diagnostic: &Diagnostic) -> Option<Fix> {
        diagnostic
            .fix
            .clone()
            .filter(|f| self.unsafe_fixes || !f.unsafe_)
    }

    /// Run the rules on `bytes` (a file's content, `path` for messages and
    /// for the helper's context string).
    pub fn run(&self, path: &Path, bytes: Vec<u8>) -> Result<Outcome, Rejection> {
        let (bom, text) = source::check_bytes(bytes)?;
        if !self.needles.as_ref().is_some_and(|n| n.is_match(&text)) {
            return Ok(Outcome {
                text,
                ..Outcome::default()
            });
        }
        let file = SourceFile::parse(path, bom, text, None)?;
        let diagnostics = self.diagnostics(&file);
        let mut fixes: Vec<Fix> = diagnostics
            .iter()
            .filter_map(|d| self.applicable(d))
            .collect();
        let mut current: Option<SourceFile> = None;
        let mut applied = 0;
        for _ in 0..MAX_PASSES {
            let now = current.as_ref().unwrap_or(&file);
            if fixes.is_empty() {
                let change = current.map(|c| (file.to_disk(&file.text), c.to_disk(&c.text)));
                return Ok(Outcome {
                    diagnostics,
                    change,
                    fixes: applied,
                    text: file.text,
                });
            }
            let (text, skipped) = edit::apply(&now.text, &fixes);
            applied += fixes.len() - skipped;
            let next = SourceFile::parse(path, bom, text, Some(now.style.clone())).map_err(|r| Rejection {
                position: r.position,
                message: format!(
                    "internal error: connfix's fixes would make this file unparsable there; the file is left \
                     unchanged (please report it with the file): {}",
                    r.message
                ),
            })?;
            fixes = self
                .diagnostics(&next)
                .iter()
                .filter_map(|d| self.applicable(d))
                .collect();
            current = Some(next);
        }
        Err(Rejection {
            position: None,
            message: format!(
                "internal error: the fixes did not settle after {MAX_PASSES} passes; the file is left unchanged \
                 (please report it with the file)"
            ),
        })
    }

    /// The enabled codes' diagnostics, without those silenced by a
    /// `# connfix: ignore[code, ...]` (or bare `# connfix: ignore`) comment
    /// on their line, in order of position.
    fn diagnostics(&self, file: &SourceFile) -> Vec<Diagnostic> {
        let silenced = Silenced::find(&file.text);
        let mut all: Vec<Diagnostic> = self
            .rules
            .rules
            .iter()
            .flat_map(|r| r.check(file))
            .filter(|d| self.rules.enabled.contains(&d.rule) && !silenced.covers(&file.text, d))
            .collect();
        all.sort_by_key(|d| d.offset);
        all
    }
}

const IGNORE: &[u8] = b"connfix: ignore";

/// The lines that carry an ignore comment, with the codes they name (none:
/// every code).
struct Silenced(Vec<(usize, Vec<String>)>);

impl Silenced {
    fn find(text: &[u8]) -> Silenced {
        let mut out = Vec::new();
        for at in memchr::memmem::find_iter(text, IGNORE) {
            let line_start = source::line_start(text, at);
            if !text[line_start..at].contains(&b'#') {
                continue;
            }
            let rest = &text[at + IGNORE.len()..source::line_end(text, at)];
            let codes = match rest
                .strip_prefix(b"[")
                .and_then(|r| r.iter().position(|b| *b == b']').map(|e| &r[..e]))
            {
                Some(list) => String::from_utf8_lossy(list)
                    .split(',')
                    .map(|c| c.trim().to_string())
                    .collect(),
                None => Vec::new(),
            };
            out.push((line_start, codes));
        }
        Silenced(out)
    }

    fn covers(&self, text: &[u8], diagnostic: &Diagnostic) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let line = source::line_start(text, diagnostic.offset.min(text.len()));
        self.0.iter().any(|(l, codes)| {
            *l == line && (codes.is_empty() || codes.iter().any(|c| c == diagnostic.rule))
        })
    }
}
