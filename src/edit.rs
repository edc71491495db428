//! Edits as plain data, and the one engine that applies them. Rules build
//! `Fix`es; only `apply` turns them into new text. It knows nothing about any
//! rule: it sorts, skips fixes that overlap one already taken (the next pass
//! picks them up), and splices in one pass.

use std::ops::Range;

/// Replace the bytes in `range` by `replacement`. An empty range inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub replacement: Vec<u8>,
}

impl Edit {
    pub fn insert(at: usize, text: Vec<u8>) -> Edit {
        Edit {
            range: at..at,
            replacement: text,
        }
    }

    pub fn replace(range: Range<usize>, text: Vec<u8>) -> Edit {
        assert!(
            range.start <= range.end,
            "an edit's range runs forwards: {range:?}"
        );
        Edit {
            range,
            replacement: text,
        }
    }
}

/// When a fix may be applied, ordered from least to most applicable (as
/// ruff's `Applicability`): a run applies the fixes at or above its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Applicability {
    /// Shown as the remedy, never applied.
    DisplayOnly,
    /// May change what the program does (it moves code into a `finally`,
    /// disposes an engine a call may keep); applied with `--unsafe-fixes`.
    Unsafe,
    /// Keeps what the program does, beyond the tracking and disposal it
    /// adds; applied by default.
    Safe,
}

impl Applicability {
    /// How the reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
            Applicability::DisplayOnly => "none",
        }
    }
}

/// The edits that together make one fix: all of them are applied, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub edits: Vec<Edit>,
    pub applicability: Applicability,
}

impl Fix {
    pub fn new(mut edits: Vec<Edit>) -> Fix {
        edits.sort_by_key(|e| (e.range.start, e.range.end));
        for pair in edits.windows(2) {
            assert!(
                pair[0].range.end <= pair[1].range.start
                    && !(pair[0].range.is_empty() && pair[0].range.start == pair[1].range.start),
                "the edits of one fix must not overlap: {:?} and {:?}",
                pair[0].range,
                pair[1].range
            );
        }
        Fix {
            edits,
            applicability: Applicability::Safe,
        }
    }

    /// The same edits, as a fix that is applied only on request.
    pub fn unsafe_(self) -> Fix {
        Fix {
            applicability: Applicability::Unsafe,
            ..self
        }
    }

    fn span(&self) -> Range<usize> {
        let start = self.edits.first().map_or(0, |e| e.range.start);
        let end = self.edits.last().map_or(0, |e| e.range.end);
        start..end
    }

    /// This fix moved to the text that `applied` (applied with `apply`, none
    /// skipped) made: its ranges shift by what the applied edits before them
    /// added or removed. `None` when an applied edit overlaps one of its
    /// ranges, inserts inside it or at the same point as its insertion:
    /// there is no telling where it went.
    pub fn shifted(&self, applied: &[Fix]) -> Option<Fix> {
        let others: Vec<&Edit> = applied.iter().flat_map(|f| &f.edits).collect();
        let mut edits = Vec::with_capacity(self.edits.len());
        for edit in &self.edits {
            let range = &edit.range;
            let mut delta: isize = 0;
            for other in &others {
                let o = &other.range;
                let same_point = o.is_empty() && range.is_empty() && o.start == range.start;
                if same_point || (o.end > range.start && o.start < range.end) {
                    return None;
                }
                if o.end <= range.start {
                    delta += other.replacement.len() as isize - o.len() as isize;
                }
            }
            let start = range.start.checked_add_signed(delta)?;
            let end = range.end.checked_add_signed(delta)?;
            edits.push(Edit::replace(start..end, edit.replacement.clone()));
        }
        Some(Fix {
            edits,
            applicability: self.applicability,
        })
    }
}

/// Apply every fix that does not touch one applied before it (in order of
/// position). Returns the new text and how many fixes were left for a later
/// pass.
pub fn apply(text: &[u8], fixes: &[Fix]) -> (Vec<u8>, usize) {
    let applied = apply_fixes(text, fixes);
    (applied.text, applied.skipped)
}

/// The result of `apply_fixes`.
pub struct Applied<'f> {
    pub text: Vec<u8>,
    /// How many fixes were left for a later pass.
    pub skipped: usize,
    /// The edits that were made, in order of position, with ranges in the
    /// old text: what an incremental re-parse needs to know.
    pub edits: Vec<&'f Edit>,
}

