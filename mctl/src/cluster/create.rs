//! `mctl cluster create`, in the steps it prints: plan the cluster (names,
//! addresses, binaries), create the LAN with the cluster's secrets, start
//! the nodes, apply their configs, merge the client context, bootstrap
//! etcd, wait for every member and for the VIP, and print a summary.

use super::launch::Launch;
use super::plan::{host, plan, Plan};
use super::qemu::{self, Accel};
use super::record::{NodeRecord, Record};
use super::{configs, lab, self_in, step, wait_until, CreateArgs};
use crate::gen::Generated;
use crate::mctlconfig::{self, MctlConfig};
use anyhow::{anyhow, Context, Result};
use machined_resources::endpoint;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Lease time of the lab's DHCP server: dnsmasq's shortest, so a renewal
/// comes every minute.
const DHCP_LEASE: &str = "2m";

pub fn create(a: &CreateArgs) -> Result<()> {
    let p = plan(a)?;
    let mut rec = Record {
        name: a.name.clone(),
        cidr: p.net.to_string(),
        vip: p.vip().to_string(),
        vips: p.vips.iter().map(|v| v.to_string()).collect(),
        lan: p.lan.clone(),
        ..Default::default()
    };
    let mut p = p;
    if a.provisioner == "qemu" {
        p.vms = Some(vm_image(&p)?);
    }
    let secrets = make_lan(&p, &mut rec)?;
    let started = start_nodes(&p, &secrets, &mut rec)?;
    let deadline = Instant::now() + a.wait;
    apply_configs(&p.dir, &rec, &started, deadline)?;
    merge_context(&secrets)?;
    let first = rec.nodes.first().ok_or_else(|| anyhow!("no nodes"))?;
    if a.no_bootstrap {
        println!(
            "\nnodes are up and configured; etcd waits for: mctl -n {} bootstrap",
            first.ip
        );
        return Ok(());
    }
    bootstrap(&p, first, deadline)?;
    wait_for_etcd(&p, &rec, deadline)?;
    let holders = wait_for_vip(&p, first, deadline)?;
    summary(&p, &rec, &holders);
    Ok(())
}

/// The image the VMs boot (built beside the cluster unless given) and the
/// accelerator a probe boot shows to work.
fn vm_image(p: &Plan<'_>) -> Result<(PathBuf, Accel)> {
    let image = match &p.a.image {
        Some(i) => i.clone(),
        None => {
            let out = p.dir.join("image");
            step(format!("building the OS image into {}", out.display()));
            crate::image::build_quiet(&out, &p.machined)?;
            out
        }
    };
    std::fs::create_dir_all(&p.dir)?;
    let accel = qemu::probe_kvm(&image, &p.dir, std::time::Duration::from_secs(15));
    step(match accel {
        Accel::Kvm => "KVM boots the image: VMs use KVM".to_string(),
        Accel::Tcg => "KVM missing or its probe boot hung: VMs use TCG (emulation)".to_string(),
    });
    Ok((image, accel))
}

/// The LAN namespace with its bridge, and the gen config flow: secrets,
/// base configs and an admin mctlconfig whose context talks from the LAN.
fn make_lan(p: &Plan<'_>, rec: &mut Record) -> Result<Generated> {
    let gateway = host(&p.net, 1)?;
    step(format!(
        "creating LAN {} (bridge br0, {gateway}/{})",
        p.lan,
        p.net.prefix_len()
    ));
    rec.namespaces.push(p.lan.clone());
    rec.save(&p.dir)?;
    let endpoint = endpoint::ip_url("https", p.vip().into(), 6443);
    let mut secrets = crate::gen::generate(&p.a.name, &endpoint)?;
    if let Some(ctx) = secrets.mctlconfig.contexts.get_mut(&p.a.name) {
        ctx.endpoints = vec![host(&p.net, 11)?.to_string()];
        ctx.netns = Some(p.lan.clone());
    }
    crate::gen::write(&secrets, &p.dir, true)?;
    lab::add_netns(&p.lan)?;
    lab::add_lan(&p.lan, &format!("{gateway}/{}", p.net.prefix_len()))?;
    if p.a.dhcp {
        let pool = (host(&p.net, 100)?, host(&p.net, 199)?);
        step(format!(
            "starting a DHCP server in {} (dnsmasq: a reservation per node, pool {}-{})",
            p.lan, pool.0, pool.1
        ));
        let hosts: Vec<(String, Ipv4Addr, String)> = p
            .nodes
            .iter()
            .map(|(short, ip, _)| (lab::node_mac(*ip), *ip, format!("{}-{short}", p.a.name)))
            .collect();
        lab::start_dnsmasq(
            &p.lan,
            &p.dir,
            gateway,
            pool,
            p.net.netmask(),
            &hosts,
            DHCP_LEASE,
        )?;
    }
    Ok(secrets)
}

