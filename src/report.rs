//! What the user reads: diagnostic and error lines, the summary, and the
//! exit code. Formatting only; the decisions were made upstream.

use std::process::ExitCode;

use crate::rules::Diagnostic;
use crate::source::Rejection;

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

    /// One line: `connfix: 12 files checked, 3 would change (7 fixes), 2 findings, 0 errors`.
    pub fn line(&self, verb: &str) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "connfix: {} checked, {} {verb} ({}), {}, {}",
            plural(self.files, "file", "files"),
            self.changed,
            plural(self.fixes, "fix", "fixes"),
            plural(self.findings, "finding", "findings"),
            plural(self.errors, "error", "errors"),
        )
    }
}
