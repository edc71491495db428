//! The rules: each finds one leak pattern and proposes fixes as plain edits.
//! A rule reads a parsed file and the configuration; it never writes.

use std::cell::OnceCell;

use anyhow::Result;
use tree_sitter::Node;

use crate::config::Config;
use crate::edit::Fix;
use crate::project::{Project, Summary};
use crate::semantic::Semantic;
use crate::source::SourceFile;
use crate::syntax::{FIELDS, FieldChild};

pub mod close_not_guaranteed;
pub mod connections;
pub mod dispose_engine;
pub mod docs;
pub mod early_return_leak;
pub mod never_closed;
pub mod orm_bypass;
pub mod release_before_close;
pub mod tracked_helper;
pub mod unparsed_region;
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

/// Declares the registry: one variant a kind of finding, with its id (what
/// `--select`, `# connfix: ignore[...]` and the reports use), its default
/// severity and a one-line summary. The compiler checks every use.
macro_rules! codes {
    ($($variant:ident = $id:literal, $severity:ident, $summary:literal;)*) => {
        /// A kind of finding. Every rule reports some of these; `Code::ALL`
        /// lists them grouped by the rule that reports them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn id(self) -> &'static str {
                match self {
                    $(Code::$variant => $id,)*
                }
            }

            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }

            pub fn summary(self) -> &'static str {
                match self {
                    $(Code::$variant => $summary,)*
                }
            }

            /// The code with this id, if there is one.
            pub fn from_id(id: &str) -> Option<Code> {
                match id {
                    $($id => Some(Code::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    TrackedHelper = "tracked-helper", Error,
        "a connection helper hands out pooled connections without tracking them (audit Step 1)";
    UnrecognisedHelper = "unrecognised-helper", Warning,
        "a connection helper whose shape connfix does not rewrite; track it by hand";
    NotAHelper = "not-a-helper", Info,
        "a function that shares a helper's name but is a pytest fixture or a decorator; left alone";
    UntrackableConnection = "untrackable-connection", Warning,
        "a helper returns a driver connection that takes no attributes, so the audit's tracking would fail at run time";
    ReleaseBeforeClose = "release-before-close", Error,
        "a tracked connection is closed without releasing its tracking (audit Step 2)";
    CloseInExpression = "close-in-expression", Warning,
        "a tracked connection is closed where no release can go before it (inside an expression, by closing())";
    DisposeEngine = "dispose-engine", Error,
        "an engine created in a function is never disposed (audit health fix)";
    EngineEscapes = "engine-escapes", Info,
        "an engine outlives the function that creates it (returned, stored, captured, handed on); left alone";
    ModuleEngine = "module-engine", Info,
        "a module- or class-level engine, long-lived by design; left alone";
    NeverClosed = "never-closed", Error,
        "a helper connection that is never closed, returned or passed on";
    EarlyReturnLeak = "early-return-leak", Error,
        "a return or raise between a connection's acquisition and its close skips the close";
    CloseNotGuaranteed = "close-not-guaranteed", Warning,
        "a connection closed in straight-line code, outside any finally: an exception leaks it";
    WithDoesNotClose = "with-does-not-close", Warning,
        "a DB-API connection used in `with`, which ends the transaction but does not close it";
    OrmBypass = "orm-bypass", Warning,
        "ORM session use that bypasses connection tracking (audit root cause 2)";
    // Reported by the pipeline (`fix.rs`), not by a rule.
    UnparsedRegion = "unparsed-region", Warning,
        "valid Python that tree-sitter cannot read; the rules left that function or statement alone";
}

/// The codes no rule reports: the pipeline does.
pub const PIPELINE_CODES: &[Code] = &[Code::UnparsedRegion];

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// What a rule says about one place: a message, and a fix where it has a
/// safe one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: Code,
    pub severity: Severity,
    /// Byte offset in the file's text (after any BOM).
    pub offset: usize,
    pub message: String,
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// A finding with the code's default severity and no fix.
    pub fn new(rule: Code, node: Node, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            rule,
            severity: rule.severity(),
            offset: node.start_byte(),
            message: message.into(),
            fix: None,
        }
    }

    pub fn fix(rule: Code, node: Node, message: impl Into<String>, fix: Fix) -> Diagnostic {
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
    fn codes(&self) -> &'static [Code];
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
    fn check(&self, cx: &Context) -> Vec<Diagnostic>;
}

/// What the rules of one pass over a file share: the file, the
/// configuration, the semantic model, and the analyses several rules read
/// (computed once, when first asked for).
pub struct Context<'t> {
    pub file: &'t SourceFile,
    pub config: &'t Config,
    pub semantic: Semantic<'t>,
    /// The helpers of the whole run (other files' too).
    pub project: &'t Project,
    helpers: OnceCell<connections::Helpers<'t>>,
    acquisitions: OnceCell<Vec<connections::Acquisition<'t>>>,
    /// The helpers this file defines, by name, and what they hand out.
    local: OnceCell<Vec<(&'t [u8], Node<'t>, Summary)>>,
    /// `helper_summary` by callee text: a file calls its helpers by few
    /// names, many times.
    summaries: std::cell::RefCell<Vec<(&'t [u8], Summary)>>,
}

impl<'t> Context<'t> {
    pub fn new(file: &'t SourceFile, config: &'t Config, project: &'t Project) -> Context<'t> {
        Context {
            file,
            config,
            semantic: Semantic::new(file),
            project,
            helpers: OnceCell::new(),
            acquisitions: OnceCell::new(),
            local: OnceCell::new(),
            summaries: Default::default(),
        }
    }

    /// The helper definitions of this file (module functions and methods
    /// named as a configured helper) and their summaries.
    pub fn local_helpers(&self) -> &[(&'t [u8], Node<'t>, Summary)] {
        self.local.get_or_init(|| {
            let src = self.src();
            let names = last_parts(&self.config.helpers);
            crate::project::definitions(self.file.tree.root_node())
                .into_iter()
                .filter_map(|f| {
                    let name = crate::syntax::text(f.field(FIELDS.name)?, src);
                    names
                        .iter()
                        .any(|n| n.as_bytes() == name)
                        .then(|| (name, f, crate::project::summarize(f, src, self.config)))
                })
                .collect()
        })
    }

    /// Where the run's helpers keep the tracking, if the run has helpers
    /// and they agree: this file's, else the run's of the first name.
    pub fn run_form(&self) -> Option<crate::project::Form> {
        if let Some((_, _, summary)) = self.local_helpers().first() {
            return Some(summary.form);
        }
        let names = last_parts(&self.config.helpers);
        let name = names.first()?;
        self.project
            .lookup(name, None, &self.file.path)
            .map(|s| s.form)
    }

    /// What the helper that `call` calls hands out: a helper of this file,
    /// else the one its import names, else any of the run's helpers of
    /// that name, else the configured default.
    pub fn helper_summary(&self, call: Node) -> Summary {
        let src = self.src();
        let callee = call
            .field(FIELDS.function)
            .map(|f| crate::syntax::text(f, src))
            .unwrap_or_default();
        if let Some((_, s)) = self.summaries.borrow().iter().find(|(c, _)| *c == callee) {
            return *s;
        }
        let summary = self.summary_of(callee);
        self.summaries.borrow_mut().push((callee, summary));
        summary
    }

    fn summary_of(&self, callee: &'t [u8]) -> Summary {
        let src = self.src();
        let names = last_parts(&self.config.helpers);
        let last = callee.rsplit(|b| *b == b'.').next().unwrap_or(callee);
        // An alias (`gdc = get_db_connection`) stands for the first helper.
        let name = names
            .iter()
            .find(|n| n.as_bytes() == last)
            .or(names.first())
            .map_or(&b""[..], |n| n.as_bytes());
        if let Some((_, _, summary)) = self.local_helpers().iter().find(|(n, _, _)| *n == name) {
            return *summary;
        }
        let module = crate::syntax::imported_from(self.file.tree.root_node(), callee, src);
        let name = String::from_utf8_lossy(name);
        self.project
            .lookup(&name, module.as_deref(), &self.file.path)
            .or_else(|| {
                module
                    .is_some()
                    .then(|| self.project.lookup(&name, None, &self.file.path))
                    .flatten()
            })
            .unwrap_or_else(|| Summary::unseen(self.config))
    }

    pub fn src(&self) -> &'t [u8] {
        &self.file.text
    }

    /// The configured helpers and their aliases in this file.
    pub fn helpers(&self) -> &connections::Helpers<'t> {
        self.helpers
            .get_or_init(|| connections::Helpers::new(&self.config.helpers, self.file))
    }

    /// The connections acquired from helpers in the file's functions.
    pub fn acquisitions(&self) -> &[connections::Acquisition<'t>] {
        self.acquisitions
            .get_or_init(|| connections::acquisitions(self))
    }
}

/// The rules of a run, the codes selected, and the configuration they
/// were built from.
pub struct Ruleset {
    pub rules: Vec<Box<dyn Rule>>,
    pub enabled: Vec<Code>,
    pub config: Config,
}

impl Ruleset {
    /// No rules (what is left where a run has taken its rules).
    pub fn empty() -> Ruleset {
        Ruleset {
            rules: Vec::new(),
            enabled: Vec::new(),
            config: Config::default(),
        }
    }
}

/// Build the rules that report a selected code (all codes when `select` is
/// empty), compiling their queries; a query that does not compile is an
/// error naming its file.
pub fn build(config: &Config, select: &[String], ignore: &[String]) -> Result<Ruleset> {
    let codes = |ids: &[String]| -> Result<Vec<Code>> {
        ids.iter()
            .map(|id| {
                Code::from_id(id).ok_or_else(|| {
                    let ids: Vec<&str> = Code::ALL.iter().map(|c| c.id()).collect();
                    anyhow::anyhow!("unknown rule `{id}`; the rules are: {}", ids.join(", "))
                })
            })
            .collect()
    };
    let (select, ignore) = (codes(select)?, codes(ignore)?);
    let enabled: Vec<Code> = Code::ALL
        .iter()
        .copied()
        .filter(|c| (select.is_empty() || select.contains(c)) && !ignore.contains(c))
        .collect();
    let all: Vec<Box<dyn Rule>> = vec![
        Box::new(tracked_helper::TrackedHelper::new(config)?),
        Box::new(release_before_close::ReleaseBeforeClose::new(config)?),
        Box::new(dispose_engine::DisposeEngine::new(config)?),
        Box::new(never_closed::NeverClosed::new(config)),
        Box::new(early_return_leak::EarlyReturnLeak::new(config)),
        Box::new(close_not_guaranteed::CloseNotGuaranteed::new(config)),
        Box::new(with_does_not_close::WithDoesNotClose::new(config)?),
        Box::new(orm_bypass::OrmBypass::new(config)?),
    ];
    let rules = all
        .into_iter()
        .filter(|r| r.codes().iter().any(|c| enabled.contains(c)))
        .collect();
    Ok(Ruleset {
        rules,
        enabled,
        config: config.clone(),
    })
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
    fn every_code_has_one_rule_and_ids_round_trip() {
        let set = build(&Config::default(), &[], &[]).unwrap();
        let mut reported: Vec<Code> = set
            .rules
            .iter()
            .flat_map(|r| r.codes().iter().copied())
            .collect();
        reported.sort();
        let ruled: Vec<Code> = Code::ALL
            .iter()
            .copied()
            .filter(|c| !PIPELINE_CODES.contains(c))
            .collect();
        assert_eq!(reported, ruled, "each code once, in registry order");
        assert_eq!(set.enabled, Code::ALL);
        for code in Code::ALL {
            assert_eq!(Code::from_id(code.id()), Some(*code));
        }
        assert_eq!(Code::from_id("no-such-rule"), None);
    }
}
