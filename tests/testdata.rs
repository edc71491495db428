//! Snapshot tests over `testdata/<rule>/<case>/`: `input.py` is run through
//! the named rule alone, with every code it reports (all rules for `testdata/all/`), with the case's
//! `connfix.toml` if it has one, and with unsafe fixes if it has a file
//! named `unsafe`. The result must equal `output.py` (or the
//! input, byte for byte, when there is no `output.py`: a no-change case), the
//! diagnostics must equal `findings.txt` (none when it is missing), the
//! output must compile with `python3 -m py_compile`, and a second run must
//! change nothing. `CONNFIX_BLESS=1 cargo test --test testdata` rewrites the
//! expectations from the current behaviour, for review with `git diff`.

use std::path::{Path, PathBuf};

use connfix::config::Config;
use connfix::fix::Fixer;
use connfix::report::diagnostic_line;
use connfix::rules;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out = Vec::new();
    for rule in std::fs::read_dir(&root).unwrap() {
        let rule = rule.unwrap().path();
        if !rule.is_dir() {
            continue;
        }
        for case in std::fs::read_dir(&rule).unwrap() {
            let case = case.unwrap().path();
            // A case folder without its input would be a case that never
            // runs: a mistake, not a case.
            assert!(
                case.join("input.py").is_file(),
                "{}: a testdata case folder without input.py",
                case.display()
            );
            out.push(case);
        }
    }
    out.sort();
    out
}

fn fixer(case: &Path) -> Fixer {
    let rule = case
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let config_path = case.join("connfix.toml");
    let config = if config_path.is_file() {
        Config::load(&config_path).unwrap()
    } else {
        Config::default()
    };
    let mut ruleset = rules::build(&config, &[], &[]).unwrap();
    if rule != "all" {
        let code = rules::Code::from_id(&rule)
            .unwrap_or_else(|| panic!("testdata/{rule} is not named after a rule"));
        ruleset.rules.retain(|r| r.codes().contains(&code));
        assert_eq!(ruleset.rules.len(), 1, "testdata/{rule} names no rule");
        // The folder's code, and the rule's codes that have no folder of
        // their own (`unrecognised-helper` shows in `tracked-helper`).
        let testdata = case.parent().unwrap().parent().unwrap();
        ruleset.enabled = ruleset.rules[0]
            .codes()
            .iter()
            .copied()
            .filter(|c| *c == code || !testdata.join(c.id()).is_dir())
            .collect();
    }
    Fixer::new(ruleset, case.join("unsafe").exists()).unwrap()
}

fn compiles(text: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("output.py");
    std::fs::write(&path, text).unwrap();
    let run = std::process::Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&path)
        .output()
        .expect("python3 must be installed to check that outputs compile");
    if run.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&run.stderr).into_owned())
    }
}

#[test]
fn testdata_cases() {
    let bless = std::env::var_os("CONNFIX_BLESS").is_some();
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 40, "testdata has lost cases: {}", all.len());
    for case in &all {
        let name = case
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .display()
            .to_string();
        let fixer = fixer(case);
        let input = std::fs::read(case.join("input.py")).unwrap();
        let outcome = match fixer.run(Path::new("input.py"), input.clone()) {
            Ok(outcome) => outcome,
            Err(rejection) => {
                failures.push(format!("{name}: rejected: {rejection:?}"));
                continue;
            }
        };
        // `check` finds without applying: for these cases, exactly what
        // applying does (in general it may count fewer: a fix can uncover
        // another).
        let found = fixer.find(Path::new("input.py"), input.clone()).unwrap();
        if (&found.diagnostics, found.fixable) != (&outcome.diagnostics, outcome.fixes) {
            failures.push(format!(
                "{name}: check finds {} fixable, apply applies {}",
                found.fixable, outcome.fixes
            ));
        }
        let output = outcome
            .change
            .as_ref()
            .map_or(input.clone(), |(_, new)| new.clone());
        let findings: String = outcome
            .diagnostics
            .iter()
            .map(|d| diagnostic_line("input.py", &outcome.text, d) + "\n")
            .collect();
        let expected_path = case.join("output.py");
        let findings_path = case.join("findings.txt");
        if bless {
            if output != input {
                std::fs::write(&expected_path, &output).unwrap();
            } else if expected_path.exists() {
                std::fs::remove_file(&expected_path).unwrap();
            }
            if findings.is_empty() {
                let _ = std::fs::remove_file(&findings_path);
            } else {
                std::fs::write(&findings_path, &findings).unwrap();
            }
        }
        let expected = std::fs::read(&expected_path).unwrap_or_else(|_| input.clone());
        if output != expected {
            failures.push(format!(
                "{name}: output differs from {}:\n{}",
                if expected_path.exists() {
                    "output.py"
                } else {
                    "the input (a no-change case)"
                },
                String::from_utf8_lossy(&connfix::diff::unified(
                    "expected", &expected, &output, false
                ))
            ));
        }
        let expected_findings = std::fs::read_to_string(&findings_path).unwrap_or_default();
        if findings != expected_findings {
            failures.push(format!(
                "{name}: findings differ:\nexpected:\n{expected_findings}actual:\n{findings}"
            ));
        }
        if let Err(error) = compiles(&output) {
            failures.push(format!("{name}: output does not compile: {error}"));
        }
        match fixer.run(Path::new("input.py"), output.clone()) {
            Ok(again) if again.change.is_none() => {}
            Ok(again) => failures.push(format!(
                "{name}: not a fixed point; a second run changes:\n{}",
                String::from_utf8_lossy(&connfix::diff::unified(
                    "output",
                    &output,
                    &again.change.unwrap().1,
                    false
                ))
            )),
            Err(rejection) => {
                failures.push(format!("{name}: the output is rejected: {rejection:?}"))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
}
