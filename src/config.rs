//! Configuration: `[tool.connfix]` in the nearest `pyproject.toml`, or a
//! `connfix.toml`, or the file given with `--config`. Unknown keys and wrong
//! types are errors that name the file and the key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// What the rules look for and what the fixes write.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Functions that hand out a pooled connection (`get_db_connection`).
    pub helpers: Vec<String>,
    /// The module that holds the acquire and release functions.
    pub tracker_module: String,
    pub acquire: String,
    pub release: String,
    /// Calls that create an engine to be disposed (`create_engine`).
    pub engine_factories: Vec<String>,
    pub dispose_method: String,
    /// Calls that only borrow an engine handed to them (it does not outlive
    /// the call): an engine handed to any other call is not disposed by a
    /// safe fix.
    pub borrowing_calls: Vec<String>,
    /// Glob patterns of paths not to walk into.
    pub exclude: Vec<String>,
    /// Files larger than this many KiB are reported and skipped.
    pub max_file_kib: u64,
    /// DB-API `connect` functions whose connections' `with` block ends the
    /// transaction without closing.
    pub dbapi_connects: Vec<String>,
    /// Driver calls whose connections take no attributes (C types), so the
    /// audit's `conn._tracking_context = ...` would fail on them.
    pub raw_connections: Vec<String>,
    /// ORM sessions whose use bypasses connection tracking (`db.session`).
    pub orm_sessions: Vec<String>,
    /// Context managers that acquire, track and release correctly.
    pub safe_contexts: Vec<String>,
    /// The Python version the judge holds code to (`py38` ... `py314`, the
    /// newest by default); also spelled `target-version`, as in ruff.
    #[serde(alias = "target-version")]
    pub target_version: crate::judge::TargetVersion,
    /// Where a helper keeps a connection's tracking: `auto` (on the
    /// connection, as the audit does, unless it comes from one of
    /// `raw_connections`, which take no attributes: then in the tracker's
    /// registry, keyed by the connection), `attribute` or `registry`.
    pub tracking: Tracking,
}

/// Where the tracking of a connection is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tracking {
    #[default]
    Auto,
    Attribute,
    Registry,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            helpers: vec!["get_db_connection".into()],
            tracker_module: "src.utils.connection_tracker".into(),
            acquire: "track_connection_acquired".into(),
            release: "track_connection_released".into(),
            engine_factories: vec!["create_engine".into(), "create_async_engine".into()],
            dispose_method: "dispose".into(),
            borrowing_calls: [
                "read_sql",
                "read_sql_query",
                "read_sql_table",
                "to_sql",
                "create_all",
                "drop_all",
                "reflect",
            ]
            .map(String::from)
            .to_vec(),
            exclude: Vec::new(),
            max_file_kib: 8192,
            dbapi_connects: [
                "sqlite3.connect",
                "psycopg2.connect",
                "pymysql.connect",
                "MySQLdb.connect",
                "mysql.connector.connect",
            ]
            .map(String::from)
            .to_vec(),
            raw_connections: [
                "sqlite3.connect",
                "psycopg2.connect",
                "getconn",
                "asyncpg.connect",
                "pyodbc.connect",
                "cx_Oracle.connect",
                "oracledb.connect",
            ]
            .map(String::from)
            .to_vec(),
            orm_sessions: vec!["db.session".into()],
            safe_contexts: vec!["connection_ctx".into()],
            target_version: crate::judge::TargetVersion::default(),
            tracking: Tracking::Auto,
        }
    }
}

