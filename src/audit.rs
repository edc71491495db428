//! `connfix report`: every finding of a run, ranked like the audit (files
//! needing fixes by severity, files already fixed, files that use the safe
//! context manager), as text, JSON, SARIF 2.1.0 or GitHub annotations.
//! Formatting only: the findings come from the rules, the statuses from
//! `classify`.

use serde_json::{Value, json};

use crate::config::Config;
use crate::rules::{Code, Diagnostic, Severity};
use crate::source::{Rejection, position_of};

/// The JSON report's schema version; bumped on any incompatible change.
pub const JSON_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

/// One diagnostic, placed: what every output format is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Code,
    pub severity: Severity,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// "safe", "unsafe" or "none".
    pub fix: &'static str,
}

impl Finding {
    pub fn new(text: &[u8], diagnostic: &Diagnostic) -> Finding {
        let (line, column) = position_of(text, diagnostic.offset.min(text.len()));
        let fix = diagnostic
            .fix
            .as_ref()
            .map_or("none", |f| f.applicability.as_str());
        Finding {
            rule: diagnostic.rule,
            severity: diagnostic.severity,
            line,
            column,
            message: diagnostic.message.clone(),
            fix,
        }
    }

    /// `path:line:col: rule-id: message`, with a marker where a fix exists
    /// and the severity.
    pub fn line_text(&self, path: &str) -> String {
        let marker = match self.fix {
            "unsafe" => " [unsafe fix]",
            "safe" => " [fixable]",
            _ => "",
        };
        format!(
            "{path}:{}:{}: {}: {}{marker} ({})",
            self.line,
            self.column,
            self.rule,
            self.message,
            self.severity.as_str()
        )
    }
}

/// Where a file stands, like the audit's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Some finding at warning or above.
    NeedsFixes,
    /// No such finding, and it calls the tracker: fixed already.
    Fixed,
    /// No such finding, and it uses a safe context manager.
    Correct,
    /// Nothing to say (no database use connfix knows).
    Clean,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::NeedsFixes => "needs-fixes",
            Status::Fixed => "fixed",
            Status::Correct => "correct",
            Status::Clean => "clean",
        }
    }
}

pub fn classify(text: &[u8], findings: &[Finding], config: &Config) -> Status {
    let contains = |name: &str| memchr::memmem::find(text, format!("{name}(").as_bytes()).is_some();
    if findings.iter().any(|f| f.severity >= Severity::Warning) {
        Status::NeedsFixes
    } else if contains(&config.acquire) || contains(&config.release) {
        Status::Fixed
    } else if config
        .safe_contexts
        .iter()
        .any(|c| contains(c.rsplit('.').next().unwrap_or(c)))
    {
        Status::Correct
    } else {
        Status::Clean
    }
}

/// One file's part of the report.
pub struct FileReport<'a> {
    pub path: &'a str,
    pub status: Status,
    pub findings: &'a [Finding],
    pub error: Option<&'a Rejection>,
}

/// Findings in report order: severity first, then line.
fn ranked(findings: &[Finding]) -> Vec<&Finding> {
    let mut out: Vec<&Finding> = findings.iter().collect();
    out.sort_by_key(|f| (std::cmp::Reverse(f.severity), f.line, f.column));
    out
}

pub fn render(format: Format, files: &[FileReport], config: &Config) -> String {
    match format {
        Format::Text => text(files, config),
        Format::Json => {
            serde_json::to_string_pretty(&json_report(files)).expect("JSON values serialise") + "\n"
        }
        Format::Sarif => {
            serde_json::to_string_pretty(&sarif(files)).expect("JSON values serialise") + "\n"
        }
        Format::Github => github(files),
    }
}

fn text(files: &[FileReport], config: &Config) -> String {
    let mut out = String::new();
    for file in files.iter().filter(|f| !f.findings.is_empty()) {
        for finding in ranked(file.findings) {
            out.push_str(&finding.line_text(file.path));
            out.push('\n');
        }
        out.push('\n');
    }
    let worst = |file: &FileReport| {
        file.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info)
    };
    let mut needing: Vec<&FileReport> = files
        .iter()
        .filter(|f| f.status == Status::NeedsFixes)
        .collect();
    needing.sort_by_key(|f| std::cmp::Reverse(worst(f)));
    out.push_str(&format!("Files needing fixes: {}\n", needing.len()));
    for file in &needing {
        let count = |s: Severity| file.findings.iter().filter(|f| f.severity == s).count();
        let counts: Vec<String> = [Severity::Error, Severity::Warning]
            .into_iter()
            .filter(|s| count(*s) > 0)
            .map(|s| {
                format!(
                    "{} {}{}",
                    count(s),
                    s.as_str(),
                    if count(s) == 1 { "" } else { "s" }
                )
            })
            .collect();
        out.push_str(&format!(
            "  {:<8} {} ({})\n",
            worst(file).as_str(),
            file.path,
            counts.join(", ")
        ));
    }
    for (status, title) in [
        (
            Status::Fixed,
            "Files already fixed (tracking in place)".to_string(),
        ),
        (
            Status::Correct,
            format!("Files correct (using {})", config.safe_contexts.join(", ")),
        ),
    ] {
        let paths: Vec<&str> = files
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.path)
            .collect();
        out.push_str(&format!("{title}: {}\n", paths.len()));
        for path in paths {
            out.push_str(&format!("  {path}\n"));
        }
    }
    out.push_str("Findings per rule:\n");
    for &code in Code::ALL {
        let n = files
            .iter()
            .flat_map(|f| f.findings)
            .filter(|f| f.rule == code)
            .count();
        if n > 0 {
            out.push_str(&format!(
                "  {:<22} {n:>5}  ({})\n",
                code.id(),
                code.severity().as_str()
            ));
        }
    }
    out
}

