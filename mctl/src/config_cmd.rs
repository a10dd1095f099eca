//! `mctl config context|info|new|merge`.

use crate::mctlconfig::{self, Context, MctlConfig};
use crate::output;
use crate::session::Target;
use anyhow::{anyhow, bail, Result};
use machined_pki::b64;
use machined_proto as pb;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCmd {
    /// Make NAME the current context.
    Context { name: String },
    /// Show the current context: endpoints, nodes, roles, expiry.
    Info,
    /// Ask a node to issue a client certificate for ROLES and write a new
    /// mctlconfig to FILE (admin only).
    New {
        file: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "os:admin")]
        roles: Vec<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Add the contexts of FILE to the client config.
    Merge { file: PathBuf },
}

pub async fn run(t: &Target, c: ConfigCmd) -> Result<bool> {
    let path = mctlconfig::path(&t.mctlconfig);
    let mut cfg = MctlConfig::load(&path)?;
    match c {
        ConfigCmd::Context { name } => {
            if !cfg.contexts.contains_key(&name) {
                bail!("context {name:?} not found in {}", path.display());
            }
            cfg.context = name.clone();
            cfg.save(&path)?;
            println!("current context: {name}");
        }
        ConfigCmd::Info => {
            let (name, ctx) = cfg
                .current(&t.context)?
                .ok_or_else(|| anyhow!("no current context in {}", path.display()))?;
            let crt = machined_pki::unb64(&ctx.crt)?;
            let der = machined_pki::pem_to_der(&crt)?;
            let roles = machined_pki::roles(&der)?;
            let expiry = machined_pki::not_after(&crt)?;
            println!("Current context:     {name}");
            println!("Nodes:               {}", ctx.nodes.join(", "));
            println!("Endpoints:           {}", ctx.endpoints.join(", "));
            println!("Roles:               {}", roles.join(", "));
            println!(
                "Certificate expires: {}",
                machined_resources::resource::rfc3339::format(expiry)
            );
            if let Some(ns) = &ctx.netns {
                println!("Network namespace:   {ns}");
            }
        }
        ConfigCmd::New { file, roles, days } => {
            let s = t.session()?;
            let node = s.targets.first().ok_or_else(|| anyhow!("no node"))?;
            let mut c = s.machine(node).await?;
            let r = c
                .generate_client_configuration(pb::GenerateClientConfigurationRequest {
                    roles: roles.clone(),
                    days,
                })
                .await
                .map_err(output::status)?
                .into_inner();
            let (name, cur) = cfg
                .current(&t.context)?
                .map(|(n, c)| (n.to_string(), c.clone()))
                .unwrap_or_default();
            let mut out = MctlConfig {
                context: name.clone(),
                ..Default::default()
            };
            out.contexts.insert(
                name,
                Context {
                    ca: b64(&r.ca),
                    crt: b64(&r.crt),
                    key: b64(&r.key),
                    ..cur
                },
            );
            if file.exists() {
                bail!("{} exists; not overwriting", file.display());
            }
            out.save(&file)?;
            println!("wrote {} with roles {}", file.display(), roles.join(","));
        }
        ConfigCmd::Merge { file } => {
            let other = MctlConfig::load(&file)?;
            if other.contexts.is_empty() {
                bail!("{}: no contexts", file.display());
            }
            let names: Vec<String> = other.contexts.keys().cloned().collect();
            cfg.merge(other);
            cfg.save(&path)?;
            println!(
                "merged {} into {}; current context: {}",
                names.join(", "),
                path.display(),
                cfg.context
            );
        }
    }
    Ok(true)
}
