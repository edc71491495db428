//! The per-file pipeline: check the bytes, skip files no rule can match,
//! parse once, run the rules, apply their fixes with the one edit engine,
//! then verify: the result parses, the judge finds it valid Python, and the
//! rules find nothing more to fix (the fixed point). A file whose fixes fail
//! verification is left as it was and reported.

use std::cell::OnceCell;
use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;
use tree_sitter::Tree;

use crate::edit::{self, Applicability, Fix};
use crate::judge::{self, TargetVersion, Verdict};
use crate::literals;
use crate::rules::{Diagnostic, Fixes, Ruleset};
use crate::source::{self, Rejection, SourceFile};

/// Passes before giving up on reaching a fixed point. Fixes that overlap
/// wait for the next pass, so nested sites take a few.
const MAX_PASSES: usize = 16;

/// The rules of a run, with the prefilter built from what they look for.
pub struct Fixer {
    rules: Ruleset,
    /// The words of which a file must hold one to be parsed at all, and
    /// the start of a conflict marker: one search says a file holds none.
    /// The words, any of which a file must hold for a rule to match
    /// there, and the conflict marker; searched for all at once by
    /// `prefilter`, built once `PLAIN_SEARCHES` files have been searched
    /// word by word.
    words: Vec<Vec<u8>>,
    prefilter: std::sync::OnceLock<Option<AhoCorasick>>,
    searched: std::sync::atomic::AtomicUsize,
    /// Each rule's own needles: a rule whose needles a file does not hold
    /// does not run on it (nor compile its query).
    rule_needles: Vec<Vec<memmem::Finder<'static>>>,
    unsafe_fixes: bool,
    /// The version the judge holds files to.
    target: TargetVersion,
    /// The helpers of the whole run, found before the files are fixed.
    project: std::sync::Arc<crate::project::Project>,
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
    /// How many of `diagnostics` have a fix this run applies.
    pub fixable: usize,
    /// How many fixes the reviewer declined.
    pub declined: usize,
    /// How many passes applied fixes: 1 when the fixes found on the
    /// original text, applied together, give the fixed text.
    pub passes: usize,
    /// Line breaks of the original text (BOM excluded), for positions.
    pub text: Vec<u8>,
    /// Whether the file starts with a UTF-8 BOM (3 bytes before `text`).
    pub bom: bool,
}

/// One fix put to a reviewer: the file's bytes now, and with this fix alone.
pub struct Proposal<'a> {
    pub path: &'a Path,
    pub rule: crate::rules::Code,
    pub message: &'a str,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

/// Says yes (apply it) or no to each fix before it is applied.
pub type Review<'r> = &'r mut dyn FnMut(&Proposal) -> bool;

impl Fixer {
    /// `unsafe_fixes`: apply fixes marked unsafe too.
    pub fn new(rules: Ruleset, unsafe_fixes: bool) -> anyhow::Result<Fixer> {
        let rule_needles = rules
            .rules
            .iter()
            .map(|r| {
                r.needles()
                    .iter()
                    .map(|w| memmem::Finder::new(w.as_bytes()).into_owned())
                    .collect()
            })
            .collect();
        let mut words: Vec<String> = rules.rules.iter().flat_map(|r| r.needles()).collect();
        // A word that holds another is implied by it: keep only the shorter.
        words.sort_by_key(String::len);
        words.dedup();
        let mut kept: Vec<String> = Vec::new();
        for word in words {
            if !kept.iter().any(|k| word.contains(k.as_str())) {
                kept.push(word);
            }
        }
        // Searched in one pass over the text for all the words at once
        // (aho-corasick's packed SIMD searcher, Teddy; `holds_a_word`): on
        // the standard library it takes half the time of one memchr memmem
        // pass per word, with the default configuration's ten words and the
        // conflict marker.
        let mut words: Vec<Vec<u8>> = kept.into_iter().map(String::into_bytes).collect();
        words.push(source::CONFLICT_START.to_vec());
        Ok(Fixer {
            rules,
            words,
            prefilter: Default::default(),
            searched: Default::default(),
            rule_needles,
            unsafe_fixes,
            project: Default::default(),
            target: TargetVersion::default(),
        })
    }

    /// Judge files as Python `target` (`target_version`).
    pub fn target(self, target: TargetVersion) -> Fixer {
        Fixer { target, ..self }
    }

