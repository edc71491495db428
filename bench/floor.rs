//! The floors connfix is measured against (`bench/run.sh`): the same walk
//! (`connfix::discover`), the same workers (`connfix::command::in_order`: one
//! file per job, rayon's thread count, so `RAYON_NUM_THREADS` sets it for
//! both) and the same thread-local
//! tree-sitter parser as `connfix`, doing only
//!
//! - `read`: walk and read every file;
//! - `search`: also decode each (`source::decode`: the byte-order mark, the
//!   UTF-8 check that bad input needs) and search it for the default
//!   configuration's words as connfix's prefilter does
//!   (`Fixer::holds_a_word`): what checking a tree that holds no leak costs
//!   at least;
//! - `parse`: walk, read and parse every file, dropping each tree at once;
//! - `walk`: also visit every node of each tree once with a tree cursor, the
//!   least a set of rules that looks at every node pays beyond the parse;
//! - `source`: parse every file as connfix does (`SourceFile::parse`: the
//!   parse and its checks, style detection and the error check), the
//!   base the model is built on;
//! - `model`: `source`, then build connfix's semantic model (`semantic.rs`)
//!   of every function of each file, as the rules would if every function
//!   held an anchor: what the model costs (beyond `source`), against the
//!   walk;
//! - `verify DIR FIXED`: parse every file of DIR, and where FIXED (the same
//!   tree, holding only the files connfix's fixes change, as fixed) holds it,
//!   parse the fixed text again the way `connfix diff` verifies its output:
//!   `SourceFile::reparse`, incremental, told of the edits. The edits are
//!   the changed line runs of a line diff (`similar`, as `connfix diff`
//!   prints); connfix knows its edits without a diff, so this floor includes
//!   that diff's small cost.
//! - `judged DIR FIXED`: `verify`, then judge each fixed text as CPython
//!   would (`connfix::judge`), as connfix does before it shows or writes a
//!   fix: the least a diff that keeps its promises pays, before any rule.
//!
//! Prints the file count, bytes and (for `parse`) nodes, so no work is
//! optimised away. Build: `cargo build --release --example floor`.

use std::path::{Path, PathBuf};

use connfix::discover::{self, Found};
use connfix::edit::Edit;
use connfix::source::SourceFile;
use similar::{DiffOp, TextDiff};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let mut paths: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let twin = matches!(mode.as_str(), "verify" | "judged");
    let fixed = (twin && paths.len() == 2).then(|| paths.pop().expect("two paths"));
    if !matches!(
        mode.as_str(),
        "read" | "search" | "parse" | "walk" | "source" | "model" | "verify" | "judged"
    ) || paths.is_empty()
        || twin != fixed.is_some()
    {
        eprintln!(
            "usage: floor read|search|parse|walk|source|model PATH... | floor verify|judged DIR FIXED"
        );
        std::process::exit(2);
    }
    if let Some(fixed) = fixed {
        verify(&paths[0], &fixed, mode == "judged");
        return;
    }
    if mode == "search" {
        let rules =
            connfix::rules::build(&Default::default(), &[], &[]).expect("the defaults build");
        let fixer = connfix::fix::Fixer::new(rules, false).expect("the defaults build");
        let [files, bytes, holding] = each_file(&paths, |_, text| {
            let len = text.len();
            let holds = connfix::source::decode(text).is_ok_and(|(_, t)| fixer.holds_a_word(&t));
            [1, len, usize::from(holds)]
        });
        println!("search: {files} files, {bytes} bytes, {holding} holding a word");
        return;
    }
    let parse = mode != "read";
    let walk = mode == "walk";
    if mode == "model" || mode == "source" {
        let model = mode == "model";
        let [files, bytes, names] = each_file(&paths, |path, text| {
            let len = text.len();
            match SourceFile::parse(path, false, text, None, Default::default()) {
                Ok(file) if model => [1, len, model_all(&file)],
                Ok(file) => [1, len, file.tree.root_node().descendant_count()],
                Err(_) => [1, len, 0],
            }
        });
        let what = if model { "bindings and reads" } else { "nodes" };
        println!("{mode}: {files} files, {bytes} bytes, {names} {what}");
        return;
    }
    let [files, bytes, nodes] = each_file(&paths, |_, text| {
        let count = match parse.then(|| connfix::source::parse_tree(&text)) {
            Some(tree) if walk => visit_all(&tree),
            Some(tree) => tree.root_node().descendant_count(),
            None => 0,
        };
        [1, text.len(), count]
    });
    println!("{mode}: {files} files, {bytes} bytes, {nodes} nodes");
}

