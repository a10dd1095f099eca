//! Planned moves of the VIP through the real `mctl vip forfeit|move`.

use crate::cluster::Cluster;
use crate::node::Run;

impl Cluster {
    /// `mctl -n NODE vip forfeit VIP --for SECSs` on control plane `i`.
    pub fn forfeit(&self, i: usize, vip: &str, secs: u32) -> Run {
        let ip = self.cps()[i].2.clone();
        self.mctl(&[
            "-n",
            &ip,
            "vip",
            "forfeit",
            vip,
            "--for",
            &format!("{secs}s"),
        ])
    }

    /// `mctl -n VIA vip move VIP --to TO` (a node's name or address).
    pub fn move_vip(&self, via: usize, vip: &str, to: &str) -> Run {
        let ip = self.cps()[via].2.clone();
        self.mctl(&["-n", &ip, "vip", "move", vip, "--to", to])
    }
}

impl Cluster {
    /// `mctl -n NODE vip pin VIP [--force]` on node `i`.
    pub fn pin(&self, i: usize, vip: &str, force: bool) -> Run {
        let ip = self.cps()[i].2.clone();
        let mut args = vec!["-n", &ip, "vip", "pin", vip];
        if force {
            args.push("--force");
        }
        self.mctl(&args)
    }
}
