//! One run: discover files, fix each in parallel (one file per job, one
//! parser per thread), then report in path order and pick the exit code.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rayon::prelude::*;

use crate::cli::{Mode, Settings};
use crate::discover::{self, Found, describe};
use crate::fix::Fixer;
use crate::report::{self, Summary};
use crate::rules::Severity;
use crate::source::Rejection;

/// What one file contributes to the output.
struct FileReport {
    path: String,
    lines: Vec<String>,
    diff: Vec<u8>,
    changed: Option<usize>,
    findings: usize,
    error: Option<String>,
}

pub fn execute(settings: Settings) -> anyhow::Result<ExitCode> {
    if settings.mode == Mode::Apply {
        crate::interrupt::install();
    }
    let found = discover::files(&settings.paths, &settings.exclude);
    let fixer = Fixer::new(settings.rules, settings.unsafe_fixes);
    let mode = settings.mode;
    let color = settings.color;
    let reports: Vec<FileReport> = found
        .into_par_iter()
        .with_max_len(1)
        .map(|found| process(&fixer, found, mode, color))
        .collect();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr().lock();
    let mut summary = Summary::default();
    for report in &reports {
        summary.files += usize::from(report.error.is_none());
        out.write_all(&report.diff)?;
        if let Some(fixes) = report.changed {
            summary.changed += 1;
            summary.fixes += fixes;
            match mode {
                Mode::Apply => writeln!(out, "fixed {} ({})", report.path, plural(fixes, "fix"))?,
                Mode::Check => {
                    writeln!(out, "would fix {} ({})", report.path, plural(fixes, "fix"))?
                }
                Mode::Diff => {}
            }
        }
        if !settings.quiet {
            for line in &report.lines {
                // Diff output stays a clean patch: findings go to stderr.
                if mode == Mode::Diff {
                    writeln!(err, "{line}")?
                } else {
                    writeln!(out, "{line}")?
                }
            }
        }
        summary.findings += report.findings;
        if let Some(error) = &report.error {
            summary.errors += 1;
            writeln!(err, "{error}")?;
        }
    }
    if crate::interrupt::requested() {
        summary.errors += 1;
        writeln!(
            err,
            "connfix: interrupted; files not yet written were left unchanged"
        )?;
    }
    if !settings.quiet {
        let verb = match mode {
            Mode::Apply => "changed",
            Mode::Diff | Mode::Check => "would change",
        };
        writeln!(err, "{}", summary.line(verb))?;
    }
    Ok(summary.exit_code())
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "es" })
}

fn process(fixer: &Fixer, found: Found, mode: Mode, color: bool) -> FileReport {
    let (path, error) = match found {
        Found::File(path) => (path, None),
        Found::Error(path, message) => (path, Some(message)),
    };
    let shown = display(&path);
    let mut report = FileReport {
        path: shown.clone(),
        lines: Vec::new(),
        diff: Vec::new(),
        changed: None,
        findings: 0,
        error: None,
    };
    let fail = |mut report: FileReport, rejection: Rejection| {
        report.error = Some(report::error_line(&report.path, &rejection));
        report
    };
    if let Some(message) = error {
        return fail(
            report,
            Rejection {
                position: None,
                message,
            },
        );
    }
    if crate::interrupt::requested() {
        return fail(
            report,
            Rejection {
                position: None,
                message: "interrupted before this file; left unchanged".into(),
            },
        );
    }
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            return fail(
                report,
                Rejection {
                    position: None,
                    message: format!("cannot read the file: {}", describe(&e)),
                },
            );
        }
    };
    let outcome = match fixer.run(&path, bytes) {
        Ok(outcome) => outcome,
        Err(rejection) => return fail(report, rejection),
    };
    for diagnostic in &outcome.diagnostics {
        let shown_in_mode = mode == Mode::Check || diagnostic.fix.is_none();
        if shown_in_mode && (diagnostic.severity > Severity::Info || mode == Mode::Check) {
            report
                .lines
                .push(report::diagnostic_line(&shown, &outcome.text, diagnostic));
        }
        report.findings +=
            usize::from(diagnostic.fix.is_none() && diagnostic.severity > Severity::Info);
    }
    if let Some((old, new)) = &outcome.change {
        match mode {
            Mode::Diff => report.diff = crate::diff::unified(&shown, old, new, color),
            Mode::Apply => {
                if let Err(message) = crate::write::replace(&path, old, new) {
                    return fail(
                        report,
                        Rejection {
                            position: None,
                            message,
                        },
                    );
                }
            }
            Mode::Check => {}
        }
        report.changed = Some(outcome.fixes);
    }
    report
}

/// A path as the user will want to see it: relative to the current folder
/// where it lies below it, without a leading `./`.
fn display(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    let path = relative.as_deref().unwrap_or(path);
    path.strip_prefix("./")
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}
