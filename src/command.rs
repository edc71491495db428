//! One run: discover files, fix each in parallel (one file per job, one
//! parser per thread), then report in path order and pick the exit code.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rayon::prelude::*;

use crate::audit::{self, Finding, Status};
use crate::cli::{Mode, Settings};
use crate::config::Config;
use crate::discover::{self, Found, describe};
use crate::fix::Fixer;
use crate::report::{self, Summary};
use crate::rules::Severity;
use crate::source::Rejection;

/// What one file contributes to the output.
struct FileReport {
    path: String,
    findings: Vec<Finding>,
    status: Status,
    diff: Vec<u8>,
    changed: Option<usize>,
    error: Option<Rejection>,
}

pub fn execute(settings: Settings) -> anyhow::Result<ExitCode> {
    if settings.mode == Mode::Apply {
        crate::interrupt::install();
    }
    let found = discover::files(&settings.paths, &settings.exclude);
    let fixer = Fixer::new(settings.rules, settings.unsafe_fixes);
    let (mode, color, config) = (settings.mode, settings.color, &settings.config);
    let reports: Vec<FileReport> = found
        .into_par_iter()
        .with_max_len(1)
        .map(|found| process(&fixer, found, mode, color, config))
        .collect();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr().lock();
    if let Mode::Report { format, fail_on } = mode {
        let files: Vec<audit::FileReport> = reports
            .iter()
            .map(|r| audit::FileReport {
                path: &r.path,
                status: r.status,
                findings: &r.findings,
                error: r.error.as_ref(),
            })
            .collect();
        out.write_all(audit::render(format, &files, config).as_bytes())?;
        for report in reports
            .iter()
            .filter(|r| r.error.is_some() && format == audit::Format::Text)
        {
            writeln!(
                err,
                "{}",
                report::error_line(&report.path, report.error.as_ref().expect("filtered"))
            )?;
        }
        let failing = fail_on.threshold().is_some_and(|t| {
            reports
                .iter()
                .flat_map(|r| &r.findings)
                .any(|f| f.severity >= t)
        });
        let code = if reports.iter().any(|r| r.error.is_some()) {
            report::ERROR
        } else if failing {
            report::CHANGES
        } else {
            report::SUCCESS
        };
        return Ok(ExitCode::from(code));
    }

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
                Mode::Diff | Mode::Report { .. } => {}
            }
        }
        for finding in &report.findings {
            let unfixed =
                finding.fix == "none" || (finding.fix == "unsafe" && !fixer.unsafe_fixes());
            let shown = mode == Mode::Check || (unfixed && finding.severity > Severity::Info);
            if shown && !settings.quiet {
                // Diff output stays a clean patch: findings go to stderr.
                if mode == Mode::Diff {
                    writeln!(err, "{}", finding.line_text(&report.path))?
                } else {
                    writeln!(out, "{}", finding.line_text(&report.path))?
                }
            }
            if unfixed && finding.severity > Severity::Info {
                summary.findings += 1;
                summary.failing_findings +=
                    usize::from(mode == Mode::Check && finding.severity == Severity::Error);
            }
        }
        if let Some(error) = &report.error {
            summary.errors += 1;
            writeln!(err, "{}", report::error_line(&report.path, error))?;
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
            _ => "would change",
        };
        writeln!(err, "{}", summary.line(verb))?;
    }
    Ok(summary.exit_code())
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "es" })
}

fn process(fixer: &Fixer, found: Found, mode: Mode, color: bool, config: &Config) -> FileReport {
    let (path, error) = match found {
        Found::File(path) => (path, None),
        Found::Error(path, message) => (path, Some(message)),
    };
    let mut report = FileReport {
        path: display(&path),
        findings: Vec::new(),
        status: Status::Clean,
        diff: Vec::new(),
        changed: None,
        error: None,
    };
    let fail = |mut report: FileReport, message: String| {
        report.error = Some(Rejection {
            position: None,
            message,
        });
        report
    };
    if let Some(message) = error {
        return fail(report, message);
    }
    if crate::interrupt::requested() {
        return fail(
            report,
            "interrupted before this file; left unchanged".into(),
        );
    }
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => return fail(report, format!("cannot read the file: {}", describe(&e))),
    };
    let outcome = match fixer.run(&path, bytes) {
        Ok(outcome) => outcome,
        Err(rejection) => {
            report.error = Some(rejection);
            return report;
        }
    };
    report.findings = outcome
        .diagnostics
        .iter()
        .map(|d| Finding::new(&outcome.text, d))
        .collect();
    report.status = audit::classify(&outcome.text, &report.findings, config);
    if let Some((old, new)) = &outcome.change {
        match mode {
            Mode::Diff => report.diff = crate::diff::unified(&report.path, old, new, color),
            Mode::Apply => {
                if let Err(message) = crate::write::replace(&path, old, new) {
                    return fail(report, message);
                }
            }
            Mode::Check | Mode::Report { .. } => {}
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
