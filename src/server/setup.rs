//! The configuration that applies to each file, as the command line finds
//! it (`Config::discover` from the file's folder), and the rules built from
//! it. Kept per folder and checked before each analysis against the
//! modification times of every `connfix.toml` and `pyproject.toml` that
//! discovery could read: editing, adding or removing one takes effect at the
//! next analysis, without a restart, and an unchanged one costs a few
//! `stat`s rather than a read, a TOML parse and compiling the rules' queries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::SystemTime;

use lsp_types::Uri;

use crate::config::Config;
use crate::fix::Fixer;

/// The folders' configurations, and one `Fixer` per distinct configuration.
#[derive(Default)]
pub struct Setups {
    folders: HashMap<PathBuf, Setup>,
    fixers: Vec<(Config, bool, Rc<Fixer>)>,
}

struct Setup {
    stamp: Vec<Option<(SystemTime, u64)>>,
    fixer: Result<Rc<Fixer>, String>,
}

impl Setups {
    /// The fixer for a file at `path`, or why the configuration that applies
    /// to it is wrong.
    pub fn fixer(&mut self, path: &Path, unsafe_fixes: bool) -> Result<Rc<Fixer>, String> {
        let folder = match path.parent() {
            Some(p) if p.is_absolute() => p.to_path_buf(),
            _ => std::env::current_dir().unwrap_or_default(),
        };
        let stamp = stamp(&folder);
        if let Some(setup) = self.folders.get(&folder)
            && setup.stamp == stamp
        {
            return setup.fixer.clone();
        }
        let fixer = self.build(&folder, unsafe_fixes);
        self.folders.insert(
            folder,
            Setup {
                stamp,
                fixer: fixer.clone(),
            },
        );
        fixer
    }

    fn build(&mut self, folder: &Path, unsafe_fixes: bool) -> Result<Rc<Fixer>, String> {
        let (config, _) = Config::discover(folder, None).map_err(|e| format!("{e:#}"))?;
        if let Some((_, _, fixer)) = self
            .fixers
            .iter()
            .find(|(c, u, _)| *c == config && *u == unsafe_fixes)
        {
            return Ok(fixer.clone());
        }
        let rules = crate::rules::build(&config, &[], &[]).map_err(|e| format!("{e:#}"))?;
        let fixer = Rc::new(Fixer::new(rules, unsafe_fixes).map_err(|e| format!("{e:#}"))?);
        self.fixers.push((config, unsafe_fixes, fixer.clone()));
        Ok(fixer)
    }

    /// Look at every configuration file again at the next analysis.
    pub fn forget(&mut self) {
        self.folders.clear();
    }
}

/// The modification times and sizes (`None`: no such file) of the files
/// discovery reads from `folder` upwards. The size catches most rewrites
/// within a file system's time granularity.
fn stamp(folder: &Path) -> Vec<Option<(SystemTime, u64)>> {
    folder
        .ancestors()
        .flat_map(|f| ["connfix.toml", "pyproject.toml"].map(|n| f.join(n)))
        .map(|p| {
            let meta = std::fs::metadata(p).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// The path of a document: a `file:` URI's path, percent-decoded; for other
/// schemes (an unsaved buffer) the last segment, taken as relative to the
/// server's folder.
pub fn path_of(uri: &Uri) -> PathBuf {
    let raw = uri.path().as_estr().decode().into_string_lossy();
    let is_file = uri.scheme().is_some_and(|s| s.as_str() == "file");
    if is_file {
        // `file:///C:/x.py` on Windows: no leading slash before the drive.
        let bytes = raw.as_bytes();
        if bytes.len() > 2 && bytes[0] == b'/' && bytes[2] == b':' {
            return PathBuf::from(&raw[1..]);
        }
        return PathBuf::from(raw.as_ref());
    }
    PathBuf::from(raw.rsplit('/').next().unwrap_or("untitled.py"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_are_decoded_into_paths() {
        let uri: Uri = "file:///tmp/my%20app/h%C3%A9.py".parse().unwrap();
        assert_eq!(path_of(&uri), PathBuf::from("/tmp/my app/h\u{e9}.py"));
        let uri: Uri = "untitled:Untitled-1".parse().unwrap();
        assert_eq!(path_of(&uri), PathBuf::from("Untitled-1"));
    }

    #[test]
    fn a_new_configuration_file_is_seen_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        let mut setups = Setups::default();
        let first = setups.fixer(&file, false).unwrap();
        assert!(Rc::ptr_eq(&first, &setups.fixer(&file, false).unwrap()));
        std::fs::write(
            dir.path().join("connfix.toml"),
            "helpers = [\"get_conn\"]\n",
        )
        .unwrap();
        let second = setups.fixer(&file, false).unwrap();
        assert!(!Rc::ptr_eq(&first, &second));
        // Another size: seen even within the file system's time granularity.
        std::fs::write(dir.path().join("connfix.toml"), "helper = 1\n").unwrap();
        let Err(error) = setups.fixer(&file, false) else {
            panic!("an unknown key must be an error")
        };
        assert!(error.contains("unknown field `helper`"), "{error}");
    }
}
