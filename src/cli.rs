//! The command line, declared with clap and turned once into validated
//! `Settings` that the rest of the program reads.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
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
    Diff {
        #[command(flatten)]
        options: Options,
        #[command(flatten)]
        json: Json,
    },
    /// Write the fixes into the files. Exit 1 if a file changed.
    Apply {
        #[command(flatten)]
        options: Options,
        /// Show each fix's diff and ask before applying it: [y]es [n]o [a]ll
        /// [q]uit, one answer a line on standard input.
        #[arg(long, short)]
        interactive: bool,
    },
    /// List the files that would change and the findings; write nothing. Exit 1 if a file would
    /// change or an error-severity finding has no fix.
    Check {
        #[command(flatten)]
        options: Options,
        #[command(flatten)]
        json: Json,
    },
    /// Report every finding like the audit: ranked by severity, with the files already fixed and
    /// those using a safe context manager. Writes nothing.
    Report {
        #[command(flatten)]
        options: Options,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 1 when a finding of this severity or above is found.
        #[arg(long, value_enum, default_value_t = FailOn::Error)]
        fail_on: FailOn,
    },
    /// Print a rule's documentation: what it finds, why, an example before and after, when it
    /// declines, and its fix safety. The same text as the README's section on the rule.
    Rule {
        /// The rule's id (as in `--select` and `# connfix: ignore[...]`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        rule: Option<String>,
        /// Print every rule's documentation, in the README's order.
        #[arg(long)]
        all: bool,
    },
    /// Run the language server on standard input and output (LSP 3.17), for
    /// editors: findings as diagnostics, fixes and ignore comments as code actions.
    Server,
    /// Print a shell completion script to standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output: `connfix man | man -l -`.
    Man,
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
struct Json {
    /// Print the edits and findings as JSON (the schema is in the README).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct Options {
    /// Files or folders (folders are walked for *.py); default: the current
    /// folder. `-` reads one file's source from standard input.
    paths: Vec<PathBuf>,
    /// With `-`: the path of the source read from standard input, for
    /// messages and the helper's context string (`apply` then writes the
    /// fixed source to standard output).
    #[arg(long, value_name = "PATH")]
    stdin_filename: Option<PathBuf>,
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
    /// Read one file from standard input, under this name.
    pub stdin: Option<PathBuf>,
    pub config: Config,
    pub rules: Ruleset,
    /// Without `--config`: each file takes the nearest configuration above
    /// it (as ruff does), built with these selections.
    pub per_file: Option<PerFile>,
    pub unsafe_fixes: bool,
    pub exclude: GlobSet,
    pub color: bool,
    pub quiet: bool,
    pub interactive: bool,
    pub json: bool,
    /// Standard error is a terminal: show progress and the time taken.
    pub terminal: bool,
}

/// What a run needs to build the rules of another configuration file.
pub struct PerFile {
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    /// The configuration file found from the working folder, if any.
    pub found: Option<PathBuf>,
}

/// What the command line asks for.
pub enum Task {
    /// Find and fix.
    Run(Box<Settings>),
    /// Print these bytes (a completion script, the manual page).
    Print(Vec<u8>),
    /// Serve an editor over standard input and output.
    Server,
}

impl Cli {
    pub fn task(self) -> Result<Task> {
        let (mode, options, interactive, json) = match self.command {
            Command::Diff { options, json } => (Mode::Diff, options, false, json.json),
            Command::Apply {
                options,
                interactive,
            } => (Mode::Apply, options, interactive, false),
            Command::Check { options, json } => (Mode::Check, options, false, json.json),
            Command::Report {
                options,
                format,
                fail_on,
            } => (Mode::Report { format, fail_on }, options, false, false),
            Command::Completions { shell } => {
                let mut out = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "connfix", &mut out);
                return Ok(Task::Print(out));
            }
            Command::Rule { rule, all } => {
                let text = match rule {
                    Some(id) if !all => rules::docs::doc(&id)
                        .ok_or_else(|| {
                            let ids: Vec<&str> = rules::Code::ALL.iter().map(|c| c.id()).collect();
                            anyhow::anyhow!(
                                "unknown rule `{id}`; the rules are: {}",
                                ids.join(", ")
                            )
                        })?
                        .to_string(),
                    _ => rules::docs::all(),
                };
                return Ok(Task::Print(text.into_bytes()));
            }
            Command::Server => return Ok(Task::Server),
            Command::Man => {
                let mut out = Vec::new();
                clap_mangen::Man::new(Cli::command()).render(&mut out)?;
                return Ok(Task::Print(out));
            }
        };
        let stdin = stdin_name(&options.paths, options.stdin_filename)?;
        if interactive && stdin.is_some() {
            bail!(
                "--interactive reads its answers from standard input, so it cannot read the source there too; name the file instead of `-`"
            );
        }
        let cwd = std::env::current_dir()?;
        let (config, found) = Config::discover(&cwd, options.config.as_deref())?;
        let rules = rules::build(&config, &options.select, &options.ignore)?;
        let per_file = options.config.is_none().then(|| PerFile {
            select: options.select.clone(),
            ignore: options.ignore.clone(),
            found: found.map(|f| cwd.join(f)),
        });
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
        Ok(Task::Run(Box::new(Settings {
            mode,
            paths,
            stdin,
            config,
            rules,
            per_file,
            unsafe_fixes: options.unsafe_fixes,
            exclude,
            color,
            quiet: options.quiet,
            interactive,
            json,
            terminal: std::io::stderr().is_terminal(),
        })))
    }
}

/// The name of the source on standard input: `-` must be the only path,
/// and comes with `--stdin-filename` (which alone implies `-`).
fn stdin_name(paths: &[PathBuf], name: Option<PathBuf>) -> Result<Option<PathBuf>> {
    let dash = paths.iter().any(|p| p.as_os_str() == "-");
    match name {
        Some(name) if paths.is_empty() || (dash && paths.len() == 1) => Ok(Some(name)),
        Some(_) => bail!(
            "--stdin-filename goes with `-` alone: connfix reads one source from standard input"
        ),
        None if dash => bail!(
            "`-` reads the source from standard input and needs --stdin-filename PATH (its name decides the helper's context string)"
        ),
        None => Ok(None),
    }
}