    /// The helpers of the whole run, which the rules read for every file.
    pub fn project(self, project: crate::project::Project) -> Fixer {
        Fixer {
            project: std::sync::Arc::new(project),
            ..self
        }
    }

    pub fn unsafe_fixes(&self) -> bool {
        self.unsafe_fixes
    }

    /// The least applicability this run applies.
    pub fn threshold(&self) -> Applicability {
        if self.unsafe_fixes {
            Applicability::Unsafe
        } else {
            Applicability::Safe
        }
    }

    /// Whether this run applies the diagnostic's fix.
    fn applicable(&self, diagnostic: &Diagnostic) -> bool {
        diagnostic
            .fix
            .as_ref()
            .is_some_and(|f| f.applicability >= self.threshold())
    }

    /// Check the bytes, skip a file without needles, parse and run the
    /// rules: the front of every command. `Err(Ok(outcome))`: nothing to
    /// parse, the outcome is final.
    /// `old`: the tree of the text before an editor's changes, told about
    /// them (`Tree::edit`), to parse incrementally.
    fn front(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        old: Option<&Tree>,
    ) -> Result<Result<(SourceFile, Vec<Diagnostic>), Outcome>, Rejection> {
        let (bom, text) = source::decode(bytes)?;
        // Most files hold no needle and no conflict marker: one search says
        // so. A file that holds a needle is parsed only if a rule could
        // match there.
        let live = if self.holds_a_word(&text) {
            source::check_conflict_markers(&text)?;
            self.live(&text)
        } else {
            Vec::new()
        };
        if !live.contains(&true) {
            if crate::self_check()
                && self
                    .rule_needles
                    .iter()
                    .flatten()
                    .any(|n| n.find(&text).is_some())
                && let Ok(file) = SourceFile::parse(path, bom, text.clone(), None, self.target)
            {
                self.assert_prefilter_agrees(&file, &live, &[]);
            }
            return Ok(Err(Outcome {
                text,
                bom,
                ..Outcome::default()
            }));
        }
        let file = match old {
            Some(old) => SourceFile::parse_edited(path, bom, text, old, self.target)?,
            None => SourceFile::parse(path, bom, text, None, self.target)?,
        };
        let diagnostics = self.diagnostics(&file, &live, false);
        if crate::self_check() {
            self.assert_prefilter_agrees(&file, &live, &diagnostics);
        }
        Ok(Ok((file, diagnostics)))
    }

    /// Whether `text` holds one of the words (`words`). The first files
    /// are searched word by word: building the one-pass searcher costs a
    /// quarter of a million instructions (5 % of checking one file), more
    /// than a few files' searches.
    /// (Public for the bench's search floor, `bench/floor.rs`.)
    pub fn holds_a_word(&self, text: &[u8]) -> bool {
        const PLAIN_SEARCHES: usize = 8;
        let searcher = match self.prefilter.get() {
            None if self
                .searched
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                < PLAIN_SEARCHES =>
            {
                None
            }
            // A contiguous NFA, not the DFA `build` would pick for so few
            // words: the DFA takes 0.7 M instructions to build, and the
            // search runs in Teddy, its prefilter, either way. Leftmost-first:
            // with the standard match kind, aho-corasick does not use Teddy
            // and the search is 17 times slower.
            _ => self
                .prefilter
                .get_or_init(|| {
                    AhoCorasick::builder()
                        .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                        .match_kind(MatchKind::LeftmostFirst)
                        .build(&self.words)
                        .ok()
                })
                .as_ref(),
        };
        match searcher {
            Some(searcher) => searcher.is_match(text),
            None => self.words.iter().any(|w| memmem::find(text, w).is_some()),
        }
    }

