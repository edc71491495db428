// The documentation, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/never-closed.md")]

use crate::rules::Diagnostic;
use crate::rules::connections::{Acquisition, UseKind};

pub const ID: &str = "never-closed";

/// The findings among the file's acquisitions.
pub fn check(acquisitions: &[Acquisition]) -> Vec<Diagnostic> {
    acquisitions
        .iter()
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
