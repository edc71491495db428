// The documentation, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/never-closed.md")]

use crate::config::Config;
use crate::rules::connections::UseKind;
use crate::rules::{Code, Context, Diagnostic, Rule};

pub const ID: Code = Code::NeverClosed;

pub struct NeverClosed {
    helpers: Vec<String>,
}

impl NeverClosed {
    pub fn new(config: &Config) -> NeverClosed {
        NeverClosed {
            helpers: config.helpers.clone(),
        }
    }
}

impl Rule for NeverClosed {
    fn codes(&self) -> &'static [Code] {
        &[ID]
    }

    fn needles(&self) -> Vec<String> {
        self.helpers.clone()
    }

    fn check(&self, cx: &Context) -> Vec<Diagnostic> {
        cx.acquisitions()
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
}
