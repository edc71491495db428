//! `never-closed`: a connection from a helper that its function never
//! closes, returns, yields, stores or passes on: it stays checked out of the
//! pool until the process ends.
//!
//! ```python
//! def names():
//!     conn = get_db_connection()      # never-closed
//!     return [r[0] for r in conn.cursor().execute("SELECT name FROM t")]
//! ```
//!
//! Report only: where the close should go is the author's decision.

use anyhow::Result;

use crate::config::Config;
use crate::rules::connections::{Connections, UseKind};
use crate::rules::{Diagnostic, Rule, last_parts};
use crate::source::SourceFile;

pub const ID: &str = "never-closed";

pub struct NeverClosed {
    connections: Connections,
    helpers: Vec<String>,
}

impl NeverClosed {
    pub fn new(config: &Config) -> Result<NeverClosed> {
        Ok(NeverClosed {
            connections: Connections::new(&config.helpers)?,
            helpers: config.helpers.clone(),
        })
    }
}

impl Rule for NeverClosed {
    fn codes(&self) -> &'static [&'static str] {
        &[ID]
    }

    fn needles(&self) -> Vec<String> {
        last_parts(&self.helpers)
    }

    fn check(&self, file: &SourceFile) -> Vec<Diagnostic> {
        self.connections
            .acquisitions(file)
            .into_iter()
            .filter(|a| a.closes().next().is_none() && !a.has(|k| matches!(k, UseKind::Argument | UseKind::Escapes | UseKind::Closing)))
            .map(|a| {
                let with = if a.has(|k| k == UseKind::With) { " (`with` on it does not close it)" } else { "" };
                Diagnostic::new(
                    ID,
                    a.statement,
                    format!(
                        "`{}` is never closed, returned or passed on{with}: the connection stays checked out; \
                         close it in a `finally`",
                        a.name
                    ),
                )
            })
            .collect()
    }
}
