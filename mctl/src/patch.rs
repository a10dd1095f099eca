//! Config patches from the command line: `-p @file` or `-p 'inline YAML'`,
//! applied offline (`machineconfig patch`, `gen config --config-patch*`,
//! `apply-config -p`) or to a node's live config (`patch machineconfig`).

use crate::output;
use crate::session::Session;
use anyhow::{anyhow, bail, Context, Result};
use machined_proto as pb;
use machined_resources::config::{self, patch};
use machined_resources::types::MachineConfigSpec;
use machined_resources::ResourceSpec;
use std::path::{Path, PathBuf};

/// Loads each `-p` argument: `@FILE` reads the file; an argument that
/// names an existing file is read as that file too (as talosctl does);
/// anything else is the patch itself.
pub fn load(args: &[String]) -> Result<Vec<patch::Patch>> {
    args.iter()
        .map(|a| {
            let file = a
                .strip_prefix('@')
                .or_else(|| Path::new(a).is_file().then_some(a.as_str()));
            let text = match file {
                Some(file) => std::fs::read_to_string(file)
                    .with_context(|| format!("reading patch {file}"))?,
                None => a.clone(),
            };
            patch::load(&text).with_context(|| format!("patch {a:?}"))
        })
        .collect()
}

/// Applies `patches` and checks that the result is a config a node takes.
pub fn apply_checked(text: &str, patches: &[patch::Patch], what: &str) -> Result<String> {
    let out = patch::apply(text, patches).with_context(|| format!("patching {what}"))?;
    if let Err(e) = config::parse(&out) {
        bail!("{what} after patching is not a valid config:\n{e}");
    }
    Ok(out)
}

/// `mctl machineconfig patch FILE -p PATCH... [-o OUT]`.
pub fn offline(file: &Path, patches: &[String], out: Option<&PathBuf>) -> Result<bool> {
    let text = crate::validate::read(file)?;
    let patched = apply_checked(&text, &load(patches)?, &file.display().to_string())?;
    match out {
        Some(p) => {
            machined_pki::write_private(p, patched.as_bytes())
                .with_context(|| format!("writing {}", p.display()))?;
            eprintln!("wrote {}", p.display());
        }
        None => print!("{patched}"),
    }
    Ok(true)
}

/// The config `node` runs, as it was applied (admin only).
pub async fn applied(s: &Session, node: &str) -> Result<String> {
    let r = s
        .resources(node)
        .await?
        .get(pb::GetRequest {
            r#type: MachineConfigSpec::TYPE.into(),
            id: MachineConfigSpec::ID.into(),
            namespace: String::new(),
        })
        .await
        .map_err(output::status)?
        .into_inner();
    let spec: serde_json::Value = r
        .resource
        .map(|r| serde_json::from_str(&r.spec_json))
        .transpose()?
        .ok_or_else(|| anyhow!("the node sent no config"))?;
    spec["raw"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the node's config has no raw text"))
}

/// `mctl patch machineconfig -p PATCH... [--dry-run]`: each node's applied
/// config, patched, applied back.
pub async fn live(s: &Session, patches: &[String], dry_run: bool) -> Result<bool> {
    let patches = load(patches)?;
    let call = |node: String| {
        let patches = &patches;
        async move {
            let raw = applied(s, &node).await?;
            let patched = apply_checked(&raw, patches, "the node's config")?;
            let a = s
                .machine(&node)
                .await?
                .apply_configuration(pb::ApplyConfigurationRequest {
                    data: patched.into_bytes(),
                    dry_run,
                    mode: pb::ApplyMode::Auto.into(),
                    try_timeout_secs: 0,
                })
                .await
                .map_err(output::status)?;
            Ok(a.into_inner())
        }
    };
    let show = |node: &str, r: pb::ApplyConfigurationResponse| {
        for w in &r.warnings {
            eprintln!("{node}: warning: {w}");
        }
        if dry_run {
            println!("{node}: patched config is valid (dry run, nothing applied):");
            print!("{}", r.diff);
        } else if r.unchanged {
            println!("{node}: patch changed nothing");
        } else {
            println!("{node}: patched config applied (live)");
        }
    };
    Ok(s.each(call, show).await)
}
