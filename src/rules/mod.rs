//! The rules: each finds one leak pattern and proposes fixes as plain edits.
//! A rule reads a parsed file and the configuration; it never writes.

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::Fix;
use crate::source::SourceFile;

pub mod close_not_guaranteed;
pub mod connections;
pub mod dispose_engine;
pub mod early_return_leak;
pub mod never_closed;
pub mod orm_bypass;
pub mod release_before_close;
pub mod tracked_helper;
pub mod with_does_not_close;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A kind of finding: its id (what `--select`, `# connfix: ignore[...]` and
/// the reports use), its default severity and a one-line summary.
#[derive(Debug)]
pub struct Code {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Every code, grouped by the rule that reports it.
pub const CODES: &[Code] = &[
    Code {
        id: "tracked-helper",
        severity: Severity::Error,
        summary: "a connection helper hands out pooled connections without tracking them (audit Step 1)",
    },
    Code {
        id: "unrecognised-helper",
        severity: Severity::Warning,
        summary: "a connection helper whose shape connfix does not rewrite; track it by hand",
    },
    Code {
        id: "untrackable-connection",
        severity: Severity::Warning,
        summary: "a helper returns a driver connection that takes no attributes, so the audit's tracking would fail at run time",
    },
    Code {
        id: "release-before-close",
        severity: Severity::Error,
        summary: "a tracked connection is closed without releasing its tracking (audit Step 2)",
    },
    Code {
        id: "close-in-expression",
        severity: Severity::Warning,
        summary: "a tracked connection is closed inside an expression, where no release can go before it",
    },
    Code {
        id: "dispose-engine",
        severity: Severity::Error,
        summary: "an engine created in a function is never disposed (audit health fix)",
    },
    Code {
        id: "engine-escapes",
        severity: Severity::Info,
        summary: "an engine outlives the function that creates it (returned, stored, captured); left alone",
    },
    Code {
        id: "module-engine",
        severity: Severity::Info,
        summary: "a module- or class-level engine, long-lived by design; left alone",
    },
    Code {
        id: "never-closed",
        severity: Severity::Error,
        summary: "a helper connection that is never closed, returned or passed on",
    },
    Code {
        id: "early-return-leak",
        severity: Severity::Error,
        summary: "a return or raise between a connection's acquisition and its close skips the close",
    },
    Code {
        id: "close-not-guaranteed",
        severity: Severity::Warning,
        summary: "a connection closed in straight-line code, outside any finally: an exception leaks it",
    },
    Code {
        id: "with-does-not-close",
        severity: Severity::Warning,
        summary: "a DB-API connection used in `with`, which ends the transaction but does not close it",
    },
    Code {
        id: "orm-bypass",
        severity: Severity::Warning,
        summary: "ORM session use that bypasses connection tracking (audit root cause 2)",
    },
    // Reported by the pipeline (`fix.rs`), not by a rule.
    Code {
        id: "unparsed-region",
        severity: Severity::Warning,
        summary: "valid Python that tree-sitter cannot read; the rules left that function or statement alone",
    },
];

/// The codes no rule reports: the pipeline does.
pub const PIPELINE_CODES: &[&str] = &["unparsed-region"];

/// The code with this id; an unknown id is a bug in a rule.
pub fn code(id: &str) -> &'static Code {
    CODES
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("`{id}` is not in rules::CODES"))
}

