//! One run: discover files, fix each in parallel (one file per job, one
//! parser per thread), then report in path order and pick the exit code.
//! `apply --interactive` goes one file at a time instead, asking first; `-`
//! reads one source from standard input.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::audit::{self, Finding, Status};
use crate::cli::{Mode, Settings};
use crate::config::Config;
use crate::discover::{self, Found, describe};
use crate::fix::{Fixer, Proposal, Review};
use crate::report::{self, JsonFile, JsonReport, Summary, display};
use crate::review::Reviewer;
use crate::rules::Severity;
use crate::source::Rejection;

/// Each worker thread's stack: deeply nested code makes deep syntax trees,
/// and a roomy stack (address space, not memory, until used) keeps the
/// walks over them safe.
const STACK_SIZE: usize = 256 << 20;

/// Where one file's bytes come from.
enum Input {
    Found(Found),
    /// Standard input, under this name.
    Stdin(PathBuf),
}

/// How each file is shown.
#[derive(Clone, Copy)]
struct View {
    mode: Mode,
    color: bool,
    json: bool,
    stdin: bool,
}

/// What one file contributes to the output.
struct FileReport {
    path: String,
    lines: Vec<String>,
    /// Bytes for standard output: the diff, or with `-` the fixed source.
    output: Vec<u8>,
    changed: Option<usize>,
    /// It needed a change and was left as it was (all fixes declined).
    skipped: bool,
    findings: usize,
    /// Error-severity findings with no fix applied: they fail `check`.
    failing: usize,
    error: Option<String>,
    json: Option<JsonFile>,
    /// For `report`: every finding, the file's status and its error.
    found: Vec<Finding>,
    status: Status,
    rejection: Option<Rejection>,
}

pub fn execute(mut settings: Settings) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let view = View {
        mode: settings.mode,
        color: settings.color,
        json: settings.json,
        stdin: settings.stdin.is_some(),
    };
    // An interactive review waits at its prompt, where Ctrl-C must end it at
    // once (the file under review is left as it was); elsewhere it lets the
    // file being written finish.
    if view.mode == Mode::Apply && !view.stdin && !settings.interactive {
        crate::interrupt::install();
    }
    let inputs: Vec<Input> = match settings.stdin.clone() {
        Some(name) => vec![Input::Stdin(name)],
        None => discover::files(&settings.paths, &settings.exclude)
            .into_iter()
            .map(Input::Found)
            .collect(),
    };
    let rules = std::mem::replace(&mut settings.rules, crate::rules::Ruleset::empty());
    let setups = Setups::new(&settings, rules, &inputs)?;
    let config = &settings.config;
    let process = |fixer: &Fixer,
                   input: &Input,
                   view: View,
                   _: &Config,
                   decide: Option<&mut dyn FnMut(&Proposal) -> bool>| {
        let setup = setups.of(input);
        let fixer = if setup == 0 {
            fixer
        } else {
            &setups.fixers[setup].1
        };
        process(fixer, input, view, &setups.fixers[setup].0, decide)
    };
    let fixer = &setups.fixers[0].1;
    // One worker per core (as rayon counts them: `RAYON_NUM_THREADS`
    // first), and one for a single file: starting rayon's pool, or threads
    // that find nothing to do, costs more than checking one file.
    let threads = match inputs.len() {
        0 | 1 => 1,
        n => std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|t| t.parse::<usize>().ok())
            .filter(|t| *t > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .min(n),
    };
    if let Mode::Report { format, fail_on } = view.mode {
        // The report ranks and sums over all files: it keeps their findings
        // (small), not their texts.
        let mut reports: Vec<FileReport> = Vec::new();
        let work = |input: &Input| process(fixer, input, view, config, None);
        in_order(&inputs, threads, work, |report| {
            reports.push(report);
            Ok(())
        })?;
        return report(&reports, format, fail_on, config);
    }
    let mut printer = Printer {
        view,
        quiet: settings.quiet,
        summary: Summary::default(),
        json: Vec::new(),
    };
    if settings.interactive {
        // One file at a time, in order, each reported before the next asks.
        let mut reviewer = Reviewer::new(view.color);
        let mut decide = |proposal: &Proposal| reviewer.decide(proposal);
        for input in &inputs {
            printer.emit(process(fixer, input, view, config, Some(&mut decide)))?;
        }
    } else {
        let progress = Progress::new(inputs.len(), settings.terminal && !settings.quiet, started);
        let work = |input: &Input| {
            let report = process(fixer, input, view, config, None);
            progress.inc();
            report
        };
        in_order(&inputs, threads, work, |report| printer.emit(report))?;
        progress.bar.finish_and_clear();
    }
    let inserts_imports =
        matches!(view.mode, Mode::Apply | Mode::Diff) && !view.stdin && printer.summary.changed > 0;
    if inserts_imports && !settings.quiet && !tracker_found(&settings.paths, &config.tracker_module)
    {
        eprintln!(
            "connfix: warning: the tracker module `{}` is not found above the paths given; the inserted \
             imports fail unless it is importable (set `tracker_module` to yours)",
            config.tracker_module
        );
    }
    printer.finish(settings.terminal.then(|| started.elapsed()))
}

