//! The lab's stand-in service (`mctl cluster create --stand-in`: an HTTPS
//! server on every control plane's :6443) and the VIP health check that
//! watches it: stop, start or fail the service on a node, patch the check
//! into the running nodes' configs.

use crate::cluster::{pids_named, Cluster};
use crate::{wait_for, PATIENCE};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::process::{Command, Stdio};

/// What the check asks of each node's own stand-in.
pub const CHECK_URL: &str = "https://127.0.0.1:6443/readyz";

/// A check of the stand-in with the given timing; `hold_down` like `3s`.
pub fn check_patch(interval: &str, fall: u32, rise: u32, hold_down: &str) -> String {
    format!(
        "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          machined:\n            healthCheck:\n              http: {{url: \"{CHECK_URL}\", insecureSkipVerify: true}}\n              interval: {interval}\n              timeout: {interval}\n              fall: {fall}\n              rise: {rise}\n              holdDown: {hold_down}\n"
    )
}

/// The patch that takes the check out again.
pub const NO_CHECK_PATCH: &str = "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          machined:\n            healthCheck:\n              $patch: delete\n";

impl Cluster {
    /// VIPHealthStatus as node `node_ip` reports it.
    pub fn vip_health(&self, node_ip: &str) -> Option<Value> {
        self.get_json(node_ip, "viphealthstatus")
            .map(|v| v["spec"].clone())
    }

    /// Waits until every control plane reports its check in `state`.
    pub fn wait_health_everywhere(&self, state: &str) {
        for (short, _, ip) in self.cps() {
            wait_for(&format!("{short}'s check {state}"), PATIENCE, || {
                (self.vip_health(&ip)?["state"] == state).then_some(())
            });
        }
    }

    fn service_pids(&self, i: usize) -> Vec<u32> {
        let ns = &self.cps()[i].1;
        pids_named(ns, "mctl")
            .into_iter()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("stand-in"))
            })
            .collect()
    }

    /// The service on node `i` killed (its port closed: connection refused).
    pub fn stop_service(&self, i: usize) {
        for p in self.service_pids(i) {
            let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
        }
        wait_for("the stand-in to exit", PATIENCE, || {
            self.service_pids(i).is_empty().then_some(())
        });
    }

    /// The service on node `i` started again.
    pub fn start_service(&self, i: usize) {
        let (short, ns, _) = &self.cps()[i];
        let dir = self.node_dir(short);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("stand-in.log"))
            .expect("log");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(crate::bins::mctl())
            .args(["cluster", "stand-in", "--down-file"])
            .arg(dir.join("stand-in.down"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the stand-in");
        // `mctl cluster destroy` ends whatever runs in the namespace; a
        // thread reaps it when it exits.
        std::thread::spawn(move || child.wait());
        wait_for("the stand-in to run", PATIENCE, || {
            (!self.service_pids(i).is_empty()).then_some(())
        });
    }

    /// The service on node `i` answers 503 (`down`) or 200 again.
    pub fn service_down(&self, i: usize, down: bool) {
        let f = self.node_dir(&self.cps()[i].0).join("stand-in.down");
        if down {
            std::fs::write(&f, b"").expect("down file");
        } else {
            let _ = std::fs::remove_file(&f);
        }
    }
}
