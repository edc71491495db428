//! `apply --interactive`: each fix's own diff, then `[y]es [n]o [a]ll
//! [q]uit`. Answers are read a line at a time from standard input, so a
//! script or a test answers the same way a person at a terminal does. The
//! reviewer only decides; `fix::Fixer::review` applies what it accepts.

use std::io::{BufRead, IsTerminal, Write};

use crate::fix::Proposal;
use crate::report::display;

pub struct Reviewer {
    color: bool,
    /// `a`: every later fix is accepted without asking.
    all: bool,
    /// `q` or the end of the answers: every later fix is declined.
    quit: bool,
}

impl Reviewer {
    pub fn new(color: bool) -> Reviewer {
        Reviewer {
            color,
            all: false,
            quit: false,
        }
    }

    /// Whether to apply this fix. Output problems end the review: nothing
    /// more is applied.
    pub fn decide(&mut self, proposal: &Proposal) -> bool {
        if self.quit {
            return false;
        }
        if self.all {
            return true;
        }
        match self.ask(proposal) {
            Ok(answer) => answer,
            Err(_) => {
                self.quit = true;
                false
            }
        }
    }

    fn ask(&mut self, proposal: &Proposal) -> std::io::Result<bool> {
        let path = display(proposal.path);
        let mut out = std::io::stdout().lock();
        writeln!(out, "{path}: {}: {}", proposal.rule, proposal.message)?;
        out.write_all(&crate::diff::unified(
            &path,
            &proposal.before,
            &proposal.after,
            self.color,
        ))?;
        let mut line = String::new();
        loop {
            write!(out, "Apply this fix? [y]es [n]o [a]ll [q]uit: ")?;
            out.flush()?;
            line.clear();
            if std::io::stdin().lock().read_line(&mut line)? == 0 {
                writeln!(out, "\n(no more answers: quitting)")?;
                self.quit = true;
                return Ok(false);
            }
            if !std::io::stdin().is_terminal() {
                // A scripted answer is not echoed by a terminal: keep the
                // transcript readable.
                writeln!(out, "{}", line.trim_end())?;
            }
            match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                "a" | "all" => {
                    self.all = true;
                    return Ok(true);
                }
                "q" | "quit" => {
                    self.quit = true;
                    return Ok(false);
                }
                _ => writeln!(out, "Please answer y, n, a or q.")?,
            }
        }
    }
}
