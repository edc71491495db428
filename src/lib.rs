//! connfix: finds and fixes database connection leaks in Python code.
//!
//! Data flows one way: `discover` -> `source` (read, check, parse once) ->
//! `rules` (diagnostics with fixes) -> `edit` (the one engine) -> `fix`
//! (verify: re-parse, fixed point) -> `diff` / `write` / `report`.

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
pub mod report;
pub mod review;
pub mod rules;
pub mod source;
pub mod syntax;
pub mod wrap;
pub mod write;
