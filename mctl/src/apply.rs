//! `mctl apply-config -f FILE [-p PATCH]... [--mode M] [--dry-run]`.

use crate::output;
use crate::session::Session;
use anyhow::Result;
use machined_proto as pb;
use std::path::Path;

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