#[derive(Deserialize)]
struct PyProject {
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Tool {
    connfix: Option<toml::Value>,
}

impl Config {
    /// The configuration for a run from `dir`: `explicit` if given, else the
    /// nearest `connfix.toml` or `pyproject.toml` with a `[tool.connfix]`
    /// table in `dir` or above it, else the defaults. Returns where it came
    /// from too.
    pub fn discover(dir: &Path, explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
        if let Some(path) = explicit {
            return Ok((Config::load(path)?, Some(path.to_path_buf())));
        }
        for folder in dir.ancestors() {
            let own = folder.join("connfix.toml");
            if own.is_file() {
                return Ok((Config::load(&own)?, Some(own)));
            }
            let pyproject = folder.join("pyproject.toml");
            if pyproject.is_file() && Config::table_of(&pyproject)?.is_some() {
                return Ok((Config::load(&pyproject)?, Some(pyproject)));
            }
        }
        Ok((Config::default(), None))
    }

    /// The nearest configuration file in `dir` or above it: a
    /// `connfix.toml`, or a `pyproject.toml` with a `[tool.connfix]` table.
    pub fn nearest(dir: &Path) -> Result<Option<PathBuf>> {
        for folder in dir.ancestors() {
            if let Some(found) = Config::in_folder(folder)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The configuration file of `folder` itself, if it has one.
    pub fn in_folder(folder: &Path) -> Result<Option<PathBuf>> {
        let own = folder.join("connfix.toml");
        if own.is_file() {
            return Ok(Some(own));
        }
        let pyproject = folder.join("pyproject.toml");
        if pyproject.is_file() && Config::table_of(&pyproject)?.is_some() {
            return Ok(Some(pyproject));
        }
        Ok(None)
    }

    /// Read a `connfix.toml` (top-level keys) or a `pyproject.toml`
    /// (`[tool.connfix]`).
    pub fn load(path: &Path) -> Result<Config> {
        let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
        let table = if is_pyproject {
            Config::table_of(path)?.unwrap_or_else(|| toml::Value::Table(Default::default()))
        } else {
            let text = read(path)?;
            toml::from_str::<toml::Value>(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?
        };
        let where_ = if is_pyproject {
            "[tool.connfix]"
        } else {
            "the top level"
        };
        let config = Config::deserialize(table)
            .map_err(|e| anyhow::anyhow!("{}: {} (in {where_})", path.display(), e.message()))?;
        config
            .validate()
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
        Ok(config)
    }

    fn table_of(pyproject: &Path) -> Result<Option<toml::Value>> {
        let text = read(pyproject)?;
        // Most projects' pyproject.toml has no `[tool.connfix]`, and its
        // text then does not hold the word: no need to parse it (60,000
        // instructions, twice in a run on one file). A key spelled with escapes
        // (`"conn\u0066ix"`) is parsed, and read as TOML reads it.
        if !text.contains("connfix") && !text.contains("\\u") && !text.contains("\\U") {
            return Ok(None);
        }
        let parsed: PyProject = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", pyproject.display(), e.message()))?;
        Ok(parsed.tool.and_then(|t| t.connfix))
    }

    fn validate(&self) -> Result<()> {
        // Every name list: some become quoted strings in the rules' queries.
        let names = self
            .helpers
            .iter()
            .chain(&self.engine_factories)
            .chain(&self.borrowing_calls)
            .chain(&self.dbapi_connects)
            .chain(&self.raw_connections)
            .chain(&self.orm_sessions)
            .chain(&self.safe_contexts)
            .chain([&self.acquire, &self.release, &self.dispose_method]);
        for name in names {
            let ok = !name.is_empty() && name.split('.').all(is_identifier);
            if !ok {
                bail!("`{name}` is not a Python name (dotted names are allowed in the name lists)");
            }
        }
        for name in [&self.acquire, &self.release, &self.dispose_method] {
            if name.contains('.') {
                bail!("`{name}` must be a plain name, without dots");
            }
        }
        // Every name becomes code in the inserted lines (`from <module>
        // import <acquire>`): each must be a Python identifier and no
        // keyword, or the fixed file would not parse, or worse, parse as
        // something else.
        let module_ok = self
            .tracker_module
            .split('.')
            .all(|part| is_identifier(part) && !KEYWORDS.contains(&part));
        if !module_ok {
            bail!(
                "`tracker_module` = `{}` is not a dotted module path such as `src.utils.connection_tracker`",
                self.tracker_module
            );
        }
        for name in [&self.acquire, &self.release, &self.dispose_method] {
            if KEYWORDS.contains(&name.as_str()) {
                bail!("`{name}` is a Python keyword, not a name");
            }
        }
        Ok(())
    }
}

/// Python's keywords: never a module, function or method name.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// A Python identifier (ASCII letters, digits and `_`, or any alphabetic
/// character, not starting with a digit).
fn is_identifier(part: &str) -> bool {
    part.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && part.chars().all(|c| c.is_alphanumeric() || c == '_')
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the configuration file", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, text: &str) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        Config::load(&path).map_err(|e| {
            anyhow::anyhow!(
                "{}",
                format!("{e:#}").replace(&dir.path().display().to_string(), "DIR")
            )
        })
    }

