//! The floors connfix is measured against (`bench/run.sh`): the same walk
//! (`connfix::discover`), the same workers (`connfix::command::in_order`: one
//! file per job, rayon's thread count, so `RAYON_NUM_THREADS` sets it for
//! both) and the same thread-local
//! tree-sitter parser as `connfix`, doing only
//!
//! - `read`: walk and read every file;
//! - `parse`: walk, read and parse every file, dropping each tree at once;
//! - `walk`: also visit every node of each tree once with a tree cursor, the
//!   least a set of rules that looks at every node pays beyond the parse.
//!
//! Prints the file count, bytes and (for `parse`) nodes, so no work is
//! optimised away. Build: `cargo build --release --example floor`.

use std::path::PathBuf;

use connfix::discover::{self, Found};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let paths: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if !matches!(mode.as_str(), "read" | "parse" | "walk") || paths.is_empty() {
        eprintln!("usage: floor read|parse|walk PATH...");
        std::process::exit(2);
    }
    let parse = mode != "read";
    let walk = mode == "walk";
    let exclude = discover::exclusions(&[]).expect("no globs always build");
    let found = discover::files(&paths, &exclude);
    let threads = rayon::current_num_threads();
    let (mut files, mut bytes, mut nodes) = (0, 0, 0);
    let work = |found: &Found| {
        let Found::File(path) = found else {
            return (0, 0, 0);
        };
        let Ok(text) = std::fs::read(path) else {
            return (0, 0, 0);
        };
        let count = match parse.then(|| connfix::source::parse_tree(&text)) {
            Some(tree) if walk => visit_all(&tree),
            Some(tree) => tree.root_node().descendant_count(),
            None => 0,
        };
        (1, text.len(), count)
    };
    connfix::command::in_order(&found, threads, work, |(f, b, n)| {
        (files, bytes, nodes) = (files + f, bytes + b, nodes + n);
        Ok(())
    })
    .expect("counting cannot fail");
    println!("{mode}: {files} files, {bytes} bytes, {nodes} nodes");
}

/// Visit every node of `tree` once, in document order, with one cursor;
/// returns how many there are.
fn visit_all(tree: &tree_sitter::Tree) -> usize {
    let mut cursor = tree.walk();
    let (mut count, mut depth) = (0, 0usize);
    'walk: loop {
        count += 1;
        if cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            if depth == 0 || !cursor.goto_parent() {
                break 'walk;
            }
            depth -= 1;
        }
    }
    count
}
