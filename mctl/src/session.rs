//! Which nodes a command talks to and how: the global flags, the client
//! config's context, the network namespace, and one helper that runs a call
//! on every node, reporting a node's failure for that node only.

use crate::mctlconfig;
use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use machined_client::client::{self, Conn, Creds};
use machined_proto::machine_service_client::MachineServiceClient;
use machined_proto::resource_service_client::ResourceServiceClient;
use std::future::Future;
use std::path::PathBuf;
use tonic::transport::Channel;

#[derive(ClapArgs, Debug, Clone)]
pub struct Target {
    /// Nodes to act on (repeat or comma-separate): contacted directly, or
    /// through --endpoints when given.
    #[arg(
        short = 'n',
        long = "nodes",
        global = true,
        help_heading = "Global options",
        value_delimiter = ','
    )]
    pub nodes: Vec<String>,
    /// API endpoints to dial, tried in turn. With --nodes each call goes
    /// through the first that answers, which forwards it to the node
    /// (your role stays yours); alone, they are the nodes.
    #[arg(
        short = 'e',
        long = "endpoints",
        global = true,
        help_heading = "Global options",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// Client config (default: $MCTLCONFIG, else ~/.mctl/config).
    #[arg(long, global = true, help_heading = "Global options")]
    pub mctlconfig: Option<PathBuf>,
    /// Context of the client config to use (default: its current one).
    #[arg(long, global = true, help_heading = "Global options")]
    pub context: Option<String>,
    /// Run inside this network namespace (default: the context's, if any;
    /// `--netns ''` runs here even when the context names one).
    #[arg(long, global = true, help_heading = "Global options")]
    pub netns: Option<String>,
    /// For a node in maintenance mode (no config yet): TLS without a client
    /// certificate and without verifying the node.
    #[arg(short = 'i', long, global = true, help_heading = "Global options")]
    pub insecure: bool,
}

/// Where and how to talk to nodes, resolved once.
pub struct Session {
    pub targets: Vec<String>,
    pub creds: Creds,
    /// Endpoints that forward calls to the targets (`-e` with `-n`); the
    /// first that answers is kept.
    via: Vec<String>,
    endpoint: tokio::sync::OnceCell<(String, Channel)>,
    /// Endpoints dialed as nodes (no `-n`): checked once for being a VIP.
    dialed_endpoints: bool,
    vip_checked: tokio::sync::OnceCell<()>,
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
        // Explicit endpoints with nodes: through the endpoints. (A
        // context's endpoints are often the VIP, which needs quorum: they
        // stand in for nodes only when none are named.)
        let via = if !self.nodes.is_empty() && !self.endpoints.is_empty() {
            self.endpoints.clone()
        } else {
            Vec::new()
        };
        let dialed_endpoints = self.nodes.is_empty();
        Ok(Session {
            targets,
            creds,
            via,
            endpoint: Default::default(),
            dialed_endpoints,
            vip_checked: Default::default(),
        })
    }

    /// The namespace to enter: `--netns` (empty: none), else the context's.
    /// Remembers where it came from, for error messages.
    pub fn netns(&self) -> Result<Option<String>> {
        if let Some(n) = &self.netns {
            return Ok(Some(n.clone()).filter(|n| !n.is_empty()));
        }
        let cfg = self.config()?;
        let ctx = cfg.current(&self.context).ok().flatten();
        let ns = ctx.and_then(|(_, c)| c.netns.clone());
        if let (Some(ns), Some((name, _))) = (&ns, ctx) {
            let _ = WHERE.set(format!(
                "ran inside network namespace {ns:?}, named by context {name:?}; --netns '' runs here, --context picks another"
            ));
        }
        Ok(ns)
    }
}

impl Session {
    /// A connection for calls to `node`: to it, or through the endpoint.
    pub async fn conn(&self, node: &str) -> Result<Conn> {
        if self.via.is_empty() {
            let ch = client::connect(node, &self.creds).await?;
            if self.dialed_endpoints {
                self.vip_checked
                    .get_or_init(|| warn_if_vip(node, ch.clone()))
                    .await;
            }
            return Ok(client::direct(ch));
        }
        let (_, ch) = self
            .endpoint
            .get_or_try_init(|| async {
                let mut last = None;
                for ep in &self.via {
                    match client::connect(ep, &self.creds).await {
                        Ok(ch) => {
                            warn_if_vip(ep, ch.clone()).await;
                            return Ok((ep.clone(), ch));
                        }
                        Err(e) => {
                            eprintln!("endpoint {ep}: {e}; trying the next");
                            last = Some(e);
                        }
                    }
                }
                Err(anyhow::anyhow!(
                    "no endpoint answers ({}): {}",
                    self.via.join(", "),
                    last.map_or_else(String::new, |e| e.to_string())
                ))
            })
            .await?;
        Ok(client::through(ch.clone(), node)?)
    }

