//! What the user reads: diagnostic and error lines, the summary, and the
//! exit code. Formatting only; the decisions were made upstream.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::edit::Applicability;
use crate::fix::Outcome;
use crate::rules::{Code, Diagnostic};
use crate::source::{Rejection, position_of};

/// Nothing to change, no error.
pub const SUCCESS: u8 = 0;
/// Some file needs (or got) a change.
pub const CHANGES: u8 = 1;
/// Some file or setting could not be processed; takes precedence.
pub const ERROR: u8 = 2;

/// `path:line:col: rule-id: message`, with a marker where a fix exists.
pub fn diagnostic_line(path: &str, text: &[u8], diagnostic: &Diagnostic) -> String {
    crate::audit::Finding::new(text, diagnostic).line_text(path)
}

/// A path as the user will want to see it: relative to the current folder
/// where it lies below it, without a leading `./`.
pub fn display(path: &Path) -> String {
    // The folder a run starts in, asked once (a system call per file
    // otherwise).
    static CWD: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let relative = CWD
        .get_or_init(|| std::env::current_dir().ok())
        .as_ref()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    let path = relative.as_deref().unwrap_or(path);
    let shown = path.strip_prefix("./").unwrap_or(path).to_string_lossy();
    // A control character in a file name (ESC, CSI U+009B) would reach the
    // terminal as a command: it is shown escaped.
    if !shown.chars().any(char::is_control) {
        return shown.into_owned();
    }
    shown
        .chars()
        .map(|c| match c {
            c if c.is_control() && (c as u32) < 0x100 => format!("\\x{:02x}", c as u32),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// `path[:line:col]: error: message`.
pub fn error_line(path: &str, rejection: &Rejection) -> String {
    match rejection.position {
        Some((line, column)) => format!("{path}:{line}:{column}: error: {}", rejection.message),
        None => format!("{path}: error: {}", rejection.message),
    }
}

/// The counts a run ends with.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: usize,
    pub changed: usize,
    pub fixes: usize,
    /// Files that needed a change and were left as they were (`apply
    /// --interactive`: every fix declined).
    pub skipped: usize,
    pub findings: usize,
    /// Findings that fail `check` on their own (error severity, no fix).
    pub failing_findings: usize,
    pub errors: usize,
}

impl Summary {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(if self.errors > 0 {
            ERROR
        } else if self.changed > 0 || self.failing_findings > 0 {
            CHANGES
        } else {
            SUCCESS
        })
    }

    /// One line: `connfix: 12 files checked, 3 would change (7 fixes), 2
    /// findings, 0 errors`, with `, N skipped` after the changes when some
    /// were, and ` in 1.25s` at the end when `time` is given (on a terminal:
    /// scripts and tests get the same line every time).
    pub fn line(&self, verb: &str, time: Option<Duration>) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let skipped = if self.skipped > 0 {
            format!(", {} skipped", self.skipped)
        } else {
            String::new()
        };
        let time = time.map_or_else(String::new, |t| format!(" in {:.2}s", t.as_secs_f64()));
        format!(
            "connfix: {} checked, {} {verb} ({}){skipped}, {}, {}{time}",
            plural(self.files, "file", "files"),
            self.changed,
            plural(self.fixes, "fix", "fixes"),
            plural(self.findings, "finding", "findings"),
            plural(self.errors, "error", "errors"),
        )
    }
}

/// The `--json` document; its schema is documented in the README and
/// changes only with `version`.
#[derive(Serialize)]
pub struct JsonReport {
    pub version: u32,
    pub files: Vec<JsonFile>,
}

#[derive(Serialize)]
pub struct JsonFile {
    pub path: String,
    /// The fixes change the file.
    pub changed: bool,
    /// Applying `edits` together gives the fixed file; false when some fixes
    /// overlap and connfix needed more passes (it re-derives those on the
    /// text of the pass before).
    pub complete: bool,
    pub edits: Vec<JsonEdit>,
    pub findings: Vec<JsonFinding>,
    pub error: Option<JsonError>,
}

#[derive(Serialize)]
pub struct JsonEdit {
    pub rule: Code,
    /// Edits with the same number belong to one fix: all or none.
    pub fix: usize,
    pub start: JsonPosition,
    pub end: JsonPosition,
    pub replacement: String,
}

/// 1-based line and byte column (counted after a BOM), and the byte offset
/// in the file as stored (a BOM counts its 3 bytes).
#[derive(Serialize)]
pub struct JsonPosition {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

#[derive(Serialize)]
pub struct JsonFinding {
    pub rule: Code,
    pub severity: &'static str,
    pub message: String,
    pub start: JsonPosition,
    pub fixable: bool,
    /// `safe`, `unsafe` (applied with `--unsafe-fixes`) or `none`, as in
    /// the report's JSON.
    pub fix: &'static str,
}

#[derive(Serialize)]
pub struct JsonError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl JsonFile {
    /// The edits of the fixes found on the original text, and every
    /// diagnostic.
    /// Only the fixes at or above `threshold` (those the run applies) are
    /// listed as edits; `complete` says whether applying them together
    /// gives the file `apply` writes.
    pub fn new(path: &str, outcome: &Outcome, threshold: Applicability) -> JsonFile {
        let text = &outcome.text;
        let bom = if outcome.bom { 3 } else { 0 };
        let at = |offset: usize| {
            let offset = offset.min(text.len());
            let (line, column) = position_of(text, offset);
            JsonPosition {
                line,
                column,
                offset: offset + bom,
            }
        };
        let applied = || {
            outcome
                .diagnostics
                .iter()
                .filter_map(|d| Some((d.rule, d.fix.as_ref()?)))
                .filter(|(_, f)| f.applicability >= threshold)
        };
        let fixes = applied();
        let edits = fixes
            .enumerate()
            .flat_map(|(number, (rule, fix))| {
                fix.edits.iter().map(move |edit| (number, rule, edit))
            })
            .map(|(number, rule, edit)| JsonEdit {
                rule,
                fix: number + 1,
                start: at(edit.range.start),
                end: at(edit.range.end),
                replacement: String::from_utf8_lossy(&edit.replacement).into_owned(),
            })
            .collect();
        let findings = outcome
            .diagnostics
            .iter()
            .map(|d| JsonFinding {
                rule: d.rule,
                severity: d.severity.as_str(),
                message: d.message.clone(),
                start: at(d.offset),
                fixable: d.fix.is_some(),
                fix: d.fix.as_ref().map_or("none", |f| f.applicability.as_str()),
            })
            .collect();
        JsonFile {
            path: path.to_string(),
            changed: outcome.change.is_some(),
            complete: outcome.passes <= 1 && !crate::edit::overlapping(applied().map(|(_, f)| f)),
            edits,
            findings,
            error: None,
        }
    }

    pub fn error(path: &str, rejection: &Rejection) -> JsonFile {
        JsonFile {
            path: path.to_string(),
            changed: false,
            complete: true,
            edits: Vec::new(),
            findings: Vec::new(),
            error: Some(JsonError {
                message: rejection.message.clone(),
                line: rejection.position.map(|p| p.0),
                column: rejection.position.map(|p| p.1),
            }),
        }
    }

    /// Whether the file has anything to say.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty() && self.findings.is_empty() && self.error.is_none()
    }
}