/// What a rule says about one place: a message, and a fix where it has a
/// safe one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: &'static str,
    pub severity: Severity,
    /// Byte offset in the file's text (after any BOM).
    pub offset: usize,
    pub message: String,
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// A finding with the code's default severity and no fix.
    pub fn new(rule: &'static str, node: Node, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            rule,
            severity: code(rule).severity,
            offset: node.start_byte(),
            message: message.into(),
            fix: None,
        }
    }

    pub fn fix(rule: &'static str, node: Node, message: impl Into<String>, fix: Fix) -> Diagnostic {
        Diagnostic {
            fix: Some(fix),
            ..Diagnostic::new(rule, node, message)
        }
    }

    pub fn with_severity(self, severity: Severity) -> Diagnostic {
        Diagnostic { severity, ..self }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixes {
    /// Report only.
    Never,
    /// Safe fixes (it may also have unsafe ones).
    Safe,
    /// Only unsafe fixes, applied with `--unsafe-fixes`.
    Unsafe,
}

pub trait Rule: Send + Sync {
    /// The codes this rule reports; the first is the rule's own id, shared
    /// by its source file, query and testdata folder.
    fn codes(&self) -> &'static [&'static str];
    /// Byte strings of which at least one must occur in a file for the rule
    /// to find anything there; files with none are not even parsed. A call
    /// of a configured name holds the whole name (`x.get_db_connection(`,
    /// `sqlite3.connect(`), so the names themselves are the needles.
    fn needles(&self) -> Vec<String>;
    /// A closer look, before parsing, at a file that holds one of the
    /// needles: false when no occurrence can be part of a match, so the file
    /// need not be parsed for this rule. It must never say false where the
    /// rule would find something.
    fn could_match(&self, _text: &[u8]) -> bool {
        true
    }
    /// What fixes the rule proposes. Only rules whose fixes a run applies
    /// run again on a fixed text to prove the fixed point; the others run
    /// once, on the original.
    fn fixes(&self) -> Fixes {
        Fixes::Never
    }
    fn check(&self, file: &SourceFile) -> Vec<Diagnostic>;
}

/// The rules of a run, and the codes selected.
pub struct Ruleset {
    pub rules: Vec<Box<dyn Rule>>,
    pub enabled: Vec<&'static str>,
}

/// Build the rules that report a selected code (all codes when `select` is
/// empty), compiling their queries; a query that does not compile is an
/// error naming its file.
pub fn build(config: &Config, select: &[String], ignore: &[String]) -> Result<Ruleset> {
    for id in select.iter().chain(ignore) {
        if !CODES.iter().any(|c| c.id == id) {
            let ids: Vec<&str> = CODES.iter().map(|c| c.id).collect();
            anyhow::bail!("unknown rule `{id}`; the rules are: {}", ids.join(", "));
        }
    }
    let enabled: Vec<&'static str> = CODES
        .iter()
        .map(|c| c.id)
        .filter(|id| {
            (select.is_empty() || select.iter().any(|s| s == id)) && !ignore.iter().any(|s| s == id)
        })
        .collect();
    let all: Vec<Box<dyn Rule>> = vec![
        Box::new(tracked_helper::TrackedHelper::new(config)?),
        Box::new(release_before_close::ReleaseBeforeClose::new(config)?),
        Box::new(dispose_engine::DisposeEngine::new(config)?),
        Box::new(connections::ConnectionLeaks::new(config)?),
        Box::new(orm_bypass::OrmBypass::new(config)?),
    ];
    let rules = all
        .into_iter()
        .filter(|r| r.codes().iter().any(|c| enabled.contains(c)))
        .collect();
    Ok(Ruleset { rules, enabled })
}

/// The last dotted part of each name: what must occur in a file's text for
/// a call of that name to be there.
pub fn last_parts(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.rsplit('.').next().unwrap_or(n).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_reports_only_known_codes_and_every_code_has_a_rule() {
        let set = build(&Config::default(), &[], &[]).unwrap();
        let reported: Vec<&str> = set
            .rules
            .iter()
            .flat_map(|r| r.codes().iter().copied())
            .collect();
        for id in &reported {
            code(id);
        }
        let known: Vec<&str> = CODES.iter().map(|c| c.id).collect();
        let mut sorted = reported.clone();
        sorted.sort();
        let mut all: Vec<&str> = known
            .iter()
            .copied()
            .filter(|id| !PIPELINE_CODES.contains(id))
            .collect();
        all.sort();
        assert_eq!(sorted, all);
        assert_eq!(set.enabled, known);
    }
}
