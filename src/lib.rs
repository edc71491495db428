//! connfix: finds and fixes database connection leaks in Python code.
//!
//! Data flows one way: `discover` -> `source` (read, check, parse once) ->
//! `rules` (diagnostics with fixes) -> `edit` (the one engine) -> `fix`
//! (verify: re-parse, fixed point) -> `diff` / `write` / `report`.

use std::sync::OnceLock;

pub mod audit;
pub mod cli;
pub mod command;
pub mod config;
pub mod diff;
pub mod discover;
pub mod edit;
pub mod fix;
pub mod indent;
pub mod interrupt;
pub mod judge;
pub mod literals;
pub mod project;
pub mod report;
pub mod review;
pub mod rules;
pub mod semantic;
pub mod server;
pub mod source;
pub mod syntax;
pub mod templates;
pub mod wrap;
pub mod write;

/// Whether connfix checks itself as it goes, at a cost: the prefilter
/// agrees with running every rule, the queries' anchored matches with a
/// whole-tree run, an incremental re-parse with a fresh one. Always in
/// debug builds (every test); in a release build with
/// `CONNFIX_SELF_CHECK=1`, as the stress run sets it on real code.
pub fn self_check() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        cfg!(debug_assertions) || std::env::var_os("CONNFIX_SELF_CHECK").is_some_and(|v| v == "1")
    })
}
