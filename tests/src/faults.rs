//! Faults injected into a local cluster's nodes, and putting them right.

use crate::cluster::{pids_named, Cluster};
use crate::netns::ip;
use crate::{wait_for, PATIENCE};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const VIP: &str = "10.5.0.50";

impl Cluster {
    /// Control planes: (short name, netns, ip).
    pub fn cps(&self) -> Vec<(String, String, String)> {
        self.record["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["controlplane"] == true)
            .map(|n| {
                let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
                (s("name"), s("netns"), s("ip"))
            })
            .collect()
    }

    /// VIPStatus as one node sees it.
    pub fn vip_status(&self, node_ip: &str) -> Option<Value> {
        self.get_one(node_ip, "vipstatus", VIP)
            .map(|v| v["spec"].clone())
    }

    /// Index (into `cps()`) of the node that says it holds the VIP.
    pub fn holder(&self) -> Option<usize> {
        self.cps()
            .iter()
            .position(|(_, _, ip)| self.vip_status(ip).is_some_and(|v| v["holding"] == true))
    }

    /// etcd leader's node name, as `node_ip` sees it.
    pub fn etcd_leader(&self, node_ip: &str) -> String {
        self.get_json(node_ip, "etcdstatus")
            .and_then(|v| v["spec"]["leaderName"].as_str().map(String::from))
            .unwrap_or_default()
    }

    /// Every control plane runs healthy etcd with all members, and exactly
    /// one holds the VIP that everyone agrees on.
    pub fn wait_healthy(&self) -> usize {
        let cps = self.cps();
        wait_for(
            "a healthy cluster with one VIP holder",
            Duration::from_secs(90),
            || {
                for (_, _, ip) in &cps {
                    let v = self.get_json(ip, "etcdstatus")?;
                    if v["spec"]["phase"] != "running"
                        || v["spec"]["members"].as_array().map_or(0, Vec::len) != cps.len()
                    {
                        return None;
                    }
                }
                let views: Vec<Value> = cps
                    .iter()
                    .map(|(_, _, ip)| self.vip_status(ip))
                    .collect::<Option<_>>()?;
                let holding: Vec<usize> = (0..cps.len())
                    .filter(|i| views[*i]["holding"] == true)
                    .collect();
                let name = &cps.get(*holding.first()?)?.0;
                let agreed = views.iter().all(|v| {
                    v["holder"]
                        .as_str()
                        .is_some_and(|h| h.ends_with(name.as_str()))
                });
                (holding.len() == 1 && agreed).then(|| holding[0])
            },
        )
    }

    pub(crate) fn signal_all(&self, netns: &str, comm: &str, sig: Signal) {
        for p in pids_named(netns, comm) {
            let _ = kill(Pid::from_raw(p as i32), sig);
        }
    }

    /// SIGTERM to machined on a node (graceful shutdown).
    pub fn stop_node(&self, i: usize) {
        let (_, ns, _) = &self.cps()[i];
        self.signal_all(ns, "machined", Signal::SIGTERM);
        wait_for("machined and etcd to exit", PATIENCE, || {
            (pids_named(ns, "machined").is_empty() && pids_named(ns, "etcd").is_empty())
                .then_some(())
        });
    }

    /// A dead machine: machined and etcd SIGKILLed and the link set down,
    /// as close to the same instant as two syscalls and an `ip` run allow.
    pub fn kill_node(&self, i: usize) {
        let (_, ns, _) = &self.cps()[i];
        let pids: Vec<u32> = pids_named(ns, "machined")
            .into_iter()
            .chain(pids_named(ns, "etcd"))
            .collect();
        for p in &pids {
            let _ = kill(Pid::from_raw(*p as i32), Signal::SIGKILL);
        }
        ip(&["-n", ns, "link", "set", "eth0", "down"]);
    }

    /// Loads nftables `rules` in namespace `ns` (kept in `file` for a post-mortem).
    pub(crate) fn nft(&self, ns: &str, file: &str, rules: &str) {
        let path = self.dir.0.join(file);
        std::fs::write(&path, rules).expect("write rules");
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "-f"])
            .arg(&path)
            .output()
            .expect("nft");
        assert!(
            out.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// machined alone SIGKILLed (kernel, link and etcd stay up); nothing is
    /// cleaned up after it.
    pub fn crash_machined(&self, i: usize) {
        let (_, ns, _) = &self.cps()[i];
        for p in pids_named(ns, "machined") {
            let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
        }
    }

    /// SIGSTOP (`stop`) or SIGCONT to machined alone.
    pub fn freeze_machined(&self, i: usize, stop: bool) {
        let (_, ns, _) = &self.cps()[i];
        let sig = if stop {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        for p in pids_named(ns, "machined") {
            let _ = kill(Pid::from_raw(p as i32), sig);
        }
    }

    /// The node's etcd member SIGKILLed (machined restarts it).
    pub fn kill_etcd(&self, i: usize) {
        let (_, ns, _) = &self.cps()[i];
        for p in pids_named(ns, "etcd") {
            let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
        }
    }

    /// Candidate `i` stops receiving anything node `from` sends (a bridge
    /// rule in the LAN namespace); `false` lifts it.
    pub fn deafen(&self, i: usize, from: usize, on: bool) {
        let cps = self.cps();
        let lan = self.lan();
        if !on {
            let _ = Command::new("ip")
                .args([
                    "netns", "exec", &lan, "nft", "delete", "table", "bridge", "deaf",
                ])
                .status();
            return;
        }
        let rules = format!(
            "table bridge deaf {{\n chain deafen {{ type filter hook forward priority 0; iifname \"{}\" oifname \"{}\" ether type arp drop; }}\n}}\n",
            cps[from].0, cps[i].0
        );
        self.nft(&lan, "deaf.nft", &rules);
    }

    /// Starts machined again on a node (link up first).
    pub fn start_node(&self, i: usize) {
        self.start_node_env(i, &[]);
    }

    /// Starts machined again on a node with `env` added (e.g. faults to
    /// inject, `MACHINED_FAULTS`).
    pub fn start_node_env(&self, i: usize, env: &[(&str, &str)]) {
        let (short, ns, addr) = &self.cps()[i];
        ip(&["-n", ns, "link", "set", "eth0", "up"]);
        let dir = self.node_dir(short);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("machined.log"))
            .expect("log");
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(crate::bins::machined())
            .args([
                "--state-dir",
                &dir.join("state").to_string_lossy(),
                "--listen",
                "0.0.0.0:50000",
                "--set-hostname",
                "--metrics-listen",
                &format!("{addr}:2112"),
            ])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        // SAFETY: setsid and unshare in the child only. Its own UTS
        // namespace, as the lab gives every node (--set-hostname).
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS)
                    .map_err(std::io::Error::from)
            });
        }
        // Detached: `mctl cluster destroy` ends whatever runs in the
        // namespace; a thread reaps it when it exits.
        let mut child = cmd.spawn().expect("start machined");
        std::thread::spawn(move || child.wait());
    }

    /// Cuts a node off from etcd (peer and client ports on eth0, both ways)
    /// while clients still reach it.
    pub fn cut_off(&self, i: usize) {
        let (_, ns, _) = &self.cps()[i];
        let rules = "table inet cutoff {\n chain in { type filter hook input priority 0; iifname \"eth0\" tcp dport { 2379, 2380 } drop; iifname \"eth0\" tcp sport { 2379, 2380 } drop; }\n chain out { type filter hook output priority 0; oifname \"eth0\" tcp dport { 2379, 2380 } drop; oifname \"eth0\" tcp sport { 2379, 2380 } drop; }\n}\n";
        self.nft(ns, &format!("cutoff-{i}.nft"), rules);
    }

    pub fn reconnect(&self, i: usize) {
        let (_, ns, _) = &self.cps()[i];
        let _ = Command::new("ip")
            .args([
                "netns", "exec", ns, "nft", "delete", "table", "inet", "cutoff",
            ])
            .status();
    }

    /// Moves etcd leadership to node `i` (with etcdctl, from the LAN, with
    /// node `i`'s certificate). The VIP holder moves it away again within
    /// seconds, so a fault must follow at once.
    pub fn make_etcd_leader(&self, i: usize) -> bool {
        let cps = self.cps();
        let Some(st) = self.get_json(&cps[i].2, "etcdstatus") else {
            return false;
        };
        let target = st["spec"]["memberId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let leader = st["spec"]["leader"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if target.is_empty() || target == leader {
            return !target.is_empty();
        }
        let Some(url) = st["spec"]["members"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["id"] == leader.as_str())
            .and_then(|m| m["clientUrls"][0].as_str().map(String::from))
        else {
            return false;
        };
        self.etcdctl(i, &url, &["move-leader", &target])
            .is_ok_and(|o| o.status.success())
    }

    /// machined's resident memory (KiB) and CPU time (ms) per control plane.
    pub fn usage(&self) -> Vec<(String, u64, u64)> {
        let tick = 100; // USER_HZ on Linux
        self.cps()
            .iter()
            .filter_map(|(short, ns, _)| {
                let pid = *pids_named(ns, "machined").first()?;
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                let rss = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                let cpu: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
                Some((short.clone(), rss, cpu * 1000 / tick))
            })
            .collect()
    }
}
