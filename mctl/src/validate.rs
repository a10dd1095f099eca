//! `mctl validate -f FILE [--strict]`: the node's own parser and checks,
//! run locally; `--strict` counts warnings as errors.

use anyhow::{Context, Result};
use machined_resources::config;
use std::path::Path;

/// `mctl validate -f FILE`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// The machine config (one or several YAML documents).
    #[arg(short = 'f', long = "file", short_alias = 'c', alias = "config")]
    file: std::path::PathBuf,
    /// Treat every warning as an error, the summary of Talos settings
    /// machined does not act on included.
    #[arg(long)]
    strict: bool,
}

impl ValidateArgs {
    pub fn run(self) -> Result<bool> {
        run(&self.file, self.strict)
    }
}

pub fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// Prints warnings and every error; true when the config would be accepted
/// (and, with `strict`, drew no warning).
pub fn run(file: &Path, strict: bool) -> Result<bool> {
    let text = read(file)?;
    let label = if strict { "error (strict)" } else { "warning" };
    match config::parse(&text) {
        Ok(p) => {
            for w in &p.warnings {
                eprintln!("{label}: {w}");
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
            if strict && !p.warnings.is_empty() {
                eprintln!(
                    "{}: {} warning(s), which --strict counts as errors",
                    file.display(),
                    p.warnings.len()
                );
                return Ok(false);
            }
            println!("{}: valid", file.display());
            Ok(true)
        }
        Err(e) => {
            for w in &e.warnings {
                eprintln!("{label}: {w}");
            }
            for err in &e.errors {
                eprintln!("error: {err}");
            }
            eprintln!("{}: {} error(s)", file.display(), e.errors.len());
            Ok(false)
        }
    }
}
