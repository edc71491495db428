//! Which files a run looks at. Folders are walked for `*.py`, skipping
//! hidden folders, virtual environments and what `.gitignore` ignores, and
//! never following symbolic links; a file named on the command line is
//! always processed.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::WalkBuilder;

/// Folders never walked into: tool caches, build output, environments.
const SKIPPED_FOLDERS: &[&str] = &[
    "__pycache__",
    "__pypackages__",
    "_build",
    "build",
    "buck-out",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
];

/// A path to process, or a problem met while walking.
pub enum Found {
    File(PathBuf),
    Error(PathBuf, String),
}

pub fn exclusions(globs: &[String]) -> anyhow::Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        // A bare name or folder matches at any depth, as in ruff and ripgrep.
        let pattern = if glob.contains('/') {
            glob.clone()
        } else {
            format!("**/{glob}")
        };
        set.add(Glob::new(&pattern).map_err(|e| anyhow::anyhow!("--exclude `{glob}`: {e}"))?);
        set.add(
            Glob::new(&format!("{}/**", pattern.trim_end_matches('/')))
                .map_err(|e| anyhow::anyhow!("--exclude `{glob}`: {e}"))?,
        );
    }
    Ok(set.build()?)
}

/// The files under `paths`, in a stable order.
pub fn files(paths: &[PathBuf], exclude: &GlobSet) -> Vec<Found> {
    let mut out = Vec::new();
    for root in paths {
        let metadata = match std::fs::symlink_metadata(root) {
            Ok(m) => m,
            Err(e) => {
                out.push(Found::Error(
                    root.clone(),
                    format!("cannot read this path: {}", describe(&e)),
                ));
                continue;
            }
        };
        if !metadata.is_dir() {
            // Named on the command line: processed whatever its name.
            out.push(Found::File(root.clone()));
            continue;
        }
        let exclude = exclude.clone();
        let walker = WalkBuilder::new(root)
            .follow_links(false)
            .require_git(false)
            .sort_by_file_path(|a, b| a.cmp(b))
            .filter_entry(move |entry| {
                let path = entry.path();
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                let name = entry.file_name().to_string_lossy();
                let skipped = is_dir
                    && entry.depth() > 0
                    && (SKIPPED_FOLDERS.contains(&name.as_ref())
                        || path.join("pyvenv.cfg").is_file());
                !skipped && !exclude.is_match(strip_dot(path))
            })
            .build();
        for entry in walker {
            match entry {
                Ok(entry) => {
                    let is_file = entry.file_type().is_some_and(|t| t.is_file());
                    if is_file
                        && entry
                            .path()
                            .extension()
                            .is_some_and(|e| e == "py" || e == "pyi")
                    {
                        out.push(Found::File(strip_dot(entry.path()).to_path_buf()));
                    }
                }
                Err(error) => {
                    let path = error_path(&error).unwrap_or_else(|| root.clone());
                    out.push(Found::Error(
                        path,
                        format!("cannot walk this path: {}", walk_error(&error)),
                    ));
                }
            }
        }
    }
    out
}

fn strip_dot(path: &Path) -> &Path {
    path.strip_prefix("./").unwrap_or(path)
}

fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

fn walk_error(error: &ignore::Error) -> String {
    match error {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => walk_error(err),
        ignore::Error::Io(e) => describe(e),
        other => other.to_string(),
    }
}

/// An I/O error in words, without Rust's `(os error N)` suffix.
pub fn describe(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = error.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_string()
        }
    }
}
