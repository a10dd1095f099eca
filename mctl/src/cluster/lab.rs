//! Namespaces, the bridge, veths and processes of a local cluster.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

pub fn add_netns(name: &str) -> Result<()> {
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"])?;
    Ok(())
}

/// The LAN: a bridge `br0` in its own namespace, with `gw` on it so tools
/// run there can reach the nodes.
pub fn add_lan(ns: &str, gw_cidr: &str) -> Result<()> {
    ip(&["-n", ns, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", ns, "addr", "add", gw_cidr, "dev", "br0"])?;
    ip(&["-n", ns, "link", "set", "br0", "up"])?;
    Ok(())
}

/// `eth0` in the node's namespace, its peer (named after the node) on the bridge.
pub fn plug(node_ns: &str, lan_ns: &str, port: &str, mac: &str) -> Result<()> {
    ip(&[
        "-n", node_ns, "link", "add", "eth0", "address", mac, "type", "veth", "peer", "name", port,
        "netns", lan_ns,
    ])?;
    ip(&["-n", lan_ns, "link", "set", port, "master", "br0"])?;
    ip(&["-n", lan_ns, "link", "set", port, "up"])?;
    Ok(())
}

/// The MAC of a node's `eth0`, from its address (locally administered):
/// stable, so a DHCP reservation can name it.
pub fn node_mac(ip: std::net::Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// A DHCP server for the LAN: dnsmasq on `br0` (no DNS), a reservation per
/// `(mac, ip, name)`, a pool, the gateway as router, leases of `lease`.
pub fn start_dnsmasq(
    lan_ns: &str,
    dir: &Path,
    gateway: std::net::Ipv4Addr,
    pool: (std::net::Ipv4Addr, std::net::Ipv4Addr),
    netmask: std::net::Ipv4Addr,
    hosts: &[(String, std::net::Ipv4Addr, String)],
    lease: &str,
) -> Result<u32> {
    let mut args: Vec<String> = vec![
        "--keep-in-foreground".into(),
        "--port=0".into(),
        "--no-resolv".into(),
        "--no-hosts".into(),
        "--interface=br0".into(),
        "--bind-interfaces".into(),
        "--log-dhcp".into(),
        // The only server on the LAN: it refuses (NAKs) what it does not
        // grant instead of staying silent.
        "--dhcp-authoritative".into(),
        "--log-facility=-".into(),
        "--user=root".into(),
        "--group=root".into(),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
        format!("--dhcp-range={},{},{netmask},{lease}", pool.0, pool.1),
        format!("--dhcp-option=option:router,{gateway}"),
        format!("--dhcp-option=option:dns-server,{gateway}"),
    ];
    for (mac, ip, name) in hosts {
        args.push(format!("--dhcp-host={mac},{ip},{name},{lease}"));
    }
    spawn_detached(
        lan_ns,
        Path::new("dnsmasq"),
        &args,
        &dir.join("dnsmasq.log"),
    )
}

/// Starts `bin args` in `ns`, detached (own session, no terminal, own UTS
/// namespace), output to `log`.
pub fn spawn_detached(ns: &str, bin: &Path, args: &[String], log: &Path) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f);
    unsafe {
        // Its own session, and its own UTS namespace: a node sets its
        // hostname there, never the host's.
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS).map_err(std::io::Error::from)
        });
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(child.id())
}

/// True if `pid` runs `machined` with a state dir under `dir`: we only ever
/// signal processes we started.
pub fn is_ours(pid: u32, dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let text = String::from_utf8_lossy(&cmdline);
    text.contains("machined") && text.contains(&*dir.to_string_lossy())
}

/// SIGTERM, then SIGKILL after `grace`; returns once the process is gone.
pub fn stop_pid(pid: u32, grace: Duration) {
    use nix::sys::signal::{kill, Signal};
    let p = nix::unistd::Pid::from_raw(pid as i32);
    let _ = kill(p, Signal::SIGTERM);
    let start = Instant::now();
    while kill(p, None).is_ok() && !is_zombie(pid) {
        if start.elapsed() > grace {
            let _ = kill(p, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(50));
        if start.elapsed() > grace * 2 {
            break;
        }
    }
}

pub fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// PIDs of processes inside `ns`.
pub fn pids_in(ns: &str) -> Vec<u32> {
    ip(&["netns", "pids", ns])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}
