//! `orm-bypass`: the audit's root cause 2. ORM session calls
//! (`db.session.query()`, `current_app.db.session.commit()`, ...) take
//! connections from SQLAlchemy's own pool, which the connection tracker never
//! sees, also in background workers outside a request.
//!
//! ```python
//! user = db.session.get(User, user_id)      # orm-bypass
//! with connection_ctx() as conn:            # tracked instead
//!     ...
//! ```
//!
//! Also Flask-SQLAlchemy's `Model.query.filter_by(...)` (a CapWords name
//! before `.query`), which goes through `db.session` too.
//!
//! Report only: the replacement (`connection_ctx()` and SQL) is a rewrite by
//! hand. Sessions are configurable (`orm_sessions`).

use anyhow::Result;

use crate::config::Config;
use crate::rules::{Diagnostic, Rule};
use crate::source::SourceFile;
use crate::syntax::{self, LazyQuery, text};

pub const ID: &str = "orm-bypass";
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
    fn codes(&self) -> &'static [&'static str] {
        &[ID]
    }

    fn needles(&self) -> Vec<String> {
        let mut needles = self.sessions.clone();
        needles.push(".query.".into());
        needles
    }

    fn check(&self, file: &SourceFile) -> Vec<Diagnostic> {
        if self.sessions.is_empty() {
            return Vec::new();
        }
        let src = file.text.as_slice();
        let mut out = Vec::new();
        syntax::for_each_match(&self.query, file, &["call"], &self.anchors, |m| {
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
