//! The rules: each finds one leak pattern and proposes fixes as plain edits.
//! A rule reads a parsed file and the configuration; it never writes.

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::Fix;
use crate::source::SourceFile;

pub mod dispose_engine;
pub mod release_before_close;
pub mod tracked_helper;

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
    pub fn fix(rule: &'static str, node: Node, message: impl Into<String>, fix: Fix) -> Diagnostic {
        Diagnostic {
            rule,
            severity: Severity::Warning,
            offset: node.start_byte(),
            message: message.into(),
            fix: Some(fix),
        }
    }

    pub fn finding(
        rule: &'static str,
        severity: Severity,
        node: Node,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            rule,
            severity,
            offset: node.start_byte(),
            message: message.into(),
            fix: None,
        }
    }
}

pub trait Rule: Send + Sync {
    /// The rule's id, shared by its source file, query and testdata folder.
    fn id(&self) -> &'static str;
    /// Byte strings of which at least one must occur in a file for the rule
    /// to find anything there; files with none are not even parsed.
    fn needles(&self) -> Vec<String>;
    fn check(&self, file: &SourceFile) -> Vec<Diagnostic>;
}

/// Every rule id, in the order rules run.
pub const ALL: &[&str] = &[
    tracked_helper::ID,
    release_before_close::ID,
    dispose_engine::ID,
];

/// Build the selected rules (all when `select` is empty), compiling their
/// queries; a query that does not compile is an error naming its file.
pub fn build(config: &Config, select: &[String], ignore: &[String]) -> Result<Vec<Box<dyn Rule>>> {
    for id in select.iter().chain(ignore) {
        if !ALL.contains(&id.as_str()) {
            anyhow::bail!("unknown rule `{id}`; the rules are: {}", ALL.join(", "));
        }
    }
    let wanted = |id: &str| {
        (select.is_empty() || select.iter().any(|s| s == id)) && !ignore.iter().any(|s| s == id)
    };
    let mut rules: Vec<Box<dyn Rule>> = Vec::new();
    if wanted(tracked_helper::ID) {
        rules.push(Box::new(tracked_helper::TrackedHelper::new(config)?));
    }
    if wanted(release_before_close::ID) {
        rules.push(Box::new(release_before_close::ReleaseBeforeClose::new(
            config,
        )?));
    }
    if wanted(dispose_engine::ID) {
        rules.push(Box::new(dispose_engine::DisposeEngine::new(config)?));
    }
    Ok(rules)
}

/// The last dotted part of each name: what must occur in a file's text for
/// a call of that name to be there.
pub fn last_parts(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.rsplit('.').next().unwrap_or(n).to_string())
        .collect()
}
