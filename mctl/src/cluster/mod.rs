//! `mctl cluster create|destroy`: a local cluster on one Linux host, every
//! node in its own network namespace on a shared bridge.

mod configs;
mod create;
mod destroy;
mod lab;
mod launch;
mod plan;
mod qemu;
mod record;
pub mod stand_in;
mod start;

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(clap::Subcommand, Debug)]
pub enum ClusterCmd {
    /// Create a local cluster and wait until etcd is healthy on every control plane.
    Create(CreateArgs),
    /// Stop every process of a local cluster and remove its namespaces and files.
    Destroy {
        /// The cluster's name, as given to `cluster create`.
        #[arg(long, default_value = "machined-demo")]
        name: String,
    },
    /// Power stopped nodes on again (a VM after `mctl shutdown` or a killed
    /// qemu boots from its own disk; a namespace node's machined starts
    /// again) and wait for their API.
    Start(start::StartArgs),
    /// Serve a stand-in for the Kubernetes API server (what `create
    /// --stand-in` runs on every control plane): HTTPS, `/readyz` 200, or
    /// 503 while the down file exists.
    StandIn(stand_in::StandInArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Cluster name: prefixes namespaces (`NAME-lan`, `NAME-cp1`, ...).
    #[arg(long, default_value = "machined-demo")]
    pub name: String,
    /// Control-plane nodes (etcd members and VIP candidates).
    #[arg(long, default_value_t = 3)]
    pub controlplanes: u8,
    /// Worker nodes (no etcd, no VIP).
    #[arg(long, default_value_t = 0)]
    pub workers: u8,
    /// IPv4 subnet of the bridge: .1 is the LAN side, control planes .11+, workers .21+.
    #[arg(long, default_value = "10.5.0.0/24")]
    pub cidr: String,
    /// The shared IP (default: .50 of the subnet). Repeat it for more
    /// VIPs (at most 64): the first is the interface's `vip` (the API
    /// endpoint), each other a `Layer2VIPConfig` document on eth0 with its
    /// own election.
    #[arg(long)]
    pub vip: Vec<String>,
    /// Put the VIPs, in order, in this many VIP groups (`vips-1`,
    /// `vips-2`, ...), each with one election, moving as one; 0: every VIP
    /// alone.
    #[arg(long, default_value_t = 0)]
    pub vip_groups: u8,
    /// machined binary (default: beside mctl, else on PATH).
    #[arg(long)]
    pub machined: Option<PathBuf>,
    /// etcd binary for the nodes.
    #[arg(long, default_value = "etcd")]
    pub etcd_binary: String,
    /// Start and configure the nodes but do not bootstrap etcd (then: `mctl
    /// --netns NAME-lan -n <cp1> bootstrap`).
    #[arg(long)]
    pub no_bootstrap: bool,
    /// How the node configs say their network: `legacy` (machine.network)
    /// or `multidoc` (HostnameConfig, LinkConfig, Layer2VIPConfig: Talos
    /// v1.12+).
    #[arg(long, default_value = "legacy", value_parser = ["legacy", "multidoc"])]
    pub config_style: String,
    /// Nodes take their addresses by DHCP from a dnsmasq in the LAN
    /// namespace (a reservation per node, the pool .100-.199; the VIP is in
    /// neither) instead of static addresses.
    #[arg(long)]
    pub dhcp: bool,
    /// `netns`: every node a machined in a network namespace; `qemu`: every
    /// node a virtual machine booted from the OS image (KVM when a probe
    /// boot works, else TCG).
    #[arg(long, default_value = "netns", value_parser = ["netns", "qemu"])]
    pub provisioner: String,
    /// The OS image for `--provisioner qemu` (a `mctl image build`
    /// directory); default: built into the cluster's directory.
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Network cards per VM (eth0, eth1, ...), each on the lab bridge: a
    /// config can bond them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub nics: u8,
    /// Memory of each VM, MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory: u32,
    /// On every control plane, a stand-in for the Kubernetes API server
    /// (`https://NODE:6443/readyz`, 200; 503 while `NODE/stand-in.down`
    /// exists), for VIP health checks (netns provisioner only).
    #[arg(long)]
    pub stand_in: bool,
    /// How long to wait for the cluster to become healthy.
    #[arg(long, default_value = "180s", value_parser = parse_secs)]
    pub wait: Duration,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    crate::vip::parse_duration(s)
}

pub fn step(msg: impl std::fmt::Display) {
    println!("==> {msg}");
}

/// Runs this mctl again inside a namespace (`--netns`) with the cluster's
/// client config, returning stdout.
pub fn self_in(dir: &Path, ns: &str, args: &[&str]) -> Result<String> {
    let exe = std::env::current_exe().context("locating mctl")?;
    let out = Command::new(exe)
        .arg("--netns")
        .arg(ns)
        .arg("--mctlconfig")
        .arg(dir.join("mctlconfig"))
        .args(args)
        .output()?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn wait_until<T>(
    what: &str,
    deadline: Instant,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let mut last = String::new();
    loop {
        match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!(": {}", crate::output::chain(&e)),
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}{last}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A cluster name: it prefixes namespace and link names.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 24
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-');
    if !ok {
        bail!("--name {name:?}: use 1-24 letters, digits or '-'");
    }
    Ok(())
}

pub fn run(cmd: &ClusterCmd) -> Result<bool> {
    match cmd {
        ClusterCmd::Create(a) => create::create(a).map(|_| true).map_err(|e| {
            anyhow!(
                "{}\n(clean up with: mctl cluster destroy --name {})",
                crate::output::chain(&e),
                a.name
            )
        }),
        ClusterCmd::Destroy { name } => destroy::destroy(name).map(|_| true),
        ClusterCmd::Start(a) => start::start(a).map(|_| true),
        ClusterCmd::StandIn(_) => bail!("the stand-in service runs on the async runtime"),
    }
}