fn position(error: &Rejection) -> Value {
    match error.position {
        Some((line, column)) => json!({"line": line, "column": column}),
        None => Value::Null,
    }
}

fn json_report(files: &[FileReport]) -> Value {
    let listed: Vec<Value> = files
        .iter()
        .filter(|f| f.error.is_none() && (f.status != Status::Clean || !f.findings.is_empty()))
        .map(|f| {
            json!({
                "path": f.path,
                "status": f.status.as_str(),
                "findings": ranked(f.findings).iter().map(|x| json!({
                    "rule": x.rule,
                    "severity": x.severity.as_str(),
                    "line": x.line,
                    "column": x.column,
                    "message": x.message,
                    "fix": x.fix,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let errors: Vec<Value> = files
        .iter()
        .filter_map(|f| {
            f.error
                .map(|e| json!({"path": f.path, "position": position(e), "message": e.message}))
        })
        .collect();
    let mut by_rule = serde_json::Map::new();
    for &code in Code::ALL {
        let n = files
            .iter()
            .flat_map(|f| f.findings)
            .filter(|f| f.rule == code)
            .count();
        if n > 0 {
            by_rule.insert(code.id().into(), n.into());
        }
    }
    let count = |s: Status| {
        files
            .iter()
            .filter(|f| f.error.is_none() && f.status == s)
            .count()
    };
    json!({
        "version": JSON_VERSION,
        "tool": {"name": "connfix", "version": env!("CARGO_PKG_VERSION")},
        "files": listed,
        "errors": errors,
        "summary": {
            "files": files.iter().filter(|f| f.error.is_none()).count(),
            "needs_fixes": count(Status::NeedsFixes),
            "fixed": count(Status::Fixed),
            "correct": count(Status::Correct),
            "errors": errors.len(),
            "findings_by_rule": by_rule,
        },
    })
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn sarif(files: &[FileReport]) -> Value {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.id(),
                "name": c.id(),
                "shortDescription": {"text": c.summary()},
                "defaultConfiguration": {"level": sarif_level(c.severity())},
            })
        })
        .collect();
    let mut results = Vec::new();
    for file in files {
        for finding in ranked(file.findings) {
            results.push(json!({
                "ruleId": finding.rule,
                "ruleIndex": Code::ALL.iter().position(|c| *c == finding.rule),
                "level": sarif_level(finding.severity),
                "message": {"text": finding.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": file.path.replace('\\', "/")},
                        "region": {"startLine": finding.line, "startColumn": finding.column},
                    },
                }],
            }));
        }
    }
    let notifications: Vec<Value> = files
        .iter()
        .filter_map(|f| {
            let error = f.error?;
            let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": f.path}}});
            if let Some((line, column)) = error.position {
                location["physicalLocation"]["region"] = json!({"startLine": line, "startColumn": column});
            }
            Some(json!({"level": "error", "message": {"text": error.message}, "locations": [location]}))
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "connfix",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": notifications.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
        }],
    })
}

/// GitHub workflow commands: `::error file=...,line=...,col=...,title=...::message`.
fn github(files: &[FileReport]) -> String {
    let escape_data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let escape_property = |s: &str| escape_data(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for file in files {
        for f in ranked(file.findings) {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            out.push_str(&format!(
                "::{level} file={},line={},col={},title={}::{}\n",
                escape_property(file.path),
                f.line,
                f.column,
                escape_property(f.rule.id()),
                escape_data(&f.message)
            ));
        }
        if let Some(error) = file.error {
            let (line, column) = error.position.unwrap_or((1, 1));
            out.push_str(&format!(
                "::error file={},line={line},col={column},title=connfix::{}\n",
                escape_property(file.path),
                escape_data(&error.message)
            ));
        }
    }
    out
}
