//! Faults for a cluster of virtual machines (`--provisioner qemu`): shut
//! down, killed, powered on again, frozen whole on qemu's monitor.

use crate::cluster::Cluster;
use crate::{wait_for, PATIENCE};
use std::time::Duration;

/// `mctl cluster create` arguments for three control-plane VMs.
pub const THREE_VMS: [&str; 6] = [
    "--provisioner",
    "qemu",
    "--controlplanes",
    "3",
    "--memory",
    "768",
];

/// How long a VM may take to power off or boot under TCG.
const VM_PATIENCE: Duration = Duration::from_secs(120);

/// The process has ended (gone, or a zombie nobody reaped yet).
pub fn gone(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
        || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
}

impl Cluster {
    /// The nodes are virtual machines.
    pub fn is_vm(&self) -> bool {
        self.record["nodes"][0]["vm"] == true
    }

    /// Control plane `i`'s qemu.
    pub fn vm_pid(&self, i: usize) -> i32 {
        let short = &self.cps()[i].0;
        self.record["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["name"] == short.as_str())
            .and_then(|n| n["pid"].as_u64())
            .expect("qemu pid") as i32
    }

    /// `mctl shutdown` of VM `i`; returns once its qemu has exited.
    pub fn shutdown_vm(&self, i: usize) {
        let pid = self.vm_pid(i);
        let r = self.mctl(&["-n", &self.cps()[i].2, "shutdown"]);
        assert!(r.ok, "shutdown: {}{}", r.stdout, r.stderr);
        wait_for("the VM's qemu to exit", VM_PATIENCE, || {
            gone(pid).then_some(())
        });
    }

    /// kill -9 of VM `i`'s qemu: the machine is gone at once.
    pub fn kill_vm(&self, i: usize) {
        let pid = self.vm_pid(i);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill qemu");
        wait_for("the killed qemu to be gone", PATIENCE, || {
            gone(pid).then_some(())
        });
    }

    /// Powers VM `i` on again (`mctl cluster start`), waiting for its API.
    pub fn boot_vm(&mut self, i: usize) {
        let short = self.cps()[i].0.clone();
        let r = self.power_on(&short);
        assert!(r.ok, "cluster start {short}: {}{}", r.stdout, r.stderr);
    }

    /// Freezes (`stop`) or thaws (`cont`) VM `i` whole, kernel and clock
    /// included, on its qemu monitor.
    pub fn freeze_vm(&self, i: usize, stop: bool) {
        let short = self.cps()[i].0.clone();
        self.monitor(&short, if stop { "stop" } else { "cont" });
    }

    /// A command to a VM's qemu monitor (`set_link n0 off`: the card loses
    /// its carrier, as when a cable is pulled); returns once it has run.
    pub fn monitor(&self, short: &str, cmd: &str) {
        let seen = self.monitor_says(short, "monitor.sock", cmd);
        assert!(
            seen.matches("(qemu)").count() >= 2,
            "qemu monitor did not answer {cmd:?}: {seen:?}"
        );
    }
}

/// machined's processes in a VM, from `mctl processes`: PID 1 (the init
/// that reaps and powers off) and its daemon child, resident KiB each, and
/// the daemon's CPU time in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmUsage {
    pub init_kib: u64,
    pub daemon_kib: u64,
    pub daemon_cpu_ms: u64,
}

impl Cluster {
    /// The link `addr` (a /32) is on at `node`, as the node's machined
    /// reads it from netlink inside the VM, if it has it.
    pub fn link_of(&self, node: &str, addr: &str) -> Option<String> {
        let r = self.mctl(&["-n", node, "get", "addresses", "-o", "json"]);
        r.stdout.lines().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["spec"]["address"] == format!("{addr}/32"))
                .then(|| v["spec"]["link"].as_str().unwrap_or_default().to_string())
        })
    }

    /// The link of VIP `vip` at `node` when the node holds it: its
    /// VIPStatus says so and its kernel has the address (on `lo`, as
    /// AddressStatus shows from netlink inside the VM).
    pub fn vip_held_on(&self, node: &str, vip: &str) -> Option<String> {
        let r = self.mctl(&["-n", node, "get", "vipstatus", vip, "-o", "json"]);
        let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next()?).ok()?;
        let held = v["spec"]["holding"] == true && self.link_of(node, vip).as_deref() == Some("lo");
        held.then(|| v["spec"]["link"].as_str().unwrap_or_default().to_string())
    }

    /// The processes node `ip` lists, as JSON objects.
    pub fn processes(&self, ip: &str) -> Vec<serde_json::Value> {
        let r = self.mctl(&["-n", ip, "processes", "-o", "json"]);
        r.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Per control plane VM: machined's usage, if its API answered.
    pub fn vm_usage(&self) -> Vec<(String, Option<VmUsage>)> {
        self.cps()
            .into_iter()
            .map(|(short, _, ip)| {
                let ps = self.processes(&ip);
                let kib = |p: &serde_json::Value| p["residentMemory"].as_u64().unwrap_or(0) / 1024;
                let init = ps.iter().find(|p| p["pid"] == 1);
                let daemon = ps.iter().find(|p| p["ppid"] == 1 && p["args"] == "/init");
                let u = init.zip(daemon).map(|(i, d)| VmUsage {
                    init_kib: kib(i),
                    daemon_kib: kib(d),
                    daemon_cpu_ms: (d["cpuSeconds"].as_f64().unwrap_or(0.0) * 1000.0) as u64,
                });
                (short, u)
            })
            .collect()
    }
}
