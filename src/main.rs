//! The `connfix` binary: parse the command line, run, exit.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use connfix::cli::Task;

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
    match connfix::cli::Cli::parse().task()? {
        Task::Run(settings) => connfix::command::execute(*settings),
        Task::Print(bytes) => {
            std::io::stdout().write_all(&bytes)?;
            Ok(ExitCode::from(connfix::report::SUCCESS))
        }
        Task::Server => {
            connfix::server::run()?;
            Ok(ExitCode::from(connfix::report::SUCCESS))
        }
    }
}