    #[test]
    fn pyproject_table_overrides_defaults() {
        let config = load(
            "pyproject.toml",
            "[tool.connfix]\nhelpers = [\"get_conn\"]\ndispose_method = \"close\"\n",
        )
        .unwrap();
        assert_eq!(config.helpers, vec!["get_conn"]);
        assert_eq!(config.dispose_method, "close");
        assert_eq!(config.acquire, "track_connection_acquired");
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let error = load("connfix.toml", "helper = [\"x\"]\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "DIR/connfix.toml: unknown field `helper`, expected one of `helpers`, `tracker_module`, `acquire`, `release`, `engine_factories`, `dispose_method`, `borrowing_calls`, `exclude`, `max_file_kib`, `dbapi_connects`, `raw_connections`, `orm_sessions`, `safe_contexts`, `target-version`, `target_version`, `tracking` (in the top level)"
        );
    }

    #[test]
    fn target_version_takes_ruffs_names_and_spelling() {
        use crate::judge::TargetVersion;
        assert_eq!(Config::default().target_version, TargetVersion::Py314);
        let config = load("connfix.toml", "target_version = \"py38\"\n").unwrap();
        assert_eq!(config.target_version, TargetVersion::Py38);
        let config = load(
            "pyproject.toml",
            "[tool.connfix]\ntarget-version = \"py312\"\n",
        )
        .unwrap();
        assert_eq!(config.target_version, TargetVersion::Py312);
        let error = load("connfix.toml", "target_version = \"py27\"\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "DIR/connfix.toml: unknown variant `py27`, expected one of `py38`, `py39`, `py310`, `py311`, `py312`, `py313`, `py314` (in the top level)"
        );
    }

    #[test]
    fn wrong_type_names_file_and_key() {
        let error = load("pyproject.toml", "[tool.connfix]\nhelpers = \"get_conn\"\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "DIR/pyproject.toml: invalid type: string \"get_conn\", expected a sequence (in [tool.connfix])"
        );
    }

    #[test]
    fn a_non_name_is_rejected() {
        let error = load("connfix.toml", "acquire = \"track-it\"\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "DIR/connfix.toml: invalid configuration: `track-it` is not a Python name (dotted names are allowed in the name lists)"
        );
        let error = load(
            "connfix.toml",
            "tracker_module = \"os;import subprocess\"\n",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "DIR/connfix.toml: invalid configuration: `tracker_module` = `os;import subprocess` is not a dotted module path such as `src.utils.connection_tracker`"
        );
        let error = load("connfix.toml", "tracker_module = \"src.class.tracker\"\n").unwrap_err();
        assert!(error.to_string().ends_with(
            "`src.class.tracker` is not a dotted module path such as `src.utils.connection_tracker`"
        ));
        // A session name becomes a quoted string in a query.
        let error = load("connfix.toml", "orm_sessions = [\"db.\\\"session\"]\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "DIR/connfix.toml: invalid configuration: `db.\"session` is not a Python name (dotted names are allowed in the name lists)"
        );
    }
}
