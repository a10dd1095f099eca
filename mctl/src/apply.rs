//! `mctl apply-config -f FILE [-p PATCH]... [--mode M] [--dry-run]`.

use crate::output;
use crate::session::Session;
use anyhow::Result;
use machined_proto as pb;
use std::path::{Path, PathBuf};

/// `mctl apply-config`.
#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    /// The machine config to apply.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Patches to apply to the file first (`@FILE` or inline YAML), in order.
    #[arg(short = 'p', long = "config-patch")]
    patches: Vec<String>,
    /// Validate on the node and print the change (a diff); change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    mode: ModeArgs,
}

/// How a config is applied (apply-config, edit).
#[derive(clap::Args, Debug)]
pub struct ModeArgs {
    /// auto | no-reboot (at once), staged (on the next start), try (for
    /// --timeout, then rolled back unless applied again).
    #[arg(long, default_value = "auto", value_parser = ["auto", "no-reboot", "staged", "try"])]
    mode: String,
    /// How long a `--mode try` config stays, e.g. 90s or 2m.
    #[arg(long, default_value = "1m", value_parser = parse_timeout)]
    timeout: u32,
}

impl ModeArgs {
    pub fn how(&self, dry_run: bool) -> How {
        How {
            dry_run,
            mode: mode(&self.mode),
            timeout_secs: self.timeout,
        }
    }
}

impl ApplyArgs {
    pub async fn run(self, s: &Session) -> Result<bool> {
        run(s, &self.file, &self.patches, &self.mode.how(self.dry_run)).await
    }
}

/// How to apply.
pub struct How {
    pub dry_run: bool,
    pub mode: pb::ApplyMode,
    pub timeout_secs: u32,
}

pub fn mode(s: &str) -> pb::ApplyMode {
    match s {
        "no-reboot" => pb::ApplyMode::NoReboot,
        "staged" => pb::ApplyMode::Staged,
        "try" => pb::ApplyMode::Try,
        _ => pb::ApplyMode::Auto,
    }
}

/// A timeout in Go's syntax, 1s to 24h, in whole seconds.
pub fn parse_timeout(s: &str) -> Result<u32, String> {
    let d = crate::vip::parse_duration(s)?;
    u32::try_from(d.as_secs())
        .ok()
        .filter(|t| (1..=24 * 3600).contains(t))
        .ok_or_else(|| format!("{s:?}: must be 1s to 24h"))
}

pub async fn run(s: &Session, file: &Path, patches: &[String], how: &How) -> Result<bool> {
    let mut text = crate::validate::read(file)?;
    if !patches.is_empty() {
        let loaded = crate::patch::load(patches)?;
        text = crate::patch::apply_checked(&text, &loaded, &file.display().to_string())?;
    }
    Ok(send(s, text, how).await)
}

/// Sends `text` to every target node and reports each answer.
pub async fn send(s: &Session, text: String, how: &How) -> bool {
    let call = |node: String| {
        let data = text.clone().into_bytes();
        async move {
            let r = s
                .machine(&node)
                .await?
                .apply_configuration(pb::ApplyConfigurationRequest {
                    data,
                    dry_run: how.dry_run,
                    mode: how.mode.into(),
                    try_timeout_secs: how.timeout_secs,
                })
                .await
                .map_err(output::status)?;
            Ok(r.into_inner())
        }
    };
    let show = |node: &str, r: pb::ApplyConfigurationResponse| {
        for w in &r.warnings {
            eprintln!("{node}: warning: {w}");
        }
        if how.dry_run {
            if r.diff.is_empty() {
                println!("{node}: config is valid, no change (dry run)");
            } else {
                println!("{node}: config is valid; it would change (dry run, nothing applied):");
                print!("{}", r.diff);
            }
            return;
        }
        let what = match how.mode {
            _ if r.unchanged && how.mode != pb::ApplyMode::Staged => "config unchanged".to_string(),
            pb::ApplyMode::Staged => "config staged: it takes effect on the next start".into(),
            pb::ApplyMode::Try => format!(
                "config applied for {}s; it rolls back then unless applied again (without --mode try)",
                how.timeout_secs
            ),
            _ => "config applied (live)".into(),
        };
        println!("{node}: {what}");
    };
    s.each(call, show).await
}
