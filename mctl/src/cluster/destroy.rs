//! `mctl cluster destroy`: stop what we started, remove namespaces, files
//! and our context, even after a half-failed create.

use super::record::{self, Record};
use super::{check_name, lab, step};
use crate::mctlconfig::{self, MctlConfig};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Duration;

pub fn destroy(name: &str) -> Result<()> {
    check_name(name)?;
    let dir = record::dir(name);
    let rec = match Record::load(&dir) {
        Ok(r) => r,
        Err(e) if !dir.exists() => bail!("no cluster {name:?} ({}): {e}", dir.display()),
        Err(e) => {
            eprintln!(
                "warning: {}: {e}; removing what the name implies",
                Record::path(&dir).display()
            );
            Record::default()
        }
    };
    for n in &rec.nodes {
        if let Some(pid) = n.pid.filter(|p| lab::is_ours(*p, &dir)) {
            step(format!("stopping machined on {} (pid {pid})", n.name));
            lab::stop_pid(pid, Duration::from_secs(15));
        }
    }
    for ns in &rec.namespaces {
        if !lab::netns_exists(ns) {
            continue;
        }
        // What is left inside our namespaces was started by us (etcd, a
        // machined that did not exit): end it before removing the namespace.
        for pid in lab::pids_in(ns) {
            lab::stop_pid(pid, Duration::from_secs(5));
        }
        step(format!("removing namespace {ns}"));
        lab::ip(&["netns", "del", ns])?;
    }
    remove_dir(&dir)?;
    // Our contexts (they name our LAN namespace; one may have been renamed
    // on merge) leave the client config too.
    let user_config = mctlconfig::path(&None);
    if let Ok(mut cfg) = MctlConfig::load(&user_config) {
        let lan = format!("{name}-lan");
        let ours: Vec<String> = cfg
            .contexts
            .iter()
            .filter(|(_, c)| c.netns.as_deref() == Some(lan.as_str()))
            .map(|(n, _)| n.clone())
            .collect();
        for n in &ours {
            cfg.contexts.remove(n);
        }
        if ours.contains(&cfg.context) {
            cfg.context = cfg.contexts.keys().next().cloned().unwrap_or_default();
        }
        if !ours.is_empty() {
            cfg.save(&user_config)?;
        }
    }
    println!("cluster {name:?} destroyed");
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}