    /// When connfix checks itself (`self_check`): the rules the prefilter left out of a
    /// file (their needles absent or only in strings and comments, or their
    /// closer look said no; all of them when the file was skipped although
    /// it holds a needle) would have found nothing. `found`: what the rules
    /// in `live` found.
    fn assert_prefilter_agrees(&self, file: &SourceFile, live: &[bool], found: &[Diagnostic]) {
        // The rules' findings: what the pipeline says of a file it parses
        // (`unparsed-region`) is not a finding a rule could miss.
        let key = |d: &Diagnostic| {
            (!crate::rules::PIPELINE_CODES.contains(&d.rule))
                .then(|| (d.rule, d.offset, d.message.clone()))
        };
        let every = vec![true; self.rules.rules.len()];
        let all: Vec<_> = self
            .diagnostics(file, &every, false)
            .iter()
            .filter_map(key)
            .collect();
        assert_eq!(
            found.iter().filter_map(key).collect::<Vec<_>>(),
            all,
            "{}: a rule the prefilter left out (live: {live:?}) finds something in:\n{}",
            file.path.display(),
            String::from_utf8_lossy(&file.text)
        );
    }

    /// For each rule, whether it could find something in `text`: the text
    /// holds one of the rule's needles outside string literals and comments
    /// (where no match can be), and the rule's closer look agrees.
    fn live(&self, text: &[u8]) -> Vec<bool> {
        // Where the literals are, found once, at the first needle found; all
        // code when the scan is unsure.
        let literals = OnceCell::new();
        let in_code = |at: usize, len: usize| {
            literals
                .get_or_init(|| literals::literal_ranges(text))
                .as_ref()
                .is_none_or(|l| !literals::inside(l, at..at + len))
        };
        self.rules
            .rules
            .iter()
            .zip(&self.rule_needles)
            .map(|(rule, needles)| {
                needles.iter().any(|n| {
                    let len = n.needle().len();
                    n.find_iter(text).any(|at| in_code(at, len))
                }) && rule.could_match(text)
            })
            .collect()
    }

    /// What `check` needs: the findings and the fixes found, without making
    /// the fixed text when no two fixes overlap (then they all apply in one
    /// pass; the re-parse that verifies the text, and the pass after it, are
    /// what producing the text needs: diff and apply). Overlapping fixes
    /// settle over several passes, so those files go through `run`, and
    /// `fixable` is what it applied. Otherwise `fixable` counts the fixes
    /// found on the original text: applying can make more when a fix
    /// uncovers another (the tests check it never makes fewer, and changes
    /// the same files). `change` is set only when the text was made.
    pub fn find(&self, path: &Path, bytes: Vec<u8>) -> Result<Outcome, Rejection> {
        self.find_from(path, bytes, None)
            .map(|(outcome, _)| outcome)
    }

    /// `find` for an editor, which analyses a file again after each change:
    /// the parse reuses `old` (the tree of the text before the changes, told
    /// about them with `Tree::edit`), and the new tree comes back for the
    /// next change (none when the file was not parsed).
    pub fn find_from(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        old: Option<&Tree>,
    ) -> Result<(Outcome, Option<Tree>), Rejection> {
        let (file, diagnostics) = match self.front(path, bytes, old)? {
            Ok(found) => found,
            Err(outcome) => return Ok((outcome, None)),
        };
        let tree = file.tree.clone();
        let fixes = || {
            diagnostics
                .iter()
                .filter(|d| self.applicable(d))
                .filter_map(|d| d.fix.as_ref())
        };
        if edit::overlapping(fixes()) {
            let mut outcome = self.settle(path, file, diagnostics, None)?;
            outcome.fixable = outcome.fixes;
            return Ok((outcome, Some(tree)));
        }
        let fixable = fixes().count();
        let outcome = Outcome {
            diagnostics,
            fixable,
            bom: file.bom,
            text: file.text,
            ..Outcome::default()
        };
        Ok((outcome, Some(tree)))
    }

    /// Run the rules on `bytes` (a file's content, `path` for messages and
    /// for the helper's context string) and apply every fix.
    pub fn run(&self, path: &Path, bytes: Vec<u8>) -> Result<Outcome, Rejection> {
        self.review(path, bytes, None)
    }

    /// Like `run`, but each fix is first put to `review` (when given), in
    /// order of position, with its own diff against the text of its pass.
    /// A declined fix is remembered: later passes neither ask again nor
    /// apply it. A fix that overlaps one accepted in the same pass waits for
    /// the next pass, where the rules propose it on the new text.
    pub fn review(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        review: Option<Review>,
    ) -> Result<Outcome, Rejection> {
        match self.front(path, bytes, None)? {
            Ok((file, diagnostics)) => self.settle(path, file, diagnostics, review),
            Err(outcome) => Ok(outcome),
        }
    }

