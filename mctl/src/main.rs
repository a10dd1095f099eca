//! mctl: the command-line client of machined.

mod cluster;
mod config_cmd;
mod gen;
mod get;
mod mctlconfig;
mod output;

use anyhow::{bail, Context, Result};
use clap::{Args as ClapArgs, Parser, Subcommand};
use machined_api::client::{self, Creds};
use machined_proto as pb;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "mctl", version, about = "Talk to machined nodes")]
struct Cli {
    #[command(flatten)]
    target: Target,
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
    /// Client config (default: $MCTLCONFIG, else ~/.mctl/config).
    #[arg(long, global = true)]
    pub mctlconfig: Option<PathBuf>,
    /// Context of the client config to use (default: its current one).
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Run inside this network namespace (default: the context's, if any).
    #[arg(long, global = true)]
    pub netns: Option<String>,
    /// For a node in maintenance mode (no config yet): TLS without a client
    /// certificate and without verifying the node.
    #[arg(short = 'i', long, global = true)]
    pub insecure: bool,
}

/// Where and how to talk to nodes, resolved once.
pub struct Session {
    pub targets: Vec<String>,
    pub creds: Creds,
}

impl Target {
    fn config(&self) -> Result<mctlconfig::MctlConfig> {
        mctlconfig::MctlConfig::load(&mctlconfig::path(&self.mctlconfig))
    }

    /// Nodes to contact and credentials (none with `--insecure`).
    pub fn session(&self) -> Result<Session> {
        let insecure = self.insecure;
        let cfg = self.config()?;
        let ctx = cfg.current(&self.context)?;
        let targets = if !self.nodes.is_empty() {
            self.nodes.clone()
        } else if !self.endpoints.is_empty() {
            self.endpoints.clone()
        } else if let Some((_, c)) =
            ctx.filter(|(_, c)| !c.nodes.is_empty() || !c.endpoints.is_empty())
        {
            if c.nodes.is_empty() {
                c.endpoints.clone()
            } else {
                c.nodes.clone()
            }
        } else {
            bail!("no node given: use -n/--nodes or -e/--endpoints (or a context with endpoints)");
        };
        let creds = if insecure {
            Creds::Insecure
        } else {
            match ctx {
                Some((_, c)) => c.creds()?,
                None => bail!(
                    "no client credentials: no context in {} (create one with mctl gen config, or pass --mctlconfig); \
                     a node in maintenance mode takes apply-config --insecure",
                    mctlconfig::path(&self.mctlconfig).display()
                ),
            }
        };
        Ok(Session { targets, creds })
    }

    /// The namespace to enter: `--netns`, else the context's.
    fn netns(&self) -> Result<Option<String>> {
        if self.netns.is_some() {
            return Ok(self.netns.clone());
        }
        let cfg = self.config()?;
        Ok(cfg
            .current(&self.context)
            .ok()
            .flatten()
            .and_then(|(_, c)| c.netns.clone()))
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Apply a machine config to nodes.
    ApplyConfig {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
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
        file: PathBuf,
    },
    /// Generate cluster secrets and configs.
    #[command(subcommand)]
    Gen(GenCmd),
    /// Client config: contexts, info, new client certificates.
    #[command(subcommand)]
    Config(config_cmd::ConfigCmd),
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

#[derive(Subcommand, Debug)]
enum GenCmd {
    /// Secrets, controlplane.yaml, worker.yaml and mctlconfig for a cluster.
    Config {
        /// Cluster name.
        name: String,
        /// Control-plane endpoint, e.g. https://10.5.0.50:6443 (the VIP).
        endpoint: String,
        #[arg(short = 'o', long = "output-dir", default_value = ".")]
        output: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
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
            let locked = machined_resources::config::limits::lockout(&p.config);
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

async fn apply(s: &Session, file: &std::path::Path, dry_run: bool) -> Result<bool> {
    let data = read(file)?.into_bytes();
    let mut ok = true;
    for node in &s.targets {
        let res = async {
            let mut c = client::machine(client::connect(node, &s.creds).await?);
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
                eprintln!("{node}: error: {e:#}{}", insecure_hint(&s.creds));
            }
        }
    }
    Ok(ok)
}

/// A connection without a client certificate that fails is most often a
/// node that left maintenance mode.
fn insecure_hint(c: &Creds) -> &'static str {
    match c {
        Creds::Insecure => " (a node that has a config only talks to clients with a certificate: use an mctlconfig instead of --insecure)",
        Creds::Mtls { .. } => "",
    }
}

async fn bootstrap(s: &Session) -> Result<bool> {
    if s.targets.len() != 1 {
        bail!(
            "bootstrap exactly one node (got {}): the others join by themselves",
            s.targets.len()
        );
    }
    let node = &s.targets[0];
    let mut c = client::machine(client::connect(node, &s.creds).await?);
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
    let s = target.session()?;
    let mut ok = true;
    for node in &s.targets {
        let res = async {
            let mut c = client::machine(client::connect(node, &s.creds).await?);
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
                eprintln!("{node}: error: {e:#}{}", insecure_hint(&s.creds));
            }
        }
    }
    Ok(ok)
}

async fn run(cli: Cli) -> Result<bool> {
    let t = &cli.target;
    match cli.cmd {
        Cmd::Validate { file } => validate(&file),
        Cmd::ApplyConfig { file, dry_run } => apply(&t.session()?, &file, dry_run).await,
        Cmd::Get(args) => get::run(&t.session()?, args).await,
        Cmd::Bootstrap => bootstrap(&t.session()?).await,
        Cmd::Version { client } => version(t, client).await,
        Cmd::Gen(GenCmd::Config {
            name,
            endpoint,
            output,
            force,
        }) => {
            let g = gen::generate(&name, &endpoint)?;
            gen::write(&g, &output, force)?;
            println!(
                "wrote controlplane.yaml, worker.yaml and mctlconfig to {}",
                output.display()
            );
            Ok(true)
        }
        Cmd::Config(c) => config_cmd::run(t, c).await,
        Cmd::Cluster(c) => tokio::task::spawn_blocking(move || cluster::run(&c)).await?,
    }
}

/// Enters `/run/netns/NAME` before any thread exists, so every thread the
/// runtime starts later lives there too.
fn enter_netns(name: &str) -> Result<()> {
    let path = std::path::Path::new("/run/netns").join(name);
    let f = std::fs::File::open(&path)
        .with_context(|| format!("netns {name}: opening {}", path.display()))?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("netns {name}: entering"))?;
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    // `cluster` manages namespaces from the host; everything else may run
    // inside the LAN namespace of a local cluster.
    let netns = match &cli.cmd {
        Cmd::Cluster(_) | Cmd::Gen(_) | Cmd::Validate { .. } => Ok(None),
        _ => cli.target.netns(),
    };
    let result = netns
        .and_then(|ns| ns.as_deref().map_or(Ok(()), enter_netns))
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
