//! mctl: the command-line client of machined.

mod cluster;
mod get;
mod output;

use anyhow::{bail, Context, Result};
use clap::{Args as ClapArgs, Parser, Subcommand};
use machined_api::client;
use machined_proto as pb;

#[derive(Parser, Debug)]
#[command(name = "mctl", version, about = "Talk to machined nodes")]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// Run inside this network namespace (e.g. a local cluster's `NAME-lan`).
    #[arg(long, global = true)]
    netns: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(ClapArgs, Debug, Clone)]
pub struct Target {
    /// Nodes to act on (repeat or comma-separate). Each is contacted directly.
    #[arg(short = 'n', long = "nodes", global = true, value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// API endpoints, used when no --nodes are given.
    #[arg(short = 'e', long = "endpoints", global = true, value_delimiter = ',')]
    pub endpoints: Vec<String>,
}

impl Target {
    pub fn list(&self) -> Result<Vec<String>> {
        let t = if self.nodes.is_empty() {
            &self.endpoints
        } else {
            &self.nodes
        };
        if t.is_empty() {
            bail!("no node given: use -n/--nodes or -e/--endpoints");
        }
        Ok(t.clone())
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Apply a machine config to nodes.
    ApplyConfig {
        #[arg(short = 'f', long = "file")]
        file: std::path::PathBuf,
        /// Connect without a client certificate (maintenance mode). The API
        /// is not secured yet, so this changes nothing today.
        #[arg(short = 'i', long)]
        insecure: bool,
        /// Validate on the node without applying.
        #[arg(long)]
        dry_run: bool,
    },
    /// Start a new etcd cluster on one control-plane node (use its own
    /// address, never the VIP: the VIP needs etcd).
    Bootstrap,
    /// Get or watch resources.
    Get(get::GetArgs),
    /// Check a machine config locally: warnings and exit 0, or every error and exit 1.
    Validate {
        #[arg(short = 'f', long = "file")]
        file: std::path::PathBuf,
    },
    /// Local clusters in network namespaces.
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// Print client and node versions.
    Version {
        /// Client version only.
        #[arg(long)]
        client: bool,
    },
}

fn read(file: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

fn validate(file: &std::path::Path) -> Result<bool> {
    let text = read(file)?;
    match machined_resources::config::parse(&text) {
        Ok(p) => {
            for w in &p.warnings {
                eprintln!("warning: {w}");
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

async fn apply(target: &Target, file: &std::path::Path, dry_run: bool) -> Result<bool> {
    let data = read(file)?.into_bytes();
    let mut ok = true;
    for node in target.list()? {
        let res = async {
            let mut c = client::machine(client::connect(&node).await?);
            let r = c
                .apply_configuration(pb::ApplyConfigurationRequest {
                    data: data.clone(),
                    dry_run,
                })
                .await
                .map_err(output::status)?;
            anyhow::Ok(r.into_inner())
        }
        .await;
        match res {
            Ok(r) => {
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
            }
            Err(e) => {
                ok = false;
                eprintln!("{node}: error: {e:#}");
            }
        }
    }
    Ok(ok)
}

async fn bootstrap(target: &Target) -> Result<bool> {
    let nodes = target.list()?;
    if nodes.len() != 1 {
        bail!(
            "bootstrap exactly one node (got {}): the others join by themselves",
            nodes.len()
        );
    }
    let node = &nodes[0];
    let mut c = client::machine(client::connect(node).await?);
    c.bootstrap(pb::BootstrapRequest {})
        .await
        .map_err(output::status)?;
    println!("{node}: bootstrap accepted; watch it with: mctl -n {node} get etcdstatus -w");
    Ok(true)
}

async fn version(target: &Target, client_only: bool) -> Result<bool> {
    println!("Client:\n\tTag: {}", env!("CARGO_PKG_VERSION"));
    if client_only {
        return Ok(true);
    }
    let mut ok = true;
    for node in target.list()? {
        let res = async {
            let mut c = client::machine(client::connect(&node).await?);
            anyhow::Ok(
                c.version(pb::VersionRequest {})
                    .await
                    .map_err(output::status)?
                    .into_inner(),
            )
        }
        .await;
        match res {
            Ok(v) => println!(
                "Server:\n\tNODE: {node}\n\tHostname: {}\n\tTag: {}\n\tOS/Arch: {}/{}\n\tConfigured: {}",
                v.node, v.tag, v.os, v.arch, v.configured
            ),
            Err(e) => {
                ok = false;
                eprintln!("{node}: error: {e:#}");
            }
        }
    }
    Ok(ok)
}

async fn run(cli: Cli) -> Result<bool> {
    match cli.cmd {
        Cmd::Validate { file } => validate(&file),
        Cmd::ApplyConfig {
            file,
            insecure: _,
            dry_run,
        } => apply(&cli.target, &file, dry_run).await,
        Cmd::Get(args) => get::run(&cli.target, args).await,
        Cmd::Bootstrap => bootstrap(&cli.target).await,
        Cmd::Cluster(c) => tokio::task::spawn_blocking(move || cluster::run(&c)).await?,
        Cmd::Version { client } => version(&cli.target, client).await,
    }
}

/// Enters `/run/netns/NAME` before any thread exists, so every thread the
/// runtime starts later lives there too.
fn enter_netns(name: &str) -> Result<()> {
    let path = std::path::Path::new("/run/netns").join(name);
    let f = std::fs::File::open(&path)
        .with_context(|| format!("--netns {name}: opening {}", path.display()))?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("--netns {name}: entering"))?;
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let result = cli
        .netns
        .as_deref()
        .map_or(Ok(()), enter_netns)
        .and_then(|_| {
            Ok(tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?)
        });
    let code = match result.and_then(|rt| rt.block_on(run(cli))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
