//! `mctl cluster create|destroy`: a local cluster on one Linux host, every
//! node in its own network namespace on a shared bridge.

mod configs;
mod destroy;

use crate::mctlconfig::{self, MctlConfig};
use machined_resources::endpoint;
mod lab;
mod record;

use anyhow::{anyhow, bail, Context, Result};
use ipnet::Ipv4Net;
use record::{NodeRecord, Record};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(clap::Subcommand, Debug)]
pub enum ClusterCmd {
    /// Create a local cluster and wait until etcd is healthy on every control plane.
    Create(CreateArgs),
    /// Stop every process of a local cluster and remove its namespaces and files.
    Destroy {
        #[arg(long, default_value = "machined-demo")]
        name: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Cluster name: prefixes namespaces (`NAME-lan`, `NAME-cp1`, ...).
    #[arg(long, default_value = "machined-demo")]
    name: String,
    #[arg(long, default_value_t = 3)]
    controlplanes: u8,
    #[arg(long, default_value_t = 0)]
    workers: u8,
    /// IPv4 subnet of the bridge: .1 is the LAN side, control planes .11+, workers .21+.
    #[arg(long, default_value = "10.5.0.0/24")]
    cidr: String,
    /// The shared IP (default: .50 of the subnet).
    #[arg(long)]
    vip: Option<String>,
    /// machined binary (default: beside mctl, else on PATH).
    #[arg(long)]
    machined: Option<PathBuf>,
    /// etcd binary for the nodes.
    #[arg(long, default_value = "etcd")]
    etcd_binary: String,
    /// Start and configure the nodes but do not bootstrap etcd (then: `mctl
    /// --netns NAME-lan -n <cp1> bootstrap`).
    #[arg(long)]
    no_bootstrap: bool,
    /// How long to wait for the cluster to become healthy.
    #[arg(long, default_value = "180s", value_parser = parse_secs)]
    wait: Duration,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let n = s.trim_end_matches('s');
    n.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{s:?} is not a duration in seconds (e.g. 180s)"))
}

fn step(msg: impl std::fmt::Display) {
    println!("==> {msg}");
}

/// Runs this mctl again inside a namespace (`--netns`) with the cluster's
/// client config, returning stdout.
fn self_in(dir: &Path, ns: &str, args: &[&str]) -> Result<String> {
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

fn wait_until<T>(
    what: &str,
    deadline: Instant,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let mut last = String::new();
    loop {
        match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!(": {e:#}"),
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}{last}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn machined_bin(arg: &Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p.clone());
    }
    let beside = std::env::current_exe()?.with_file_name("machined");
    if beside.exists() {
        return Ok(beside);
    }
    Ok(PathBuf::from("machined"))
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 24
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-');
    if !ok {
        bail!("--name {name:?}: use 1-24 letters, digits or '-'");
    }
    Ok(())
}

fn host(net: &Ipv4Net, n: u32) -> Result<Ipv4Addr> {
    let ip = Ipv4Addr::from(u32::from(net.network()) + n);
    if !net.contains(&ip) || ip == net.broadcast() {
        bail!("--cidr {net}: too small for host .{n}");
    }
    Ok(ip)
}

fn create(a: &CreateArgs) -> Result<()> {
    check_name(&a.name)?;
    if !nix::unistd::Uid::effective().is_root() {
        bail!("cluster create needs root (network namespaces)");
    }
    if a.controlplanes == 0 {
        bail!("--controlplanes: at least 1");
    }
    let net: Ipv4Net = a
        .cidr
        .parse()
        .map_err(|e| anyhow!("--cidr {:?}: {e}", a.cidr))?;
    let vip: Ipv4Addr = match &a.vip {
        Some(v) => v
            .parse()
            .map_err(|_| anyhow!("--vip {v:?} is not an IPv4 address"))?,
        None => host(&net, 50)?,
    };
    if !net.contains(&vip) {
        bail!("--vip {vip} is outside --cidr {net}");
    }
    let machined = machined_bin(&a.machined)?;
    let dir = record::dir(&a.name);
    if dir.exists() {
        bail!(
            "cluster {:?} exists ({}); destroy it first: mctl cluster destroy --name {}",
            a.name,
            dir.display(),
            a.name
        );
    }
    let lan = format!("{}-lan", a.name);
    let mut rec = Record {
        name: a.name.clone(),
        cidr: net.to_string(),
        vip: vip.to_string(),
        lan: lan.clone(),
        ..Default::default()
    };
    let mut nodes = Vec::new();
    for i in 1..=a.controlplanes {
        nodes.push((format!("cp{i}"), host(&net, 10 + u32::from(i))?, true));
    }
    for i in 1..=a.workers {
        nodes.push((format!("w{i}"), host(&net, 20 + u32::from(i))?, false));
    }
    for (_, ip, _) in &nodes {
        if *ip == vip {
            bail!("--vip {vip} collides with a node address");
        }
    }

    step(format!(
        "creating LAN {lan} (bridge br0, {}/{})",
        host(&net, 1)?,
        net.prefix_len()
    ));
    rec.namespaces.push(lan.clone());
    rec.save(&dir)?;
    // The gen config flow: secrets, base configs and an admin mctlconfig
    // whose context talks from the LAN namespace.
    let mut secrets = crate::gen::generate(&a.name, &endpoint::ip_url("https", vip.into(), 6443))?;
    if let Some(ctx) = secrets.mctlconfig.contexts.get_mut(&a.name) {
        ctx.endpoints = vec![host(&net, 11)?.to_string()];
        ctx.netns = Some(lan.clone());
    }
    crate::gen::write(&secrets, &dir, true)?;
    lab::add_netns(&lan)?;
    lab::add_lan(&lan, &format!("{}/{}", host(&net, 1)?, net.prefix_len()))?;

    let cp_ips: Vec<String> = nodes
        .iter()
        .filter(|n| n.2)
        .map(|n| n.1.to_string())
        .collect();
    for (short, ip, cp) in &nodes {
        let ns = format!("{}-{short}", a.name);
        let node_dir = dir.join(short);
        std::fs::create_dir_all(&node_dir)?;
        step(format!("starting node {short} ({ns}, {ip})"));
        rec.namespaces.push(ns.clone());
        rec.save(&dir)?;
        lab::add_netns(&ns)?;
        lab::plug(&ns, &lan, short)?;
        let args: Vec<String> = vec![
            "--state-dir".into(),
            node_dir.join("state").to_string_lossy().into(),
            "--listen".into(),
            "0.0.0.0:50000".into(),
            "--etcd-binary".into(),
            a.etcd_binary.clone(),
        ];
        let pid = lab::spawn_detached(&ns, &machined, &args, &node_dir.join("machined.log"))?;
        rec.nodes.push(NodeRecord {
            name: short.clone(),
            netns: ns.clone(),
            ip: ip.to_string(),
            controlplane: *cp,
            pid: Some(pid),
        });
        rec.save(&dir)?;
        let base = if *cp {
            &secrets.controlplane
        } else {
            &secrets.worker
        };
        let nn = configs::NodeNet {
            cluster: &a.name,
            short,
            ip: *ip,
            net: &net,
            vip,
            cp_ips: &cp_ips,
        };
        let cfg = configs::node(base, &nn, *cp);
        let cfg_path = node_dir.join("config.yaml");
        std::fs::write(&cfg_path, cfg)?;
    }

    let deadline = Instant::now() + a.wait;
    for n in &rec.nodes {
        wait_until(&format!("{}'s API", n.name), deadline, || {
            Ok(self_in(
                &dir,
                &n.netns,
                &["-n", "127.0.0.1", "version", "--insecure"],
            )
            .ok()
            .map(|_| ()))
        })?;
        let cfg = dir.join(&n.name).join("config.yaml");
        step(format!("applying config to {} ({})", n.name, n.ip));
        self_in(
            &dir,
            &n.netns,
            &[
                "-n",
                "127.0.0.1",
                "apply-config",
                "--insecure",
                "-f",
                &cfg.to_string_lossy(),
            ],
        )
        .with_context(|| format!("applying config to {}", n.name))?;
    }
    let first = rec.nodes.first().ok_or_else(|| anyhow!("no nodes"))?;
    let user_config = mctlconfig::path(&None);
    let mut merged = MctlConfig::load(&user_config)?;
    merged.merge(secrets.mctlconfig.clone());
    merged.save(&user_config)?;
    step(format!(
        "context {:?} merged into {}",
        a.name,
        user_config.display()
    ));
    if a.no_bootstrap {
        println!(
            "\nnodes are up and configured; etcd waits for: mctl -n {} bootstrap",
            first.ip
        );
        return Ok(());
    }
    step(format!(
        "bootstrapping etcd on {} ({})",
        first.name, first.ip
    ));
    wait_until(
        "the first control plane to be ready for bootstrap",
        deadline,
        || match self_in(&dir, &lan, &["-n", &first.ip, "bootstrap"]) {
            Ok(_) => Ok(Some(())),
            Err(e) if e.to_string().contains("not ready") => Ok(None),
            Err(e) => Err(e),
        },
    )?;
    let cps: Vec<&NodeRecord> = rec.nodes.iter().filter(|n| n.controlplane).collect();
    for n in &cps {
        step(format!("waiting for etcd on {} ({})", n.name, n.ip));
        wait_until(&format!("etcd on {}", n.name), deadline, || {
            let out = self_in(
                &dir,
                &lan,
                &["-n", &n.ip, "get", "etcdstatus", "-o", "json"],
            )?;
            let v: serde_json::Value = serde_json::from_str(out.trim())?;
            let members = v["spec"]["members"].as_array().map_or(0, Vec::len);
            Ok((v["spec"]["phase"] == "running" && members == cps.len()).then_some(()))
        })?;
    }
    step(format!("waiting for the VIP {vip} to come up"));
    let holder = wait_until("a VIP holder", deadline, || {
        let out = self_in(
            &dir,
            &lan,
            &["-n", &first.ip, "get", "vipstatus", "-o", "json"],
        )?;
        let v: serde_json::Value = serde_json::from_str(out.trim())?;
        let h = v["spec"]["holder"].as_str().unwrap_or_default().to_string();
        Ok((!h.is_empty()).then_some(h))
    })?;
    println!();
    println!(
        "cluster {:?} is up: {} control plane(s), {} worker(s)",
        a.name, a.controlplanes, a.workers
    );
    for n in &rec.nodes {
        let role = if n.controlplane {
            "controlplane"
        } else {
            "worker"
        };
        println!(
            "  {:<4} {:<15} {:<13} netns {}",
            n.name, n.ip, role, n.netns
        );
    }
    println!("  VIP  {vip} (held by {holder})");
    println!();
    println!(
        "talk to it (context {:?}, which runs mctl in {lan}):",
        a.name
    );
    println!("  mctl -n {} get vipstatus", first.ip);
    println!("  mctl -n {} get etcdstatus", first.ip);
    println!("  mctl -n {} get addresses", first.ip);
    println!("  ip netns exec {lan} ping {vip}");
    println!("remove it: mctl cluster destroy --name {}", a.name);
    Ok(())
}

pub fn run(cmd: &ClusterCmd) -> Result<bool> {
    match cmd {
        ClusterCmd::Create(a) => create(a).map(|_| true).map_err(|e| {
            anyhow!(
                "{e:#}\n(clean up with: mctl cluster destroy --name {})",
                a.name
            )
        }),
        ClusterCmd::Destroy { name } => destroy::destroy(name).map(|_| true),
    }
}
