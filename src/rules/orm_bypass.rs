// The documentation, from docs/rules/ (also `connfix rule` and the README).
#![doc = include_str!("../../docs/rules/orm-bypass.md")]

use anyhow::Result;

use crate::config::Config;
use crate::rules::{Code, Context, Diagnostic, Rule};
use crate::syntax::{self, LazyQuery, text};

pub const ID: Code = Code::OrmBypass;
/// What `Model.query.method(...)` holds.
const MODEL_QUERY: &str = ".query.";
const QUERY_FILE: &str = "orm-bypass.scm";

pub struct OrmBypass {
    query: LazyQuery,
    sessions: Vec<String>,
    /// The sessions' last dotted parts and `query`: every match holds one.
    anchors: Vec<String>,
}

impl OrmBypass {
    pub fn new(config: &Config) -> Result<OrmBypass> {
        Ok(OrmBypass {
            query: LazyQuery::template(
                QUERY_FILE,
                include_str!("../../queries/orm-bypass.scm"),
                "call",
                "@SESSIONS@",
                &config.orm_sessions,
            ),
            sessions: config.orm_sessions.clone(),
            anchors: crate::rules::last_parts(&config.orm_sessions)
                .into_iter()
                .chain(["query".to_string()])
                .collect(),
        })
    }
}

impl Rule for OrmBypass {
    fn codes(&self) -> &'static [Code] {
        &[ID]
    }

    fn needles(&self) -> Vec<String> {
        let mut needles = self.sessions.clone();
        needles.push(MODEL_QUERY.into());
        needles
    }

    /// `.query.` is common outside the ORM (`url.query.split()`,
    /// `request.query.get()`, `X.query.__doc__`); the rule wants
    /// `Model.query.method(`: a name starting with a capital before it, and
    /// a called name after it. A session name settles it at once.
    fn could_match(&self, text: &[u8]) -> bool {
        self.sessions
            .iter()
            .any(|s| memchr::memmem::find(text, s.as_bytes()).is_some())
            || memchr::memmem::find_iter(text, MODEL_QUERY.as_bytes())
                .any(|at| model_query_call(text, at))
    }

    fn check(&self, cx: &Context) -> Vec<Diagnostic> {
        let file = cx.file;
        if self.sessions.is_empty() {
            return Vec::new();
        }
        let src = file.text.as_slice();
        let mut out = Vec::new();
        syntax::for_each_match(&self.query, file, &self.anchors, |m| {
            let (Some(call), Some(session), Some(method)) =
                (m.get("call"), m.get("session"), m.get("method"))
            else {
                return;
            };
            let session = text(session, src);
            let model = m.get("model").map(|m| text(m, src));
            let known = match model {
                Some(model) => model.first().is_some_and(u8::is_ascii_uppercase),
                None => self.sessions.iter().any(|s| {
                    let s = s.as_bytes();
                    session == s
                        || (session.len() > s.len()
                            && session.ends_with(s)
                            && session[session.len() - s.len() - 1] == b'.')
                }),
            };
            if known {
                out.push(Diagnostic::new(
                    ID,
                    call,
                    format!(
                        "`{}.{}()` uses the ORM's own connection pool, which the connection tracker does not \
                         see; use `connection_ctx()`",
                        String::from_utf8_lossy(session),
                        String::from_utf8_lossy(text(method, src))
                    ),
                ));
            }
        });
        out
    }
}

/// Whether the `.query.` at `at` could be in `Model.query.method(`: a name
/// whose first letter is a capital ends before it (after any blanks), and
/// a name then `(` follow it (past blanks, line continuations and comments,
/// which Python allows there inside brackets). Lenient where unsure: it
/// only decides whether a file is parsed.
fn model_query_call(text: &[u8], at: usize) -> bool {
    let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\\' | b'\x0c');
    let name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    // Before: blanks, then a name, whose first byte must be a capital.
    let mut i = at;
    while i > 0 && blank(text[i - 1]) {
        i -= 1;
    }
    let end = i;
    while i > 0 && name(text[i - 1]) {
        i -= 1;
    }
    if i == end || !(text[i].is_ascii_uppercase() || text[i] >= 0x80) {
        return false;
    }
    // After: a name, then `(`, past blanks and comments.
    let skip = |mut j: usize| {
        loop {
            while j < text.len() && blank(text[j]) {
                j += 1;
            }
            if j < text.len() && text[j] == b'#' {
                j = memchr::memchr(b'\n', &text[j..]).map_or(text.len(), |n| j + n);
            } else {
                return j;
            }
        }
    };
    let mut j = skip(at + MODEL_QUERY.len());
    let start = j;
    while j < text.len() && name(text[j]) {
        j += 1;
    }
    if j == start {
        return false;
    }
    j = skip(j);
    j < text.len() && text[j] == b'('
}

#[cfg(test)]
mod tests {
    use super::*;

    fn could(text: &str) -> bool {
        memchr::memmem::find_iter(text.as_bytes(), MODEL_QUERY.as_bytes())
            .any(|at| model_query_call(text.as_bytes(), at))
    }

    #[test]
    fn model_query_calls_are_recognised_before_parsing() {
        for yes in [
            "users = User.query.filter_by(active=True).all()",
            "x = Tenant.query.get (1)",
            "x = (User.query.filter_by  # the active ones\n      (active=True))",
            "x = User .query.\\\n    all()",
            "rows = Ümlaut.query.all()",
        ] {
            assert!(could(yes), "{yes}");
        }
        for no in [
            "_SplitResultBase.query.__doc__ = \"\"\"the query\"\"\"",
            "parts = url.query.split('&')",
            "name = request.query.get('name')",
            "self.query.filter(x)",
            "q = User.query.filter_by",
            "text = '.query.'",
            ".query.all()",
        ] {
            assert!(!could(no), "{no}");
        }
    }
}