/// The configurations of a run and their fixers: the first is the one
/// found from the working folder (or given with `--config`); without
/// `--config`, a file under a folder with its own `connfix.toml` or
/// `pyproject.toml` (`[tool.connfix]`) takes that one, as in ruff, so each
/// service of a monorepo keeps its own helpers and tracker.
struct Setups {
    fixers: Vec<(Config, Fixer)>,
    /// For each found file, the index of its configuration.
    by_path: std::collections::HashMap<PathBuf, usize>,
}

impl Setups {
    fn new(
        settings: &Settings,
        rules: crate::rules::Ruleset,
        inputs: &[Input],
    ) -> anyhow::Result<Setups> {
        let files: Vec<&PathBuf> = inputs
            .iter()
            .filter_map(|i| match i {
                Input::Found(Found::File(path)) => Some(path),
                _ => None,
            })
            .collect();
        let mut configs: Vec<(Option<PathBuf>, Config, crate::rules::Ruleset)> = vec![(
            settings.per_file.as_ref().and_then(|p| p.found.clone()),
            settings.config.clone(),
            rules,
        )];
        let mut by_path = std::collections::HashMap::new();
        if let Some(per_file) = &settings.per_file {
            let cwd = std::env::current_dir()?;
            let mut by_dir: std::collections::HashMap<PathBuf, usize> = Default::default();
            let mut nearest = Nearest::default();
            for path in &files {
                let dir = cwd.join(path.parent().unwrap_or(Path::new("")));
                let index = match by_dir.get(&dir) {
                    Some(i) => *i,
                    None => {
                        let nearest = nearest.of(&dir)?;
                        let i = match configs.iter().position(|c| c.0 == nearest) {
                            Some(i) => i,
                            // No configuration above the file: the run's.
                            None if nearest.is_none() => 0,
                            None => {
                                let path = nearest.clone().expect("checked");
                                let config = Config::load(&path)?;
                                let rules = crate::rules::build(
                                    &config,
                                    &per_file.select,
                                    &per_file.ignore,
                                )?;
                                configs.push((nearest, config, rules));
                                configs.len() - 1
                            }
                        };
                        by_dir.insert(dir, i);
                        i
                    }
                };
                if index != 0 {
                    by_path.insert((*path).clone(), index);
                }
            }
        }
        let mut fixers = Vec::new();
        for (i, (_, config, rules)) in configs.into_iter().enumerate() {
            // The first pass: what every helper of the run hands out, so
            // that a caller in one file knows its helper in another.
            let mine: Vec<PathBuf> = files
                .iter()
                .filter(|p| by_path.get(**p).copied().unwrap_or(0) == i)
                .map(|p| (*p).clone())
                .collect();
            let project = crate::project::Project::new(mine, &config);
            let fixer = Fixer::new(rules, settings.unsafe_fixes)?
                .target(config.target_version)
                .project(project);
            fixers.push((config, fixer));
        }
        Ok(Setups { fixers, by_path })
    }

    fn of(&self, input: &Input) -> usize {
        match input {
            Input::Found(Found::File(path)) => self.by_path.get(path).copied().unwrap_or(0),
            _ => 0,
        }
    }
}

/// `Config::nearest` for the many folders of a run: each folder's own
/// files are looked at once, however many folders below it ask (a tree of
/// a thousand folders costs a thousand looks, not one per ancestor of each).
#[derive(Default)]
struct Nearest(std::collections::HashMap<PathBuf, Option<PathBuf>>);