/// Walk `paths` as connfix does and hand each file's path and bytes to
/// `work` on connfix's workers; returns the sums of what it returns.
fn each_file(paths: &[PathBuf], work: impl Fn(&Path, Vec<u8>) -> [usize; 3] + Sync) -> [usize; 3] {
    let exclude = discover::exclusions(&[]).expect("no globs always build");
    let found = discover::files(paths, &exclude);
    let threads = rayon::current_num_threads();
    let read = |found: &Found| match found {
        Found::File(path) => std::fs::read(path).map_or([0; 3], |text| work(path, text)),
        _ => [0; 3],
    };
    let mut sums = [0; 3];
    connfix::command::in_order(&found, threads, read, |counts| {
        for (sum, count) in sums.iter_mut().zip(counts) {
            *sum += count;
        }
        Ok(())
    })
    .expect("counting cannot fail");
    sums
}

/// `floor verify`: parse each file of `dir`; re-parse those `fixed` holds,
/// as fixed, incrementally (and, `judged`, judge them). Prints the files,
/// the fixed files and the nodes of the fixed trees (the valid ones).
fn verify(dir: &Path, fixed: &Path, judged: bool) {
    let [files, changed, nodes] = each_file(&[dir.to_path_buf()], |path, text| {
        let twin = fixed.join(path.strip_prefix(dir).expect("found under dir"));
        let new = std::fs::read(twin).ok();
        let Ok(file) = SourceFile::parse(path, false, text, None, Default::default()) else {
            return [1, 0, 0];
        };
        let Some(new) = new else {
            return [1, 0, 0];
        };
        let edits = line_edits(&file.text, &new);
        let edits: Vec<&Edit> = edits.iter().collect();
        match file.reparse(new, &edits) {
            Ok(fixed)
                if judged
                    && connfix::judge::judge(&fixed.text, Default::default())
                        != connfix::judge::Verdict::Valid =>
            {
                [1, 1, 0]
            }
            Ok(fixed) => [1, 1, fixed.tree.root_node().descendant_count()],
            Err(_) => [1, 1, 0],
        }
    });
    println!("verify: {files} files, {changed} fixed, {nodes} nodes in the fixed trees");
}

/// The edits that turn `old` into `new`: one for each run of changed lines.
fn line_edits(old: &[u8], new: &[u8]) -> Vec<Edit> {
    let diff = TextDiff::from_lines(old, new);
    let old_lines: Vec<&[u8]> = diff.iter_old_slices().collect();
    let new_lines: Vec<&[u8]> = diff.iter_new_slices().collect();
    let (mut edits, mut at) = (Vec::new(), 0);
    for op in diff.ops() {
        let removed: usize = old_lines[op.old_range()].iter().map(|l| l.len()).sum();
        if !matches!(op, DiffOp::Equal { .. }) {
            edits.push(Edit::replace(
                at..at + removed,
                new_lines[op.new_range()].concat(),
            ));
        }
        at += removed;
    }
    edits
}

/// Build the semantic model of every function of `file` (module- and
/// class-level ones; a nested function's reads are part of its outer
/// function's model); returns how many bindings and reads they hold.
fn model_all(file: &SourceFile) -> usize {
    let semantic = connfix::semantic::Semantic::new(file);
    let mut count = 0;
    let mut blocks = vec![file.tree.root_node()];
    while let Some(block) = blocks.pop() {
        let mut cursor = block.walk();
        for stmt in block.named_children(&mut cursor) {
            let def = match stmt.kind() {
                "decorated_definition" => stmt.child_by_field_name("definition"),
                _ => Some(stmt),
            };
            match def.map(|d| (d.kind(), d)) {
                Some(("function_definition", d)) => {
                    let model = semantic.scope(d);
                    count += model.bindings.len() + model.references.len();
                }
                Some(("class_definition", d)) => blocks.extend(d.child_by_field_name("body")),
                _ => {}
            }
        }
    }
    count
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
