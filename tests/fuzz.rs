//! Property test over the whole pipeline with mutated real inputs: the
//! testdata cases and the example app, with lines deleted, duplicated,
//! swapped and re-indented, and fragments of Python (closes, helpers,
//! engines, brackets, quotes, tabs, CRLF, one-liners) dropped in anywhere.
//! For every input: no panic; the result is the input unchanged or parses
//! without errors; a second pass changes nothing.
//!
//! `CONNFIX_FUZZ_CASES=N` sets the number of cases (default 200; CI runs
//! more); FUZZING.md records a longer run.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use connfix::config::Config;
use connfix::fix::Fixer;
use connfix::rules;
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "conn.close()",
    "if conn: conn.close()",
    "cur.close(); conn.close()",
    "conn = get_db_connection()",
    "conn = None",
    "engine = create_engine(URL)",
    "engine.dispose()",
    "return conn",
    "return engine",
    "try:",
    "finally:",
    "except Exception:",
    "else:",
    "with get_db_connection() as conn:",
    "with conn:",
    "def get_db_connection():",
    "    return connect(use_pool=True)",
    "yield conn",
    "async ",
    "await ",
    "db.session.query(X)",
    "lambda: conn.close()",
    "global engine",
    "self.engine = engine",
    "(",
    ")",
    "[",
    "]",
    "\"\"\"",
    "'''",
    "'",
    "\"",
    "f'{",
    "}'",
    "rb\"",
    "#",
    "# connfix: ignore",
    "\\",
    ":",
    ";",
    "\t",
    "    ",
    "\n",
    "\r\n",
    "\u{feff}",
    "é",
    "\0",
    "<<<<<<< HEAD\n=======\n>>>>>>> x\n",
    "pass",
    "raise",
    "return",
];

fn seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<PathBuf> = Vec::new();
        let mut stack = vec![root.join("testdata"), root.join("examples/app/src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "py") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    })
}

fn fixer() -> &'static Fixer {
    static FIXER: OnceLock<Fixer> = OnceLock::new();
    FIXER.get_or_init(|| {
        Fixer::new(rules::build(&Config::default(), &[], &[]).unwrap(), true).unwrap()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Indent(usize, usize),
    Dedent(usize),
    Insert(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), 0..3usize).prop_map(|(a, b)| Mutation::Indent(a, b)),
        any::<usize>().prop_map(Mutation::Dedent),
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(a, f)| Mutation::Insert(a, f)),
    ]
}

fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = seed
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    for m in mutations {
        if lines.is_empty() {
            lines.push(Vec::new());
        }
        let n = lines.len();
        match *m {
            Mutation::Delete(i) => {
                lines.remove(i % n);
            }
            Mutation::Duplicate(i) => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Mutation::Swap(a, b) => lines.swap(a % n, b % n),
            Mutation::Indent(i, kind) => {
                let unit: &[u8] = [&b"    "[..], b"\t", b"  "][kind];
                lines[i % n].splice(0..0, unit.iter().copied());
            }
            Mutation::Dedent(i) => {
                let line = &mut lines[i % n];
                let cut = line.iter().take_while(|b| **b == b' ').count().min(4);
                line.drain(..cut);
            }
            Mutation::Insert(i, f) => {
                let line = &mut lines[i % n];
                let at = i / n % (line.len() + 1);
                line.splice(at..at, FRAGMENTS[f].bytes());
            }
        }
    }
    lines.concat()
}

/// Counts for FUZZING.md (printed with `CONNFIX_FUZZ_STATS=1`): inputs
/// run, rejected (not parsable and the like), changed.
static RUN: AtomicUsize = AtomicUsize::new(0);
static REJECTED: AtomicUsize = AtomicUsize::new(0);
static CHANGED: AtomicUsize = AtomicUsize::new(0);

fn count(counter: &AtomicUsize) {
    counter.fetch_add(1, Ordering::Relaxed);
    let run = RUN.load(Ordering::Relaxed);
    if std::ptr::eq(counter, &RUN)
        && run.is_multiple_of(5000)
        && std::env::var_os("CONNFIX_FUZZ_STATS").is_some()
    {
        eprintln!(
            "fuzz: {run} inputs, {} rejected, {} changed",
            REJECTED.load(Ordering::Relaxed),
            CHANGED.load(Ordering::Relaxed)
        );
    }
}

fn cases() -> u32 {
    std::env::var("CONNFIX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_pipeline_never_panics_and_its_output_parses_and_is_a_fixed_point(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 0..12),
    ) {
        let seeds = seeds();
        let input = mutate(&seeds[seed.index(seeds.len())], &mutations);
        let path = Path::new("fuzz.py");
        let result = fixer().run(path, input.clone());
        if let Err(rejection) = &result {
            // Rejecting the input is fine; rejecting its own fixes (they
            // broke the file, or never settle) is a bug in connfix.
            prop_assert!(!rejection.is_internal(), "connfix rejected its own output: {}\n{}", rejection.message, String::from_utf8_lossy(&input));
            count(&REJECTED);
        }
        // `check` finds without applying: the same findings, the same files
        // changed, and a count of the fixes found on the original text (a
        // fix can uncover another, which only applying finds).
        if let Ok(outcome) = &result {
            let found = fixer().find(path, input.clone()).unwrap();
            prop_assert_eq!(&found.diagnostics, &outcome.diagnostics);
            prop_assert!(found.fixable <= outcome.fixes, "check counts more fixes than apply makes:\n{}", String::from_utf8_lossy(&input));
            prop_assert_eq!(found.fixable > 0, outcome.change.is_some(), "check and apply disagree on whether the file changes");
        }
        if let Some((old, new)) = result.ok().and_then(|outcome| outcome.change) {
            count(&CHANGED);
            prop_assert_eq!(&old, &input);
            let text = new.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&new);
            let tree = connfix::source::parse_tree(text);
            prop_assert!(!tree.root_node().has_error(), "the output does not parse:\n{}", String::from_utf8_lossy(&new));
            let again = fixer().run(path, new.clone());
            prop_assert!(again.is_ok(), "the output is rejected: {:?}", again.err());
            let again = again.unwrap();
            prop_assert!(again.change.is_none(), "not a fixed point:\n{}", String::from_utf8_lossy(&new));
        }
        count(&RUN);
    }
}
