//! Faults a system test injects into a real machined, named in the
//! `MACHINED_FAULTS` environment variable (comma-separated), each firing
//! once per process: a test hook, like etcd's gofail points. Unset, as it
//! is outside tests, nothing here does anything.
//!
//! - `vip-runner-panic`: a VIP runner panics right after winning its
//!   election, before it adds the address (the runner set must start it
//!   again, and the VIP must end up with one holder).

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

fn armed() -> &'static Mutex<HashSet<String>> {
    static ARMED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    ARMED.get_or_init(|| {
        let named = std::env::var("MACHINED_FAULTS").unwrap_or_default();
        Mutex::new(
            named
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        )
    })
}

/// True the first time fault `name` is reached, if the test armed it.
pub fn fires(name: &str) -> bool {
    armed()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(name)
}
