//! Config patches from the command line: `-p @file` or `-p 'inline YAML'`,
//! applied offline (`machineconfig patch`, `gen config --config-patch*`,
//! `apply-config -p`) or to a node's live config (`patch machineconfig`).

use crate::output;
use crate::session::Session;
use anyhow::{anyhow, bail, Context, Result};
use machined_proto as pb;
use machined_resources::config::{self, patch};
use std::path::{Path, PathBuf};

/// Loads each `-p` argument: `@FILE` reads the file, anything else is the
/// patch itself.
pub fn load(args: &[String]) -> Result<Vec<patch::Patch>> {
    args.iter()
        .map(|a| {
            let text = match a.strip_prefix('@') {
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

/// `mctl patch machineconfig -p PATCH... [--dry-run]`: each node's applied
/// config, patched, applied back.
pub async fn live(s: &Session, patches: &[String], dry_run: bool) -> Result<bool> {
    let patches = load(patches)?;
    let call = |node: String| {
        let patches = &patches;
        async move {
            let r = s
                .resources(&node)
                .await?
                .get(pb::GetRequest {
                    r#type: "MachineConfig".into(),
                    id: "v1alpha1".into(),
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
            let raw = spec["raw"]
                .as_str()
                .ok_or_else(|| anyhow!("the node's config has no raw text"))?;
            let patched = apply_checked(raw, patches, "the node's config")?;
            let a = s
                .machine(&node)
                .await?
                .apply_configuration(pb::ApplyConfigurationRequest {
                    data: patched.into_bytes(),
                    dry_run,
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
        let what = if dry_run {
            "patched config is valid (dry run, nothing applied)"
        } else if r.unchanged {
            "patch changed nothing"
        } else {
            "patched config applied (live)"
        };
        println!("{node}: {what}");
    };
    Ok(s.each(call, show).await)
}