/// The edits of the fixes one pass applies: every fix that does not touch
/// one taken before it (in order of position), and how many were left.
fn select<'f>(fixes: impl IntoIterator<Item = &'f Fix>) -> (Vec<&'f Edit>, usize) {
    let mut order: Vec<&Fix> = fixes.into_iter().filter(|f| !f.edits.is_empty()).collect();
    order.sort_by_key(|f| (f.span().start, f.span().end));
    let mut taken: Vec<&Edit> = Vec::new();
    let mut skipped = 0;
    let mut last_end: Option<usize> = None;
    for fix in order {
        let span = fix.span();
        // Touching counts as overlapping: two insertions at one offset would
        // have no defined order.
        if last_end.is_some_and(|end| span.start <= end) {
            skipped += 1;
            continue;
        }
        last_end = Some(span.end);
        taken.extend(&fix.edits);
    }
    (taken, skipped)
}

/// Whether one pass cannot apply all of `fixes`: some overlap or touch.
pub fn overlapping<'f>(fixes: impl IntoIterator<Item = &'f Fix>) -> bool {
    select(fixes).1 > 0
}

/// `apply`, also returning the edits it made.
pub fn apply_fixes<'f>(text: &[u8], fixes: &'f [Fix]) -> Applied<'f> {
    let (taken, skipped) = select(fixes);
    let mut out =
        Vec::with_capacity(text.len() + taken.iter().map(|e| e.replacement.len()).sum::<usize>());
    let mut at = 0;
    for edit in &taken {
        out.extend_from_slice(&text[at..edit.range.start]);
        out.extend_from_slice(&edit.replacement);
        at = edit.range.end;
    }
    out.extend_from_slice(&text[at..]);
    Applied {
        text: out,
        skipped,
        edits: taken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_in_position_order_whatever_the_input_order() {
        let fixes = vec![
            Fix::new(vec![Edit::insert(3, b"!".to_vec())]),
            Fix::new(vec![Edit::replace(0..1, b"A".to_vec())]),
        ];
        assert_eq!(apply(b"abc", &fixes), (b"Abc!".to_vec(), 0));
    }

    #[test]
    fn skips_a_fix_that_overlaps_or_touches_an_earlier_one() {
        let fixes = vec![
            Fix::new(vec![Edit::replace(0..2, b"X".to_vec())]),
            Fix::new(vec![Edit::insert(2, b"Y".to_vec())]),
            Fix::new(vec![Edit::replace(1..3, b"Z".to_vec())]),
        ];
        assert_eq!(apply(b"abcd", &fixes), (b"Xcd".to_vec(), 2));
    }

    #[test]
    fn a_fix_is_applied_whole_or_not_at_all() {
        let fixes = vec![
            Fix::new(vec![Edit::replace(2..3, b"X".to_vec())]),
            Fix::new(vec![
                Edit::insert(0, b"<".to_vec()),
                Edit::insert(4, b">".to_vec()),
            ]),
        ];
        assert_eq!(apply(b"abcd", &fixes), (b"<abcd>".to_vec(), 1));
    }

    #[test]
    fn a_fix_shifts_past_applied_edits_before_it_and_is_lost_inside_one() {
        let fix = Fix::new(vec![Edit::replace(4..5, b"E".to_vec())]);
        let before = Fix::new(vec![
            Edit::insert(0, b"12".to_vec()),
            Edit::replace(1..3, b"".to_vec()),
        ]);
        let after = Fix::new(vec![Edit::insert(6, b"!".to_vec())]);
        assert_eq!(
            fix.shifted(&[before.clone(), after]),
            Some(Fix::new(vec![Edit::replace(4..5, b"E".to_vec())]))
        );
        let (text, _) = apply(b"abcdefg", std::slice::from_ref(&before));
        assert_eq!(text, b"12adefg");
        assert_eq!(&text[4..5], b"e", "the shifted range holds the same byte");
        let inside = Fix::new(vec![Edit::replace(3..6, b"X".to_vec())]);
        assert_eq!(fix.shifted(&[inside]), None);
    }

    #[test]
    #[should_panic(expected = "must not overlap")]
    fn a_fix_with_overlapping_edits_is_a_bug() {
        Fix::new(vec![
            Edit::replace(0..2, vec![]),
            Edit::replace(1..3, vec![]),
        ]);
    }
}
