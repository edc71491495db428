//! The command line, declared with clap and turned once into validated
//! `Settings` that the rest of the program reads.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use globset::GlobSet;

use crate::audit::Format;
use crate::config::Config;
use crate::rules::{self, Ruleset, Severity};

#[derive(Parser)]
#[command(
    name = "connfix",
    version,
    about = "Find and fix database connection leaks in Python code"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the fixes as a unified diff; write nothing. Exit 1 if a file would change.
    Diff(Options),
    /// Write the fixes into the files. Exit 1 if a file changed.
    Apply(Options),
    /// List the files that would change and the findings; write nothing. Exit 1 if a file would
    /// change or an error-severity finding is found.
    Check(Options),
    /// Report every finding like the audit: ranked by severity, with the files already fixed and
    /// those using a safe context manager. Writes nothing.
    Report(ReportOptions),
}

#[derive(Args)]
struct ReportOptions {
    #[command(flatten)]
    options: Options,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when a finding of this severity or above is found.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    /// The least severity that fails the run, if any does.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

#[derive(Args)]
struct Options {
    /// Files or folders (folders are walked for *.py); default: the current folder.
    paths: Vec<PathBuf>,
    /// Read the configuration from this file instead of the nearest
    /// connfix.toml or pyproject.toml [tool.connfix].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run only these rules (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "RULE,...")]
    select: Vec<String>,
    /// Do not run these rules (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "RULE,...")]
    ignore: Vec<String>,
    /// Skip paths matching this glob while walking folders (repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// When to colour the output (NO_COLOR is honoured with `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Also apply fixes marked unsafe (they may change behaviour: moving a
    /// close into a `finally`).
    #[arg(long)]
    unsafe_fixes: bool,
    /// Print only diffs, changed files and errors: no findings, no summary.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Diff,
    Apply,
    Check,
    Report { format: Format, fail_on: FailOn },
}

/// Everything a run needs, checked.
pub struct Settings {
    pub mode: Mode,
    pub paths: Vec<PathBuf>,
    pub config: Config,
    pub rules: Ruleset,
    pub unsafe_fixes: bool,
    pub exclude: GlobSet,
    pub color: bool,
    pub quiet: bool,
}

impl Cli {
    pub fn settings(self) -> Result<Settings> {
        let (mode, options) = match self.command {
            Command::Diff(o) => (Mode::Diff, o),
            Command::Apply(o) => (Mode::Apply, o),
            Command::Check(o) => (Mode::Check, o),
            Command::Report(r) => (
                Mode::Report {
                    format: r.format,
                    fail_on: r.fail_on,
                },
                r.options,
            ),
        };
        let cwd = std::env::current_dir()?;
        let (config, _) = Config::discover(&cwd, options.config.as_deref())?;
        let rules = rules::build(&config, &options.select, &options.ignore)?;
        let exclude =
            crate::discover::exclusions(&[config.exclude.clone(), options.exclude].concat())?;
        let color = match options.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        let paths = if options.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            options.paths
        };
        Ok(Settings {
            mode,
            paths,
            config,
            rules,
            unsafe_fixes: options.unsafe_fixes,
            exclude,
            color,
            quiet: options.quiet,
        })
    }
}