/// One namespace per node on the bridge, machined started in it, and the
/// node's config written for the apply step; returns when each started.
fn start_nodes(p: &Plan<'_>, secrets: &Generated, rec: &mut Record) -> Result<Vec<Instant>> {
    let mut started = Vec::new();
    let cp_ips: Vec<String> = p
        .nodes
        .iter()
        .filter(|n| n.2)
        .map(|n| n.1.to_string())
        .collect();
    for (short, ip, cp) in &p.nodes {
        let ns = format!("{}-{short}", p.a.name);
        let node_dir = p.dir.join(short);
        std::fs::create_dir_all(&node_dir)?;
        started.push(Instant::now());
        let (pid, ns, vm) = if let Some((image, accel)) = &p.vms {
            step(format!("starting VM {short} ({ip}, {accel:?})"));
            let vm = qemu::Vm {
                cluster: &p.a.name,
                short,
                ip: *ip,
                gateway: host(&p.net, 1)?,
                netmask: p.net.netmask(),
                mac: lab::node_mac(*ip),
                image,
                dir: &node_dir,
                memory_mib: p.a.memory,
                accel: *accel,
                nics: p.a.nics,
            };
            (qemu::start(&p.lan, &vm)?, p.lan.clone(), true)
        } else {
            (
                start_netns_node(p, short, *ip, &ns, &node_dir, rec)?,
                ns,
                false,
            )
        };
        let stand_in_pid = if p.a.stand_in && *cp {
            Some(start_stand_in(short, &ns, &node_dir)?)
        } else {
            None
        };
        rec.nodes.push(NodeRecord {
            name: short.clone(),
            netns: ns,
            ip: ip.to_string(),
            controlplane: *cp,
            pid: Some(pid),
            vm,
            stand_in_pid,
        });
        rec.save(&p.dir)?;
        let base = if *cp {
            &secrets.controlplane
        } else {
            &secrets.worker
        };
        let nn = configs::NodeNet {
            slow_etcd: p.vms.as_ref().is_some_and(|(_, a)| *a == Accel::Tcg),
            cluster: &p.a.name,
            short,
            ip: *ip,
            net: &p.net,
            vips: &p.vips,
            groups: &p.groups,
            cp_ips: &cp_ips,
            multidoc: p.a.config_style == "multidoc",
            dhcp: p.a.dhcp,
        };
        std::fs::write(node_dir.join("config.yaml"), configs::node(base, &nn, *cp))?;
    }
    Ok(started)
}

/// The stand-in API server in a node's namespace (`--stand-in`).
fn start_stand_in(short: &str, ns: &str, node_dir: &Path) -> Result<u32> {
    step(format!("starting the stand-in service on {short} (:6443)"));
    let exe = std::env::current_exe().context("locating mctl")?;
    let down = node_dir.join("stand-in.down");
    let args: Vec<String> = vec![
        "cluster".into(),
        "stand-in".into(),
        "--down-file".into(),
        down.to_string_lossy().into(),
    ];
    lab::spawn_detached(ns, &exe, &args, &node_dir.join("stand-in.log"))
}

/// A node as a machined in a network namespace of its own.
fn start_netns_node(
    p: &Plan<'_>,
    short: &str,
    ip: Ipv4Addr,
    ns: &str,
    node_dir: &Path,
    rec: &mut Record,
) -> Result<u32> {
    {
        step(format!("starting node {short} ({ns}, {ip})"));
        rec.namespaces.push(ns.to_string());
        rec.save(&p.dir)?;
        lab::add_netns(ns)?;
        lab::plug(ns, &p.lan, short, &lab::node_mac(ip))?;
        let args: Vec<String> = vec![
            "--state-dir".into(),
            node_dir.join("state").to_string_lossy().into(),
            "--listen".into(),
            "0.0.0.0:50000".into(),
            // Each node runs in a UTS namespace of its own (lab::spawn_detached).
            "--set-hostname".into(),
            "--etcd-binary".into(),
            p.a.etcd_binary.clone(),
            // Metrics on the node's address, so a scraper in the LAN reads them.
            "--metrics-listen".into(),
            format!("{ip}:2112"),
        ];
        Launch {
            netns: ns.to_string(),
            bin: p.machined.clone(),
            args,
            log: node_dir.join("machined.log"),
        }
        .run(node_dir)
    }
}

