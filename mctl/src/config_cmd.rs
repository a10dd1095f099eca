//! `mctl config context|contexts|endpoint|node|info|new|merge|remove`.

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
    Context {
        /// A context's name (see `mctl config contexts`).
        name: String,
    },
    /// List the contexts; the current one is marked with *.
    Contexts,
    /// Set the current context's endpoints: the nodes' own addresses,
    /// which answer before etcd exists (a VIP does not).
    #[command(alias = "endpoints")]
    Endpoint {
        /// Addresses (or host names) of the nodes to dial.
        #[arg(required = true, num_args = 1..)]
        endpoints: Vec<String>,
    },
    /// Set the current context's default nodes (the -n of every call).
    #[command(alias = "nodes")]
    Node {
        /// Addresses of the nodes calls are about.
        #[arg(required = true, num_args = 1..)]
        nodes: Vec<String>,
    },
    /// Remove context NAME from the client config.
    Remove {
        /// The context to remove.
        name: String,
    },
    /// Show the current context: endpoints, nodes, roles, expiry.
    Info,
    /// Ask a node to issue a client certificate for ROLES and write a new
    /// mctlconfig to FILE (admin only).
    New {
        /// Where to write the new client config.
        file: PathBuf,
        /// Roles of the certificate: os:admin, os:reader (one or both).
        #[arg(long, value_delimiter = ',', default_value = "os:admin")]
        roles: Vec<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Add the contexts of FILE to the client config; a context whose name
    /// is taken is renamed (demo -> demo-1), never overwritten.
    Merge {
        /// An mctlconfig, e.g. the one `mctl gen config` wrote.
        file: PathBuf,
    },
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
        ConfigCmd::Contexts => {
            let mut rows = vec![vec![
                "CURRENT".to_string(),
                "NAME".into(),
                "ENDPOINTS".into(),
                "NODES".into(),
                "NAMESPACE".into(),
            ]];
            for (name, c) in &cfg.contexts {
                rows.push(vec![
                    if *name == cfg.context { "*" } else { "" }.to_string(),
                    name.clone(),
                    c.endpoints.join(","),
                    c.nodes.join(","),
                    c.netns.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", output::align(&rows));
        }
        ConfigCmd::Endpoint { endpoints } => {
            let (name, c) = cfg.current_mut(&t.context)?;
            c.endpoints = endpoints.clone();
            cfg.save(&path)?;
            println!("context {name}: endpoints {}", endpoints.join(", "));
        }
        ConfigCmd::Node { nodes } => {
            let (name, c) = cfg.current_mut(&t.context)?;
            c.nodes = nodes.clone();
            cfg.save(&path)?;
            println!("context {name}: nodes {}", nodes.join(", "));
        }
        ConfigCmd::Remove { name } => {
            cfg.remove(&name)?;
            cfg.save(&path)?;
            println!("removed context {name} from {}", path.display());
            if cfg.context.is_empty() && !cfg.contexts.is_empty() {
                println!("no current context now: choose one with `mctl config context NAME`");
            }
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
            let mut names: Vec<String> = other.contexts.keys().cloned().collect();
            let renamed = cfg.merge(other);
            for n in names.iter_mut() {
                if let Some((_, to)) = renamed.iter().find(|(from, _)| from == n) {
                    *n = to.clone();
                }
            }
            cfg.save(&path)?;
            for (from, to) in &renamed {
                println!(
                    "renamed context {from} to {to}: {from} is already in {}",
                    path.display()
                );
            }
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
