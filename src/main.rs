//! The `connfix` binary: parse the command line, run, exit.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("connfix: error: {error:#}");
            ExitCode::from(connfix::report::ERROR)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let settings = connfix::cli::Cli::parse().settings()?;
    connfix::command::execute(settings)
}
