//! Ctrl-C and SIGTERM: a flag the workers look at before each write, so an
//! interrupted `apply` finishes or skips each file whole and removes its
//! temporary files, instead of dying between writing and renaming.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Install the handler. Files already renamed stay fixed; the rest are left
/// untouched, and the run ends with exit code 2.
pub fn install() {
    let _ = ctrlc::set_handler(|| REQUESTED.store(true, Ordering::SeqCst));
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
