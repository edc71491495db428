//! The per-file pipeline: check the bytes, skip files no rule can match,
//! parse once, run the rules, apply their fixes with the one edit engine,
//! then verify: the result parses, and the rules find nothing more to fix
//! (the fixed point). A file whose fixes fail verification is left as it was
//! and reported.

use std::path::Path;

use memchr::memmem;

use crate::edit::{self, Fix};
use crate::rules::{Diagnostic, Rule};
use crate::source::{self, Rejection, SourceFile};

/// Passes before giving up on reaching a fixed point. Fixes that overlap
/// wait for the next pass, so nested sites take a few.
const MAX_PASSES: usize = 16;

/// The rules of a run, with the prefilter built from what they look for.
pub struct Fixer {
    rules: Vec<Box<dyn Rule>>,
    /// The words of which a file must hold one to be parsed at all.
    needles: Vec<memmem::Finder<'static>>,
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
    pub fn new(rules: Vec<Box<dyn Rule>>) -> Fixer {
        let mut words: Vec<String> = rules.iter().flat_map(|r| r.needles()).collect();
        // A word that holds another is implied by it: keep only the shorter.
        words.sort_by_key(String::len);
        words.dedup();
        let mut kept: Vec<String> = Vec::new();
        for word in words {
            if !kept.iter().any(|k| word.contains(k.as_str())) {
                kept.push(word);
            }
        }
        // One SIMD substring search per word (memchr's memmem): for a
        // handful of words this beats one aho-corasick automaton, whose
        // prefilter costs several times more on the files that hold none of
        // them, which is most files.
        let needles = kept
            .iter()
            .map(|w| memmem::Finder::new(w.as_bytes()).into_owned())
            .collect();
        Fixer { rules, needles }
    }

    /// Run the rules on `bytes` (a file's content, `path` for messages and
    /// for the helper's context string).
    pub fn run(&self, path: &Path, bytes: Vec<u8>) -> Result<Outcome, Rejection> {
        let (bom, text) = source::check_bytes(bytes)?;
        if !self.needles.iter().any(|n| n.find(&text).is_some()) {
            return Ok(Outcome {
                text,
                ..Outcome::default()
            });
        }
        let file = SourceFile::parse(path, bom, text, None)?;
        let diagnostics = self.diagnostics(&file);
        let mut fixes: Vec<Fix> = diagnostics.iter().filter_map(|d| d.fix.clone()).collect();
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
            let edit::Applied {
                text,
                skipped,
                edits,
            } = edit::apply_fixes(&now.text, &fixes);
            applied += fixes.len() - skipped;
            // Only the edited parts are parsed again: verifying costs about
            // what the edits insert, not a second parse of the file.
            let next = now.reparse(text, &edits).map_err(|r| Rejection {
                position: r.position,
                message: format!(
                    "internal error: connfix's fixes would make this file unparsable there; the file is left \
                     unchanged (please report it with the file): {}",
                    r.message
                ),
            })?;
            fixes = self
                .diagnostics(&next)
                .into_iter()
                .filter_map(|d| d.fix)
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

    fn diagnostics(&self, file: &SourceFile) -> Vec<Diagnostic> {
        let mut all: Vec<Diagnostic> = self.rules.iter().flat_map(|r| r.check(file)).collect();
        all.sort_by_key(|d| d.offset);
        all
    }
}
