//! Property test over the whole pipeline with mutated real inputs: the
//! testdata cases and the example app, with lines deleted, duplicated,
//! swapped and re-indented, and fragments of Python (closes, helpers,
//! engines, brackets, quotes, tabs, CRLF, one-liners) dropped in anywhere.
//! For every input: no panic; the result is the input unchanged, or valid
//! Python: the judge accepts it, CPython compiles it if it compiles the
//! input, and tree-sitter reads it wherever it read the input; a second
//! pass changes nothing. (Mutated inputs often hold what only CPython's
//! compiler rejects, which the judge does not check, such as a `return`
//! outside a function; connfix's fixes keep those as they are.)
//!
//! CPython compiles the inputs and outputs in batches (`BATCH` cases to one
//! `python3`, and the last batch at the last case): one process a case
//! would cost more than the whole pipeline.
//!
//! `CONNFIX_FUZZ_CASES=N` sets the number of cases (default 200; CI runs
//! more); FUZZING.md records a longer run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

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
            "fuzz: {run} inputs, {} rejected, {} changed, {} compiled by CPython",
            REJECTED.load(Ordering::Relaxed),
            CHANGED.load(Ordering::Relaxed),
            COMPILED.load(Ordering::Relaxed)
        );
    }
}

fn cases() -> u32 {
    std::env::var("CONNFIX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// How many changed cases one `python3` compiles.
const BATCH: usize = 500;

/// The (input, output) pairs not yet compiled by CPython.
static PENDING: Mutex<Vec<(Vec<u8>, Vec<u8>)>> = Mutex::new(Vec::new());

/// Outputs CPython compiled, for FUZZING.md.
static COMPILED: AtomicUsize = AtomicUsize::new(0);

/// Compile each input and output with CPython (`compile(source, name,
/// "exec")`, as importing does), all in one process: the outputs it rejects
/// although it compiles their inputs, with its messages.
fn cpython_rejects(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    for (i, (input, output)) in pairs.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.in.py")), input).unwrap();
        std::fs::write(dir.path().join(format!("{i}.out.py")), output).unwrap();
    }
    let script = "import sys, pathlib, warnings\n\
                  warnings.simplefilter('ignore')\n\
                  def error(p):\n\
                  \x20   try:\n\
                  \x20       compile(p.read_bytes(), str(p), 'exec', dont_inherit=True)\n\
                  \x20   except (SyntaxError, ValueError) as e:\n\
                  \x20       return repr(e)\n\
                  for p in sorted(pathlib.Path(sys.argv[1]).glob('*.out.py')):\n\
                  \x20   e = error(p)\n\
                  \x20   if e and not error(p.with_name(p.name.replace('.out', '.in'))):\n\
                  \x20       print(p.name.split('.')[0], e)\n";
    let run = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(dir.path())
        .output()
        .expect("python3 must be installed to compile the outputs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    COMPILED.fetch_add(pairs.len(), Ordering::Relaxed);
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|line| {
            let (index, error) = line.split_once(' ').unwrap();
            let (input, output) = &pairs[index.parse::<usize>().unwrap()];
            format!(
                "{error}\n--- input:\n{}\n--- output:\n{}",
                String::from_utf8_lossy(input),
                String::from_utf8_lossy(output)
            )
        })
        .collect()
}

/// Queue a changed case for CPython; compile the queue when it is full or
/// this is the last case. The outputs CPython rejects, if any.
fn compile_later(pair: Option<(Vec<u8>, Vec<u8>)>, last: bool) -> Vec<String> {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    pending.extend(pair);
    if pending.len() >= BATCH || (last && !pending.is_empty()) {
        let pairs = std::mem::take(&mut *pending);
        drop(pending);
        return cpython_rejects(&pairs);
    }
    Vec::new()
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
        let mut written = None;
        if let Some((old, new)) = result.ok().and_then(|outcome| outcome.change) {
            count(&CHANGED);
            prop_assert_eq!(&old, &input);
            let text = new.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&new);
            prop_assert_eq!(connfix::judge::judge(text, Default::default()), connfix::judge::Verdict::Valid);
            // tree-sitter may fail to read valid Python, but not because of
            // a fix: only where it could not read the input.
            let tree = connfix::source::parse_tree(text);
            let input_text = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&input);
            prop_assert!(
                !tree.root_node().has_error() || connfix::source::parse_tree(input_text).root_node().has_error(),
                "the output does not parse:\n{}", String::from_utf8_lossy(&new)
            );
            let again = fixer().run(path, new.clone());
            prop_assert!(again.is_ok(), "the output is rejected: {:?}", again.err());
            let again = again.unwrap();
            prop_assert!(again.change.is_none(), "not a fixed point:\n{}", String::from_utf8_lossy(&new));
            written = Some((input.clone(), new));
        }
        count(&RUN);
        let rejected = compile_later(written, RUN.load(Ordering::Relaxed) >= cases() as usize);
        prop_assert!(
            rejected.is_empty(),
            "CPython rejects an output of this batch of cases (not necessarily this case's):\n{}",
            rejected.join("\n\n")
        );
    }
}
