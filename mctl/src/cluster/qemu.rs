//! The qemu provisioner: every node a virtual machine booted from the OS
//! image (`mctl image build`) with `-kernel`/`-initrd`, a raw state disk of
//! its own, and a tap device on the lab bridge in the LAN namespace. The
//! kernel command line's `ip=` gives the node its address in maintenance
//! mode; the rest is the usual flow over the API.

use super::lab;
use super::launch::Launch;
use anyhow::{Context, Result};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const QEMU: &str = "qemu-system-x86_64";

/// How the VMs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

/// Whether a guest under KVM gets as far as machined: nested guests on
/// some hosts hang right after the kernel is decompressed, so /dev/kvm
/// existing proves nothing. Boots the image once with a short deadline.
pub fn probe_kvm(image: &Path, dir: &Path, within: Duration) -> Accel {
    if !Path::new("/dev/kvm").exists() {
        return Accel::Tcg;
    }
    let console = dir.join("kvm-probe.log");
    let child = std::process::Command::new(QEMU)
        .args(["-machine", "q35,accel=kvm", "-cpu", "host", "-m", "512"])
        .args([
            "-display",
            "none",
            "-no-reboot",
            "-name",
            "machined-kvm-probe",
        ])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(image.join("vmlinuz"))
        .arg("-initrd")
        .arg(image.join("initramfs.img"))
        .args(["-append", "console=ttyS0 panic=-1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return Accel::Tcg;
    };
    let start = Instant::now();
    let mut booted = false;
    while start.elapsed() < within && !booted {
        std::thread::sleep(Duration::from_millis(200));
        booted = std::fs::read_to_string(&console).is_ok_and(|t| t.contains("machined[init]"));
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    if booted {
        Accel::Kvm
    } else {
        Accel::Tcg
    }
}

/// One VM to start.
pub struct Vm<'a> {
    pub cluster: &'a str,
    pub short: &'a str,
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub mac: String,
    pub image: &'a Path,
    pub dir: &'a Path,
    pub memory_mib: u32,
    pub accel: Accel,
    /// Network cards: eth0 (the node's MAC), eth1, ...
    pub nics: u8,
}

/// The tap of a node's card `n` on the bridge (at most 15 bytes).
pub fn tap_name(short: &str, n: u8) -> String {
    let name = if n == 0 {
        format!("tap-{short}")
    } else {
        format!("tap-{short}-{n}")
    };
    name.chars().take(15).collect()
}

/// Card `n`'s MAC: the node's for eth0, then its second byte counts up.
fn nic_mac(mac: &str, n: u8) -> String {
    if n == 0 {
        return mac.to_string();
    }
    let mut parts: Vec<String> = mac.split(':').map(str::to_string).collect();
    if parts.len() == 6 {
        parts[1] = format!("{n:02x}");
    }
    parts.join(":")
}

/// A blank state disk (sparse) unless one exists: a reboot keeps it.
fn state_disk(dir: &Path) -> Result<PathBuf> {
    let p = dir.join("state.raw");
    if !p.exists() {
        let f = std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?;
        f.set_len(2 << 30)?;
    }
    Ok(p)
}

/// Creates the node's tap on the bridge and starts qemu in the LAN
/// namespace; returns qemu's pid.
pub fn start(lan: &str, vm: &Vm<'_>) -> Result<u32> {
    let mut nics = Vec::new();
    for n in 0..vm.nics {
        let tap = tap_name(vm.short, n);
        lab::ip(&["-n", lan, "tuntap", "add", "dev", &tap, "mode", "tap"])?;
        lab::ip(&["-n", lan, "link", "set", &tap, "master", "br0"])?;
        lab::ip(&["-n", lan, "link", "set", &tap, "up"])?;
        nics.push("-netdev".to_string());
        nics.push(format!("tap,id=n{n},ifname={tap},script=no,downscript=no"));
        nics.push("-device".to_string());
        nics.push(format!(
            "virtio-net-pci,netdev=n{n},mac={}",
            nic_mac(&vm.mac, n)
        ));
    }
    let disk = state_disk(vm.dir)?;
    let hostname = format!("{}-{}", vm.cluster, vm.short);
    let append = format!(
        "console=ttyS0 panic=-1 ip={}::{}:{}:{hostname}:eth0:off",
        vm.ip, vm.gateway, vm.netmask
    );
    let (machine, cpu) = match vm.accel {
        Accel::Kvm => ("q35,accel=kvm", "host"),
        Accel::Tcg => ("q35,accel=tcg", "max"),
    };
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut args: Vec<String> = vec![
        "-name".into(),
        format!("machined-{hostname}"),
        "-machine".into(),
        machine.into(),
        "-cpu".into(),
        cpu.into(),
        "-m".into(),
        vm.memory_mib.to_string(),
        "-display".into(),
        "none".into(),
        "-serial".into(),
        format!("file:{}", s(&vm.dir.join("console.log"))),
        "-kernel".into(),
        s(&vm.image.join("vmlinuz")),
        "-initrd".into(),
        s(&vm.image.join("initramfs.img")),
        "-append".into(),
        append,
        "-drive".into(),
        format!("file={},format=raw,if=virtio", s(&disk)),
        // qemu's monitor, e.g. `set_link n0 off` to pull a card's cable.
        "-monitor".into(),
        format!("unix:{},server,nowait", s(&vm.dir.join("monitor.sock"))),
    ];
    args.extend(nics);
    Launch {
        netns: lan.to_string(),
        bin: QEMU.into(),
        args,
        log: vm.dir.join("qemu.log"),
    }
    .run(vm.dir)
}
