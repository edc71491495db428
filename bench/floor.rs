//! The floors connfix is measured against (`bench/run.sh`): the same walk
//! (`connfix::discover`), the same rayon setup (one file per job, the default
//! thread count or `RAYON_NUM_THREADS`) and the same thread-local
//! tree-sitter parser as `connfix`, doing only
//!
//! - `read`: walk and read every file;
//! - `parse`: walk, read and parse every file, dropping each tree at once.
//!
//! Prints the file count, bytes and (for `parse`) nodes, so no work is
//! optimised away. Build: `cargo build --release --example floor`.

use std::path::PathBuf;

use rayon::prelude::*;

use connfix::discover::{self, Found};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let paths: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if !matches!(mode.as_str(), "read" | "parse") || paths.is_empty() {
        eprintln!("usage: floor read|parse PATH...");
        std::process::exit(2);
    }
    let parse = mode == "parse";
    let exclude = discover::exclusions(&[]).expect("no globs always build");
    let found = discover::files(&paths, &exclude);
    let (files, bytes, nodes) = found
        .into_par_iter()
        .with_max_len(1)
        .map(|found| {
            let Found::File(path) = found else {
                return (0, 0, 0);
            };
            let Ok(text) = std::fs::read(&path) else {
                return (0, 0, 0);
            };
            let nodes = if parse {
                connfix::source::parse_tree(&text)
                    .root_node()
                    .descendant_count()
            } else {
                0
            };
            (1, text.len(), nodes)
        })
        .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    println!("{mode}: {files} files, {bytes} bytes, {nodes} nodes");
}