    /// Apply the fixes of `diagnostics` (found on `file`) pass after pass,
    /// verifying each result, until the rules find nothing more to fix.
    fn settle(
        &self,
        path: &Path,
        file: SourceFile,
        diagnostics: Vec<Diagnostic>,
        mut review: Option<Review>,
    ) -> Result<Outcome, Rejection> {
        let bom = file.bom;
        let fixable = diagnostics.iter().filter(|d| self.applicable(d)).count();
        let mut pending: Vec<Diagnostic> = diagnostics
            .iter()
            .filter(|d| self.applicable(d))
            .cloned()
            .collect();
        let mut declined: Vec<Fix> = Vec::new();
        let mut current: Option<SourceFile> = None;
        let (mut applied, mut passes, mut declines) = (0, 0, 0);
        for _ in 0..MAX_PASSES {
            let now = current.as_ref().unwrap_or(&file);
            pending.retain(|d| !declined.iter().any(|f| Some(f) == d.fix.as_ref()));
            let fixes: Vec<Fix> = match review.as_mut() {
                None => pending.iter().filter_map(|d| d.fix.clone()).collect(),
                Some(review) => {
                    let mut accepted: Vec<Fix> = Vec::new();
                    for diagnostic in &pending {
                        let fix = diagnostic.fix.clone().expect("pending fixes have a fix");
                        let trial = [&accepted[..], std::slice::from_ref(&fix)].concat();
                        if edit::apply(&now.text, &trial).1 > 0 {
                            continue;
                        }
                        let (alone, _) = edit::apply(&now.text, std::slice::from_ref(&fix));
                        let proposal = Proposal {
                            path,
                            rule: diagnostic.rule,
                            message: &diagnostic.message,
                            before: now.to_disk(&now.text),
                            after: now.to_disk(&alone),
                        };
                        if review(&proposal) {
                            accepted.push(fix);
                        } else {
                            declines += 1;
                            declined.push(fix);
                        }
                    }
                    accepted
                }
            };
            if fixes.is_empty() {
                if let Some(fixed) = &current {
                    self.judge_output(&file, fixed)?;
                }
                let change = current.map(|c| (file.to_disk(&file.text), c.to_disk(&c.text)));
                return Ok(Outcome {
                    diagnostics,
                    change,
                    fixes: applied,
                    fixable,
                    declined: declines,
                    passes,
                    text: file.text,
                    bom,
                });
            }
            let edit::Applied {
                text,
                skipped,
                edits,
            } = edit::apply_fixes(&now.text, &fixes);
            applied += fixes.len() - skipped;
            passes += 1;
            declined = declined.iter().filter_map(|f| f.shifted(&fixes)).collect();
            // Only the edited parts are parsed again: verifying costs about
            // what the edits insert, not a second parse of the file.
            // A re-parse with errors is judged (`SourceFile::checked`).
            let next = now
                .reparse(text, &edits)
                .map_err(|r| self.unwritable(&file, r))?;
            pending = self
                .diagnostics(&next, &self.live(&next.text), true)
                .into_iter()
                .filter(|d| self.applicable(d))
                .collect();
            current = Some(next);
        }
        // Fixes on a file CPython rejects (tree-sitter reads some) need not
        // settle: the file's own syntax error is the message.
        Err(self.own_syntax_error(&file).unwrap_or_else(|| Rejection {
            position: None,
            message: format!(
                "{}the fixes did not settle after {MAX_PASSES} passes; the file is left unchanged \
                 (please report it with the file)",
                source::INTERNAL_ERROR
            ),
        }))
    }

    /// The fixed text must be valid Python: a text tree-sitter read without
    /// error was not judged on the way (`SourceFile::checked` judges the
    /// others), so it is judged here, before anything is written or shown.
    fn judge_output(&self, original: &SourceFile, fixed: &SourceFile) -> Result<(), Rejection> {
        if fixed.partial {
            return Ok(());
        }
        match judge::judge(&fixed.text, self.target) {
            Verdict::Valid | Verdict::Unjudged => Ok(()),
            Verdict::Invalid(error) => {
                Err(self.unwritable(original, source::syntax_error(&fixed.text, &error)))
            }
        }
    }

