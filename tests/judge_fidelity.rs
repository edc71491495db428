//! The judge against CPython on a whole corpus: every `*.py` under
//! `CONNFIX_JUDGE_CORPUS` is compiled by the `python3` on the path (one
//! process for all) and judged (as Python 3.14, the default target), and
//! the counts are printed. A file CPython compiles that the judge rejects
//! fails the test; the judge accepting what CPython rejects is counted
//! (the judge does not do the compiler's symbol-table checks). Ignored by
//! default: it needs a corpus.
//!
//! `CONNFIX_JUDGE_CORPUS=/usr/lib/python3.11 cargo test --release --test judge_fidelity -- --ignored --nocapture`

use std::path::PathBuf;

use connfix::judge::{TargetVersion, Verdict, judge};

#[test]
#[ignore = "needs a corpus: CONNFIX_JUDGE_CORPUS=DIR"]
fn the_judge_rejects_nothing_cpython_compiles() {
    let root =
        PathBuf::from(std::env::var("CONNFIX_JUDGE_CORPUS").expect("CONNFIX_JUDGE_CORPUS=DIR"));
    let script = "import sys, pathlib, warnings\n\
                  warnings.simplefilter('ignore')\n\
                  for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.py')):\n\
                  \x20   if 'site-packages' in p.parts or not p.is_file():\n\
                  \x20       continue\n\
                  \x20   try:\n\
                  \x20       compile(p.read_bytes(), str(p), 'exec', dont_inherit=True)\n\
                  \x20       print('ok', p)\n\
                  \x20   except (SyntaxError, ValueError) as e:\n\
                  \x20       print('no', p)\n";
    let run = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&root)
        .output()
        .expect("python3");
    assert!(run.status.success());
    let (mut files, mut cpython_rejects, mut false_accepts, mut unjudged) = (0, 0, 0, 0);
    let mut false_rejects = Vec::new();
    let started = std::time::Instant::now();
    for line in String::from_utf8(run.stdout).unwrap().lines() {
        let (verdict, path) = line.split_once(' ').unwrap();
        let bytes = std::fs::read(path).unwrap();
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        files += 1;
        let judged = judge(text, TargetVersion::default());
        match (verdict, judged) {
            ("ok", Verdict::Invalid(e)) => false_rejects.push(format!("{path}: {}", e.message)),
            ("no", Verdict::Valid) => false_accepts += 1,
            (_, Verdict::Unjudged) => unjudged += 1,
            _ => {}
        }
        cpython_rejects += usize::from(verdict == "no");
    }
    println!(
        "{files} files, CPython rejects {cpython_rejects}; the judge: {} false rejections, {false_accepts} \
         false acceptances, {unjudged} not judged; judging took {:.2?}",
        false_rejects.len(),
        started.elapsed()
    );
    assert!(false_rejects.is_empty(), "{false_rejects:#?}");
}
