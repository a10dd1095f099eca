//! Faults on the LAN itself, made in the LAN namespace's bridge (nftables'
//! bridge family), so the node's carrier stays up: a port that stops
//! forwarding both ways (a partition), or one way (a node nobody hears),
//! and a flood of ARP requests for the VIP. Also a hung etcd member.

use crate::arpwatch::{self, Mac};
use crate::cluster::Cluster;
use nix::sys::signal::Signal;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

/// 100.64.0.0: the flood's askers, from the shared address space (RFC
/// 6598), apart from the ARP watch's range.
const FLOOD_BASE: u32 = 0x6440_0000;

impl Cluster {
    fn bridge_table(&self, name: &str, rules: Option<String>) {
        let lan = self.lan();
        match rules {
            Some(r) => self.nft(&lan, &format!("{name}.nft"), &r),
            None => {
                let _ = Command::new("ip")
                    .args([
                        "netns", "exec", &lan, "nft", "delete", "table", "bridge", name,
                    ])
                    .status();
            }
        }
    }

    /// Node `i`'s bridge port forwards nothing, either way (`false` heals):
    /// its carrier stays up, as behind a switch that stopped forwarding.
    pub fn isolate(&self, i: usize, on: bool) {
        let port = &self.cps()[i].0;
        let rules = on.then(|| {
            format!(
                "table bridge isolate {{\n chain forward {{ type filter hook forward priority 0; iifname \"{port}\" drop; oifname \"{port}\" drop; }}\n chain input {{ type filter hook input priority 0; iifname \"{port}\" drop; }}\n chain output {{ type filter hook output priority 0; oifname \"{port}\" drop; }}\n}}\n"
            )
        });
        self.bridge_table("isolate", rules);
    }

    /// Nobody hears node `i`, while it hears everyone (`false` ends it).
    pub fn mute(&self, i: usize, on: bool) {
        let port = &self.cps()[i].0;
        let rules = on.then(|| {
            format!(
                "table bridge mute {{\n chain forward {{ type filter hook forward priority 0; iifname \"{port}\" drop; }}\n chain input {{ type filter hook input priority 0; iifname \"{port}\" drop; }}\n}}\n"
            )
        });
        self.bridge_table("mute", rules);
    }

    /// Node `i`'s etcd member stopped (SIGSTOP: alive, its connections
    /// open, answering nothing, as on a stalled disk) or continued.
    pub fn hang_etcd(&self, i: usize, on: bool) {
        let (_, ns, _) = &self.cps()[i];
        let sig = if on { Signal::SIGSTOP } else { Signal::SIGCONT };
        self.signal_all(ns, "etcd", sig);
    }

    /// Floods the LAN with ARP requests for `vip` from the bridge, `askers`
    /// different sender addresses in turn, at up to `rate` a second, for
    /// `how_long`; returns the requests sent.
    pub fn flood(&self, vip: Ipv4Addr, askers: u32, rate: u32, how_long: Duration) -> u64 {
        let asker = self.asker();
        let fd = arpwatch::open(&asker.netns, &asker.link).expect("flood socket");
        let mac: Mac = asker.mac;
        let start = Instant::now();
        let mut sent = 0u64;
        let per_ms = u64::from(rate / 1000).max(1);
        while start.elapsed() < how_long {
            let due = start.elapsed().as_millis() as u64 * per_ms;
            while sent < due {
                let ip = Ipv4Addr::from(FLOOD_BASE + (sent as u32 % askers.max(1)));
                let f = arpwatch::request(mac, ip, vip);
                // SAFETY: send(2) of our frame on a bound packet socket.
                let n = unsafe { libc::send(fd.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
                if n < 0 {
                    break;
                }
                sent += 1;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        sent
    }
}
