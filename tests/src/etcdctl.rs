//! Looking at a local cluster from outside machined: Debian's `etcdctl`
//! from the LAN with a node's etcd certificate, and a node's event history
//! as `mctl events -o json` prints it.

use crate::cluster::Cluster;
use serde_json::Value;
use std::process::{Command, Output};

impl Cluster {
    /// `etcdctl --endpoints URL ARGS` from the LAN, with control plane
    /// `i`'s etcd certificate.
    pub fn etcdctl(&self, i: usize, url: &str, args: &[&str]) -> std::io::Result<Output> {
        let pki = self.node_dir(&self.cps()[i].0).join("state/etcd/pki");
        let p = |f: &str| pki.join(f).to_string_lossy().into_owned();
        Command::new("ip")
            .args(["netns", "exec", &self.lan(), "etcdctl", "--endpoints", url])
            .args([
                "--cacert",
                &p("ca.pem"),
                "--cert",
                &p("server.pem"),
                "--key",
                &p("server-key.pem"),
            ])
            .args(args)
            .output()
    }

    /// Every kept event of node `ip`.
    pub fn events(&self, ip: &str) -> Vec<Value> {
        let r = self.mctl(&[
            "-n",
            ip,
            "events",
            "--tail",
            "-1",
            "--no-follow",
            "-o",
            "json",
        ]);
        assert!(r.ok, "events: {}", r.stderr);
        r.stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
