//! `mctl apply-config -f FILE [--dry-run]`.

use crate::output;
use crate::session::Session;
use anyhow::Result;
use machined_proto as pb;
use std::path::Path;

pub async fn run(s: &Session, file: &Path, patches: &[String], dry_run: bool) -> Result<bool> {
    let mut text = crate::validate::read(file)?;
    if !patches.is_empty() {
        let loaded = crate::patch::load(patches)?;
        text = crate::patch::apply_checked(&text, &loaded, &file.display().to_string())?;
    }
    let data = text.into_bytes();
    let call = |node: String| {
        let data = data.clone();
        async move {
            let r = s
                .machine(&node)
                .await?
                .apply_configuration(pb::ApplyConfigurationRequest { data, dry_run })
                .await
                .map_err(output::status)?;
            Ok(r.into_inner())
        }
    };
    let show = |node: &str, r: pb::ApplyConfigurationResponse| {
        for w in &r.warnings {
            eprintln!("{node}: warning: {w}");
        }
        let what = if dry_run {
            "config is valid (dry run, nothing applied)"
        } else if r.unchanged {
            "config unchanged"
        } else if r.applied_live {
            "config applied (live)"
        } else {
            "config applied (takes effect on restart)"
        };
        println!("{node}: {what}");
    };
    Ok(s.each(call, show).await)
}