    pub async fn machine(&self, node: &str) -> Result<MachineServiceClient<Conn>> {
        Ok(client::machine(self.conn(node).await?))
    }

    pub async fn resources(&self, node: &str) -> Result<ResourceServiceClient<Conn>> {
        Ok(client::resources(self.conn(node).await?))
    }

    /// One resource's spec from `node`, typed.
    pub async fn spec<T>(&self, node: &str, id: &str) -> Result<T>
    where
        T: machined_resources::ResourceSpec + serde::de::DeserializeOwned,
    {
        let r = self
            .resources(node)
            .await?
            .get(machined_proto::GetRequest {
                r#type: T::TYPE.into(),
                id: id.to_string(),
                namespace: String::new(),
            })
            .await
            .map_err(crate::output::status)?;
        let res = r
            .into_inner()
            .resource
            .as_ref()
            .and_then(machined_client::convert::from_proto)
            .ok_or_else(|| anyhow::anyhow!("{node}: malformed {}", T::TYPE))?;
        Ok(serde_json::from_value(res.spec)?)
    }

    pub async fn etcd(
        &self,
        node: &str,
    ) -> Result<machined_proto::etcd_service_client::EtcdServiceClient<Conn>> {
        Ok(client::etcd(self.conn(node).await?))
    }

    pub async fn health(
        &self,
        node: &str,
    ) -> Result<machined_proto::health_service_client::HealthServiceClient<Conn>> {
        Ok(client::health(self.conn(node).await?))
    }

    pub async fn vip(
        &self,
        node: &str,
    ) -> Result<machined_proto::vip_service_client::VipServiceClient<Conn>> {
        Ok(client::vip(self.conn(node).await?))
    }

    pub async fn observe(
        &self,
        node: &str,
    ) -> Result<machined_proto::observe_service_client::ObserveServiceClient<Conn>> {
        Ok(client::observe(self.conn(node).await?))
    }

    /// The one target of a command that acts on exactly one node; else an
    /// error that says `why` and how many were given.
    pub fn one_node(&self, why: &str) -> Result<&str> {
        match self.targets.as_slice() {
            [one] => Ok(one),
            more => anyhow::bail!("--nodes: {why} (got {})", more.len()),
        }
    }

    /// Runs `call` on every target in turn and `show`s each answer as it
    /// comes; a node that fails is reported as `NODE: error: ...` and the
    /// others still run. True when every node answered.
    pub async fn each<T, F, Fut>(&self, mut call: F, mut show: impl FnMut(&str, T)) -> bool
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut ok = true;
        for node in &self.targets {
            match call(node.clone()).await {
                Ok(v) => show(node, v),
                Err(e) => {
                    ok = false;
                    eprintln!(
                        "{node}: error: {}{}{}",
                        crate::output::chain(&e),
                        insecure_hint(&self.creds),
                        where_hint()
                    );
                }
            }
        }
        ok
    }
}

/// Warns when endpoint `ep` is one of the VIPs the node behind it knows: a
/// VIP moves, and needs etcd quorum to be anywhere at all.
async fn warn_if_vip(ep: &str, ch: Channel) {
    let host = machined_resources::endpoint::Endpoint::parse(ep)
        .map(|e| e.host.to_string())
        .unwrap_or_default();
    let mut c = client::resources(client::direct(ch));
    let Ok(r) = c
        .list(machined_proto::ListRequest {
            r#type: "VIPStatus".into(),
            namespace: String::new(),
        })
        .await
    else {
        return;
    };
    let is_vip = r
        .into_inner()
        .resources
        .iter()
        .any(|r| r.metadata.as_ref().is_some_and(|m| m.id == host));
    if is_vip {
        eprintln!(
            "warning: endpoint {ep} is a VIP: it moves with its holder and answers only while etcd has quorum; use control-plane node addresses as endpoints"
        );
    }
}

/// Set when a context's network namespace was entered without `--netns`.
static WHERE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// ` (ran inside network namespace ...)` when a context chose one, for
/// failures: a namespace nobody asked for on the command line surprises.
pub fn where_hint() -> String {
    WHERE.get().map(|w| format!(" ({w})")).unwrap_or_default()
}

/// A connection without a client certificate that fails is most often a
/// node that left maintenance mode.
fn insecure_hint(c: &Creds) -> &'static str {
    match c {
        Creds::Insecure => " (a node that has a config only talks to clients with a certificate: use an mctlconfig instead of --insecure)",
        Creds::Mtls { .. } => "",
    }
}

/// Enters `/run/netns/NAME` before any thread exists, so every thread the
/// runtime starts later lives there too.
pub fn enter_netns(name: &str) -> Result<()> {
    let path = std::path::Path::new("/run/netns").join(name);
    let f = std::fs::File::open(&path)
        .with_context(|| format!("netns {name}: opening {}", path.display()))?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("netns {name}: entering"))?;
    Ok(())
}