impl Nearest {
    fn of(&mut self, dir: &Path) -> anyhow::Result<Option<PathBuf>> {
        if let Some(found) = self.0.get(dir) {
            return Ok(found.clone());
        }
        let found = match Config::in_folder(dir)? {
            Some(found) => Some(found),
            None => match dir.parent() {
                Some(parent) => self.of(parent)?,
                None => None,
            },
        };
        self.0.insert(dir.to_path_buf(), found.clone());
        Ok(found)
    }
}

/// Whether `module` (dotted) is a file or package in a folder at or above
/// one of `paths`, as the inserted `from module import ...` will look for it.
fn tracker_found(paths: &[PathBuf], module: &str) -> bool {
    let relative = PathBuf::from(module.replace('.', "/"));
    let cwd = std::env::current_dir().unwrap_or_default();
    paths.iter().any(|path| {
        let start = cwd.join(path);
        start.ancestors().any(|folder| {
            folder.join(&relative).with_extension("py").is_file()
                || folder.join(&relative).join("__init__.py").is_file()
        })
    })
}

/// A bar on standard error while files are processed: only on a terminal,
/// and only once a run has taken long enough for a bar to help.
struct Progress {
    bar: ProgressBar,
    allowed: bool,
    shown: AtomicBool,
    started: Instant,
}

impl Progress {
    const DELAY: Duration = Duration::from_millis(300);