/// Each node in maintenance mode takes its config (`apply-config --insecure`).
fn apply_configs(dir: &Path, rec: &Record, started: &[Instant], deadline: Instant) -> Result<()> {
    for (i, n) in rec.nodes.iter().enumerate() {
        // A VM is reached from the LAN at its address (`ip=` on its kernel
        // command line); a namespace node on its own loopback.
        let at = if n.vm { n.ip.as_str() } else { "127.0.0.1" };
        wait_until(&format!("{}'s API", n.name), deadline, || {
            Ok(self_in(dir, &n.netns, &["-n", at, "version", "--insecure"])
                .ok()
                .map(|_| ()))
        })?;
        if let Some(t) = started.get(i).filter(|_| n.vm) {
            // Polled every 250 ms, and in turn after the nodes before it:
            // the first node's figure is the tight one.
            step(format!(
                "{} seen answering in maintenance mode {:.1} s after it was started",
                n.name,
                t.elapsed().as_secs_f64()
            ));
        }
        let cfg = dir.join(&n.name).join("config.yaml");
        step(format!("applying config to {} ({})", n.name, n.ip));
        self_in(
            dir,
            &n.netns,
            &[
                "-n",
                at,
                "apply-config",
                "--insecure",
                "-f",
                &cfg.to_string_lossy(),
            ],
        )
        .with_context(|| format!("applying config to {}", n.name))?;
    }
    Ok(())
}

fn merge_context(secrets: &Generated) -> Result<()> {
    let user_config = mctlconfig::path(&None);
    let mut merged = MctlConfig::load(&user_config)?;
    let renamed = merged.merge(secrets.mctlconfig.clone());
    merged.save(&user_config)?;
    for (from, to) in renamed {
        step(format!(
            "a context named {from:?} is already in {}: this cluster's is {to:?}",
            user_config.display()
        ));
    }
    step(format!(
        "context {:?} merged into {}",
        merged.context,
        user_config.display()
    ));
    Ok(())
}

fn bootstrap(p: &Plan<'_>, first: &NodeRecord, deadline: Instant) -> Result<()> {
    step(format!(
        "bootstrapping etcd on {} ({})",
        first.name, first.ip
    ));
    wait_until(
        "the first control plane to be ready for bootstrap",
        deadline,
        || match self_in(&p.dir, &p.lan, &["-n", &first.ip, "bootstrap"]) {
            Ok(_) => Ok(Some(())),
            Err(e) if e.to_string().contains("not ready") => Ok(None),
            Err(e) => Err(e),
        },
    )
}

/// Every control plane's etcd running, with every control plane a member.
fn wait_for_etcd(p: &Plan<'_>, rec: &Record, deadline: Instant) -> Result<()> {
    let cps: Vec<&NodeRecord> = rec.nodes.iter().filter(|n| n.controlplane).collect();
    for n in &cps {
        step(format!("waiting for etcd on {} ({})", n.name, n.ip));
        wait_until(&format!("etcd on {}", n.name), deadline, || {
            let out = self_in(
                &p.dir,
                &p.lan,
                &["-n", &n.ip, "get", "etcdstatus", "-o", "json"],
            )?;
            let v: serde_json::Value = serde_json::from_str(out.trim())?;
            let members = v["spec"]["members"].as_array().map_or(0, Vec::len);
            Ok((v["spec"]["phase"] == "running" && members == cps.len()).then_some(()))
        })?;
    }
    Ok(())
}

/// Each VIP's holder (in `p.vips`' order), once the first node sees one
/// for every VIP.
fn wait_for_vip(p: &Plan<'_>, first: &NodeRecord, deadline: Instant) -> Result<Vec<String>> {
    let all: Vec<String> = p.vips.iter().map(|v| v.to_string()).collect();
    step(format!("waiting for the VIP {} to come up", all.join(", ")));
    wait_until("a holder of every VIP", deadline, || {
        let out = self_in(
            &p.dir,
            &p.lan,
            &["-n", &first.ip, "get", "vipstatus", "-o", "json"],
        )?;
        let mut held = std::collections::HashMap::new();
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let h = v["spec"]["holder"].as_str().unwrap_or_default();
            if !h.is_empty() {
                held.insert(
                    v["metadata"]["id"].as_str().unwrap_or_default().to_string(),
                    h.to_string(),
                );
            }
        }
        Ok(all
            .iter()
            .map(|v| held.get(v).cloned())
            .collect::<Option<Vec<_>>>())
    })
}

fn summary(p: &Plan<'_>, rec: &Record, holders: &[String]) {
    let (a, lan, vip) = (p.a, &p.lan, p.vip());
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
    for (v, holder) in p.vips.iter().zip(holders) {
        println!("  VIP  {v} (held by {holder})");
    }
    println!();
    println!(
        "talk to it (context {:?}, which runs mctl in {lan}):",
        a.name
    );
    println!("  mctl -n {} get vipstatus", rec.nodes[0].ip);
    println!("  mctl -n {} get etcdstatus", rec.nodes[0].ip);
    println!("  mctl -n {} get addresses", rec.nodes[0].ip);
    println!("  ip netns exec {lan} ping {vip}");
    println!("remove it: mctl cluster destroy --name {}", a.name);
}
