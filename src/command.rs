//! One run: discover files, fix each in parallel (one file per job, one
//! parser per thread), report each in path order as soon as it is next
//! (never holding every file's report), and pick the exit code.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

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
    let fixer = Fixer::new(settings.rules);
    let mode = settings.mode;
    let color = settings.color;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr().lock();
    let mut summary = Summary::default();
    let threads = rayon::current_num_threads();
    let process = |found: &Found| process(&fixer, found, mode, color);
    in_order(&found, threads, process, |report| {
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
        Ok(())
    })?;
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

/// How far past the file being reported the workers may run: bounds the
/// finished reports held back to keep the output in path order (a slow file
/// holds up printing, not working, until the others are this far ahead).
const WINDOW: usize = 512;

/// Run `work` on every item with `threads` threads, one item per job, taken
/// in order from a shared counter (no lock on the hot path), and hand the
/// results to `sink` in the order of the items as soon as each is next. At
/// most `WINDOW` results wait at once, so memory stays bounded however many
/// items there are. A `sink` error stops the workers and is returned.
pub fn in_order<I: Sync, T: Send>(
    items: &[I],
    threads: usize,
    work: impl Fn(&I) -> T + Sync,
    mut sink: impl FnMut(T) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let next = AtomicUsize::new(0);
    let sunk = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let (tx, next, sunk, stop, work) = (tx.clone(), &next, &sunk, &stop, &work);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        return;
                    }
                    while i >= sunk.load(Ordering::Acquire) + WINDOW {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    if tx.send((i, work(&items[i]))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut wanted = 0;
        for (i, result) in rx {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&wanted) {
                wanted += 1;
                sunk.store(wanted, Ordering::Release);
                if let Err(error) = sink(result) {
                    stop.store(true, Ordering::Relaxed);
                    return Err(error);
                }
            }
        }
        Ok(())
    })
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "es" })
}

fn process(fixer: &Fixer, found: &Found, mode: Mode, color: bool) -> FileReport {
    let (path, error) = match found {
        Found::File(path) => (path, None),
        Found::Error(path, message) => (path, Some(message.clone())),
    };
    let shown = display(path);
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
    let bytes = match std::fs::read(path) {
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
    let outcome = match fixer.run(path, bytes) {
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
                if let Err(message) = crate::write::replace(path, old, new) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_hands_results_over_in_item_order_past_the_window() {
        let items: Vec<usize> = (0..3 * WINDOW).collect();
        let mut seen = Vec::new();
        let slow_first = |i: &usize| {
            if *i == 0 {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            i * 2
        };
        in_order(&items, 4, slow_first, |r| {
            seen.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn in_order_stops_at_the_first_sink_error() {
        let items: Vec<usize> = (0..10_000).collect();
        let mut taken = 0;
        let result = in_order(
            &items,
            2,
            |i| *i,
            |_| {
                taken += 1;
                if taken == 3 {
                    Err(std::io::Error::other("broken pipe"))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(result.unwrap_err().to_string(), "broken pipe");
        assert_eq!(taken, 3);
    }
}