    fn new(files: usize, allowed: bool, started: Instant) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(files as u64), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed}")
                .expect("the template is valid"),
        );
        Progress {
            bar,
            allowed,
            shown: AtomicBool::new(false),
            started,
        }
    }

    fn inc(&self) {
        self.bar.inc(1);
        if self.allowed
            && self.started.elapsed() > Self::DELAY
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

/// Writes the reports in order and keeps the counts.
struct Printer {
    view: View,
    quiet: bool,
    summary: Summary,
    json: Vec<JsonFile>,
}

impl Printer {
    fn emit(&mut self, report: FileReport) -> std::io::Result<()> {
        let (view, summary) = (self.view, &mut self.summary);
        // Each stream gets one write per file: standard output writes every
        // line on its own otherwise, standard error every piece of one.
        let (mut out, mut err) = (Vec::new(), Vec::new());
        summary.files += usize::from(report.error.is_none());
        summary.skipped += usize::from(report.skipped);
        summary.findings += report.findings;
        summary.failing_findings += report.failing;
        if let Some(json) = report.json.filter(|j| !j.is_empty()) {
            self.json.push(json);
        }
        out.write_all(&report.output)?;
        if let Some(fixes) = report.changed {
            summary.changed += 1;
            summary.fixes += fixes;
            let fixes = plural(fixes, "fix");
            match view.mode {
                _ if view.stdin || view.json => {}
                Mode::Apply => writeln!(out, "fixed {} ({fixes})", report.path)?,
                Mode::Check => writeln!(out, "would fix {} ({fixes})", report.path)?,
                Mode::Diff | Mode::Report { .. } => {}
            }
        }
        if !self.quiet && !view.json {
            for line in &report.lines {
                // Diffs and sources on stdout stay clean: findings go to stderr.
                if view.mode == Mode::Diff || view.stdin {
                    writeln!(err, "{line}")?
                } else {
                    writeln!(out, "{line}")?
                }
            }
        }
        if let Some(error) = &report.error {
            summary.errors += 1;
            writeln!(err, "{error}")?;
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&out)?;
        stdout.flush()?;
        std::io::stderr().lock().write_all(&err)
    }

    fn finish(self, time: Option<Duration>) -> anyhow::Result<ExitCode> {
        let mut summary = self.summary;
        let mut err = std::io::stderr().lock();
        if crate::interrupt::requested() {
            summary.errors += 1;
            writeln!(
                err,
                "connfix: interrupted; files not yet written were left unchanged"
            )?;
        }
        if self.view.json {
            let mut out = std::io::stdout().lock();
            let document = JsonReport {
                version: 1,
                files: self.json,
            };
            serde_json::to_writer(&mut out, &document)?;
            writeln!(out)?;
        }
        if !self.quiet && !self.view.stdin {
            let verb = match self.view.mode {
                Mode::Apply => "changed",
                _ => "would change",
            };
            writeln!(err, "{}", summary.line(verb, time))?;
        }
        Ok(summary.exit_code())
    }
}

/// How far past the file being reported the workers may run: bounds the
/// finished reports held back to keep the output in path order (a slow file
/// holds up printing, not working, until the others are this far ahead).
const WINDOW: usize = 512;

/// How many results a worker gathers before handing them over together.
/// Every hand-over can wake the thread that reports, which costs a context
/// switch; one per file was most of what reading a sparse tree cost beyond
/// the reads themselves.
const BATCH: usize = 32;

/// Run `work` on every item with `threads` threads, one item per job, taken
/// in order from a shared counter (no lock on the hot path), and hand the
/// results to `sink` in the order of the items. Workers hand results over in
/// batches of up to `BATCH`, and always before waiting and before they stop,
/// so no result is held back by a worker that cannot go on. At most
/// `WINDOW` results wait at once, so memory stays bounded however many items
/// there are. A `sink` error stops the workers and is returned.
pub fn in_order<I: Sync, T: Send>(
    items: &[I],
    threads: usize,
    work: impl Fn(&I) -> T + Sync,
    mut sink: impl FnMut(T) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let next = AtomicUsize::new(0);
    let sunk = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Vec<(usize, T)>>();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let (tx, next, sunk, stop, work) = (tx.clone(), &next, &sunk, &stop, &work);
            let worker = std::thread::Builder::new().stack_size(STACK_SIZE);
            let spawned = worker.spawn_scoped(scope, move || {
                let mut batch = Vec::with_capacity(BATCH);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    if i >= sunk.load(Ordering::Acquire) + WINDOW && !batch.is_empty() {
                        // The reporter may be waiting for one of these.
                        if tx.send(std::mem::take(&mut batch)).is_err() {
                            return;
                        }
                    }
                    while i >= sunk.load(Ordering::Acquire) + WINDOW {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                    batch.push((i, work(&items[i])));
                    if batch.len() == BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
                        return;
                    }
                }
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
            });
            spawned.expect("the system starts a worker thread");
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut wanted = 0;
        for batch in rx {
            waiting.extend(batch);
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

/// A file's bytes, unless it is larger than the limit: syntax trees take
/// tens of times a file's size, so memory stays bounded.
fn read_limited(path: &Path, max_kib: u64) -> Result<Vec<u8>, String> {
    let cannot = |e: std::io::Error| format!("cannot read the file: {}", describe(&e));
    // One open and one fstat, as `std::fs::read` does, not a stat of the
    // path first: on a tree where few files hold a needle, reading is most
    // of the work.
    let file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    if size > max_kib * 1024 {
        return Err(format!(
            "the file is {} KiB, over the limit of {max_kib} KiB (max_file_kib); it is left unchanged \
             (raise max_file_kib to process it)",
            size.div_ceil(1024)
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    // Through `take`, which reads into the capacity without asking the
    // file's size and position again (as `File::read_to_end` does).
    file.take(max_kib * 1024 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(bytes)
}

/// `connfix report`: all files' findings, rendered at once.
fn report(
    reports: &[FileReport],
    format: audit::Format,
    fail_on: crate::cli::FailOn,
    config: &Config,
) -> anyhow::Result<ExitCode> {
    let files: Vec<audit::FileReport> = reports
        .iter()
        .map(|r| audit::FileReport {
            path: &r.path,
            status: r.status,
            findings: &r.found,
            error: r.rejection.as_ref(),
        })
        .collect();
    std::io::stdout()
        .lock()
        .write_all(audit::render(format, &files, config).as_bytes())?;
    if format == audit::Format::Text {
        let mut err = std::io::stderr().lock();
        for error in reports.iter().filter_map(|r| r.error.as_ref()) {
            writeln!(err, "{error}")?;
        }
    }
    let failing = fail_on.threshold().is_some_and(|t| {
        reports
            .iter()
            .flat_map(|r| &r.found)
            .any(|f| f.severity >= t)
    });
    let code = if reports.iter().any(|r| r.error.is_some()) {
        report::ERROR
    } else if failing {
        report::CHANGES
    } else {
        report::SUCCESS
    };
    Ok(ExitCode::from(code))
}

fn process(
    fixer: &Fixer,
    input: &Input,
    view: View,
    config: &Config,
    review: Option<Review>,
) -> FileReport {
    let (path, bytes) = match input {
        Input::Found(Found::File(path)) => (path.clone(), read_limited(path, config.max_file_kib)),
        Input::Found(Found::Error(path, message)) => (path.clone(), Err(message.clone())),
        Input::Stdin(name) => {
            let mut bytes = Vec::new();
            let read = std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map(|_| bytes)
                .map_err(|e| format!("cannot read standard input: {}", describe(&e)));
            (name.clone(), read)
        }
    };
    let shown = display(&path);
    let mut report = FileReport {
        path: shown.clone(),
        lines: Vec::new(),
        output: Vec::new(),
        changed: None,
        skipped: false,
        findings: 0,
        failing: 0,
        error: None,
        json: None,
        found: Vec::new(),
        status: Status::Clean,
        rejection: None,
    };
    let fail = |mut report: FileReport, rejection: Rejection| {
        report.error = Some(report::error_line(&report.path, &rejection));
        report.rejection = Some(rejection.clone());
        if view.json {
            report.json = Some(JsonFile::error(&report.path, &rejection));
        }
        report
    };
    let whole = |message| Rejection {
        position: None,
        message,
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(message) => return fail(report, whole(message)),
    };
    if crate::interrupt::requested() {
        return fail(
            report,
            whole("interrupted before this file; left unchanged".into()),
        );
    }
    // A filter must give its input back when it cannot fix it.
    let echo = (view.stdin && view.mode == Mode::Apply).then(|| bytes.clone());
    // `check` reports fixable findings without making the fixed text; its
    // JSON lists the edits, which needs the fixed text.
    let outcome = if view.mode == Mode::Check && !view.json {
        fixer.find(&path, bytes)
    } else {
        fixer.review(&path, bytes, review)
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(rejection) => {
            report.output = echo.unwrap_or_default();
            return fail(report, rejection);
        }
    };
    report.found = outcome
        .diagnostics
        .iter()
        .map(|d| Finding::new(&outcome.text, d))
        .collect();
    // Only the report shows a file's status, and classifying searches the
    // whole text for three more words.
    if matches!(view.mode, Mode::Report { .. }) {
        report.status = audit::classify(&outcome.text, &report.found, config);
    }
    for finding in &report.found {
        let unfixed = finding.fix == "none" || (finding.fix == "unsafe" && !fixer.unsafe_fixes());
        if view.mode == Mode::Check || (unfixed && finding.severity > Severity::Info) {
            report.lines.push(finding.line_text(&shown));
        }
        if unfixed && finding.severity > Severity::Info {
            report.findings += 1;
            report.failing +=
                usize::from(view.mode == Mode::Check && finding.severity == Severity::Error);
        }
    }
    if view.json {
        report.json = Some(JsonFile::new(&shown, &outcome, fixer.threshold()));
    }
    report.skipped = outcome.change.is_none() && outcome.declined > 0;
    match (&outcome.change, view.mode) {
        (None, _) => report.output = echo.unwrap_or_default(),
        (Some(_), Mode::Check | Mode::Report { .. }) => {}
        (Some(_), Mode::Diff) if view.json => {}
        (Some((old, new)), Mode::Diff) => {
            report.output = crate::diff::unified(&shown, old, new, view.color)
        }
        (Some((_, new)), Mode::Apply) if view.stdin => report.output = new.clone(),
        (Some((old, new)), Mode::Apply) => {
            if let Err(message) = crate::write::replace(&path, old, new) {
                return fail(report, whole(message));
            }
        }
    }
    if outcome.change.is_some() {
        report.changed = Some(outcome.fixes);
    } else if view.mode == Mode::Check && outcome.fixable > 0 {
        report.changed = Some(outcome.fixable);
    }
    report
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
    fn in_order_hands_over_a_last_partial_batch_and_single_items() {
        for count in [0, 1, BATCH - 1, BATCH + 1] {
            let items: Vec<usize> = (0..count).collect();
            let mut seen = Vec::new();
            in_order(
                &items,
                2,
                |i| i + 1,
                |r| {
                    seen.push(r);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, (1..=count).collect::<Vec<_>>());
        }
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
