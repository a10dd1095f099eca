//! `mctl completion bash|zsh|fish` (clap_complete) and the hidden
//! `mctl man DIR` the packaging runs (clap_mangen): one page for mctl and
//! one per command (`mctl-get.1`, `mctl-etcd-members.1`, ...).

use anyhow::{Context, Result};
use clap::CommandFactory;
use std::path::Path;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// `mctl completion SHELL`.
#[derive(clap::Args, Debug)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `mctl man DIR`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Where to write them.
    pub dir: std::path::PathBuf,
}

/// Prints the completion script for `shell`.
pub fn completion<C: CommandFactory>(shell: Shell) -> Result<bool> {
    let mut cmd = C::command();
    let out = &mut std::io::stdout();
    match shell {
        Shell::Bash => clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "mctl", out),
        Shell::Zsh => clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "mctl", out),
        Shell::Fish => clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "mctl", out),
    }
    Ok(true)
}

/// Writes the man pages into `dir`.
pub fn man<C: CommandFactory>(dir: &Path) -> Result<bool> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = C::command();
    cmd.build();
    let mut n = 0;
    write_pages(&cmd, "mctl", dir, &mut n)?;
    eprintln!("wrote {n} man pages to {}", dir.display());
    Ok(true)
}

fn write_pages(cmd: &clap::Command, name: &str, dir: &Path, n: &mut usize) -> Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let page = cmd.clone().name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf)?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, buf).with_context(|| format!("writing {}", file.display()))?;
    *n += 1;
    for sub in cmd.get_subcommands() {
        if sub.get_name() != "help" {
            write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, n)?;
        }
    }
    Ok(())
}