    /// Why a fixed text (rejected as `rejection`) is not written: the
    /// original's own syntax error when the judge rejects the original too
    /// (tree-sitter reads some invalid Python, such as `print "x"`), else
    /// connfix's fault.
    fn unwritable(&self, original: &SourceFile, rejection: Rejection) -> Rejection {
        if let Some(own) = self.own_syntax_error(original) {
            return own;
        }
        Rejection {
            position: rejection.position,
            message: format!(
                "{}connfix's fixes would make this file invalid Python there; the file is \
                 left unchanged (please report it with the file): {}",
                source::INTERNAL_ERROR,
                rejection.message
            ),
        }
    }

    /// The original's own syntax error, where the judge rejects it.
    fn own_syntax_error(&self, original: &SourceFile) -> Option<Rejection> {
        if original.partial {
            return None;
        }
        match judge::judge(&original.text, self.target) {
            Verdict::Invalid(error) => Some(source::syntax_error(&original.text, &error)),
            _ => None,
        }
    }

    /// The enabled codes' diagnostics, without those silenced by a
    /// `# connfix: ignore[code, ...]` (or bare `# connfix: ignore`) comment
    /// on their line, in order of position.
    /// `live`: which rules could find something in the file (`live`).
    /// `fixing_only`: run only the rules that propose fixes (the passes
    /// after the first, which look for fixes and the fixed point).
    fn diagnostics(&self, file: &SourceFile, live: &[bool], fixing_only: bool) -> Vec<Diagnostic> {
        let silenced = Silenced::find(&file.text);
        let cx = crate::rules::Context::new(file, &self.rules.config, &self.project);
        let mut all: Vec<Diagnostic> = self
            .rules
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| match r.fixes() {
                _ if !fixing_only => true,
                Fixes::Safe => true,
                Fixes::Unsafe => self.unsafe_fixes,
                Fixes::Never => false,
            })
            .filter(|(i, _)| live[*i])
            .flat_map(|(_, r)| r.check(&cx))
            .chain(
                (file.partial && !fixing_only)
                    .then(|| crate::rules::unparsed_region::check(file))
                    .into_iter()
                    .flatten(),
            )
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
            *l == line && (codes.is_empty() || codes.iter().any(|c| c == diagnostic.rule.id()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const LEAKY: &str = "def get_db_connection():\n    return connect(use_pool=True)\n\n\ndef route():\n    conn = get_db_connection()\n    conn.close()\n";

    fn fixer() -> Fixer {
        Fixer::new(
            crate::rules::build(&Config::default(), &[], &[]).unwrap(),
            false,
        )
        .unwrap()
    }

    /// Review `LEAKY` answering from `answers`; returns the rules asked about.
    fn review(answers: &[bool]) -> (Outcome, Vec<&'static str>) {
        let mut asked = Vec::new();
        let mut answers = answers.iter();
        let mut decide = |p: &Proposal| {
            asked.push(p.rule.id());
            *answers.next().expect("asked more often than answered")
        };
        let outcome = fixer()
            .review(Path::new("a.py"), LEAKY.into(), Some(&mut decide))
            .unwrap();
        (outcome, asked)
    }

    #[test]
    fn declined_fixes_are_neither_applied_nor_asked_again() {
        let (outcome, asked) = review(&[false, false]);
        assert_eq!(asked, ["tracked-helper", "release-before-close"]);
        assert!(outcome.change.is_none());
        assert_eq!((outcome.fixes, outcome.declined), (0, 2));
    }

    #[test]
    fn accepting_all_gives_what_run_gives() {
        let (outcome, _) = review(&[true, true]);
        let run = fixer().run(Path::new("a.py"), LEAKY.into()).unwrap();
        assert_eq!(outcome.change, run.change);
        assert_eq!((outcome.fixes, outcome.declined, outcome.passes), (2, 0, 1));
    }

    #[test]
    fn a_declined_fix_after_an_accepted_one_stays_out_in_the_next_pass() {
        let (outcome, asked) = review(&[true, false]);
        assert_eq!(asked.len(), 2, "the shifted close is recognised: {asked:?}");
        let (_, new) = outcome.change.unwrap();
        let new = String::from_utf8(new).unwrap();
        assert!(new.contains("track_connection_acquired(\"a.py::get_db_connection\")"));
        assert!(!new.contains("track_connection_released"));
    }
}
