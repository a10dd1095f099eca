//! `mctl cluster start`: powers a stopped node of a local cluster on again
//! (a VM after `mctl shutdown` or a killed qemu: the same disk, so its
//! config and etcd data; a namespace node: machined again in its
//! namespace), as `create` started it, and waits for its API.

use super::launch::Launch;
use super::record::{self, Record};
use super::{check_name, lab, self_in, step, wait_until};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// The cluster's name, as given to `cluster create`.
    #[arg(long, default_value = "machined-demo")]
    pub name: String,
    /// Nodes to start, by short name (cp1, w1, ...).
    #[arg(required = true)]
    pub nodes: Vec<String>,
    /// How long to wait for each node's API.
    #[arg(long, default_value = "180s", value_parser = super::parse_secs)]
    pub wait: Duration,
}

pub fn start(a: &StartArgs) -> Result<()> {
    check_name(&a.name)?;
    let dir = record::dir(&a.name);
    let mut rec = Record::load(&dir).with_context(|| format!("no cluster {:?}", a.name))?;
    for short in &a.nodes {
        let Some(i) = rec.nodes.iter().position(|n| &n.name == short) else {
            let known: Vec<&str> = rec.nodes.iter().map(|n| n.name.as_str()).collect();
            bail!(
                "no node {short:?} in cluster {:?} (nodes: {})",
                a.name,
                known.join(", ")
            );
        };
        let node_dir = dir.join(short);
        if let Some(pid) = running(&rec, i, &dir) {
            bail!("{short} is running already (pid {pid})");
        }
        let launch = Launch::load(&node_dir)?;
        if rec.nodes[i].vm {
            let tap = super::qemu::tap_name(short, 0);
            if lab::ip(&["-n", &rec.lan, "link", "show", &tap]).is_err() {
                bail!(
                    "{short}'s tap {tap} is gone from {}: destroy and create the cluster again",
                    rec.lan
                );
            }
        }
        step(format!("starting {short} ({})", rec.nodes[i].ip));
        let pid = launch.run(&node_dir)?;
        rec.nodes[i].pid = Some(pid);
        rec.save(&dir)?;
        let n = &rec.nodes[i];
        let at = if n.vm { n.ip.as_str() } else { "127.0.0.1" };
        let deadline = Instant::now() + a.wait;
        wait_until(&format!("{short}'s API"), deadline, || {
            // Configured nodes answer with the cluster's certificates; a
            // node never configured is in maintenance mode.
            let ok = self_in(&dir, &n.netns, &["-e", at, "-n", at, "version"]).is_ok()
                || self_in(&dir, &n.netns, &["-n", at, "version", "--insecure"]).is_ok();
            Ok(ok.then_some(()))
        })?;
        println!("{short} is up (pid {pid})");
    }
    Ok(())
}

/// The node's process, if one of ours still runs: a VM's qemu by the
/// recorded pid, a namespace node's machined by its namespace.
fn running(rec: &Record, i: usize, dir: &std::path::Path) -> Option<u32> {
    let n = &rec.nodes[i];
    let alive = |pid: u32| lab::is_ours(pid, dir) && !lab::is_zombie(pid);
    if n.vm {
        return n.pid.filter(|p| alive(*p));
    }
    lab::pids_in(&n.netns).into_iter().find(|p| {
        alive(*p)
            && std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "machined")
    })
}
