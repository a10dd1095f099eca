//! `mctl validate -f FILE`: the node's own parser and checks, run locally.

use anyhow::{Context, Result};
use machined_resources::config;
use std::path::Path;

pub fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// Prints warnings and every error; true when the config would be accepted.
pub fn run(file: &Path) -> Result<bool> {
    let text = read(file)?;
    match config::parse(&text) {
        Ok(p) => {
            for w in &p.warnings {
                eprintln!("warning: {w}");
            }
            let locked = config::limits::lockout(&p.config);
            for err in &locked {
                eprintln!("error: {err}");
            }
            if !locked.is_empty() {
                eprintln!(
                    "{}: would lock the node out if applied ({} error(s))",
                    file.display(),
                    locked.len()
                );
                return Ok(false);
            }
            println!("{}: valid", file.display());
            Ok(true)
        }
        Err(e) => {
            for w in &e.warnings {
                eprintln!("warning: {w}");
            }
            for err in &e.errors {
                eprintln!("error: {err}");
            }
            eprintln!("{}: {} error(s)", file.display(), e.errors.len());
            Ok(false)
        }
    }
}
