//! `mctl reboot` and `mctl shutdown`: each node stops cleanly (its VIP
//! released first, then etcd), then reboots or powers off. With several
//! nodes they go one at a time: the next is asked only once the last is
//! back (a new machined answers) with its etcd member running under a
//! leader, or, for a shutdown, once it no longer answers. Each node's
//! quorum guard then judges the cluster as it is, not as it was a moment
//! ago, so `-n cp1,cp2,cp3` never takes two members down together.

use crate::output;
use crate::session::Session;
use anyhow::{bail, Result};
use machined_proto as pb;
use machined_resources::types::EtcdStatus;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct PowerArgs {
    /// Even when a control plane's etcd would lose quorum.
    #[arg(long)]
    pub force: bool,
    /// Wait for each node (back with etcd healthy, or down) before the
    /// next; `--wait=false` sends every request at once.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    /// How long to wait for each node.
    #[arg(long, default_value = "10m", value_parser = crate::vip::parse_duration)]
    pub timeout: Duration,
}

/// One poll of a node: bounded, since a node that is down may not refuse.
const POLL: Duration = Duration::from_secs(3);
const EVERY: Duration = Duration::from_millis(500);

pub async fn run(s: &Session, reboot: bool, a: &PowerArgs) -> Result<bool> {
    if !a.wait {
        let call = |node: String| async move { send(s, &node, reboot, a.force).await };
        let show = |node: &str, ()| println!("{node}: {}", what(reboot));
        return Ok(s.each(call, show).await);
    }
    for node in &s.targets {
        let before = instance(s, node).await?;
        let etcd_before = etcd(s, node).await.ok().filter(|e| e.is_running());
        send(s, node, reboot, a.force)
            .await
            .map_err(|e| anyhow::anyhow!("{node}: {}", output::chain(&e)))?;
        println!("{node}: {}", what(reboot));
        let t0 = Instant::now();
        let deadline = t0 + a.timeout;
        if !reboot {
            until(deadline, node, "for it to power off", || async {
                instance(s, node).await.is_err()
            })
            .await?;
            println!("{node}: down after {:.1}s", t0.elapsed().as_secs_f64());
            continue;
        }
        until(deadline, node, "for it to come back", || async {
            instance(s, node).await.is_ok_and(|i| i != before)
        })
        .await?;
        println!("{node}: back after {:.1}s", t0.elapsed().as_secs_f64());
        if let Some(was) = etcd_before {
            until(deadline, node, "for its etcd to be healthy", || async {
                etcd(s, node).await.is_ok_and(|e| {
                    e.is_running() && !e.leader.is_empty() && e.members.len() >= was.members.len()
                })
            })
            .await?;
            println!(
                "{node}: etcd running with {} members under a leader after {:.1}s",
                was.members.len(),
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(true)
}

fn what(reboot: bool) -> &'static str {
    if reboot {
        "rebooting (the VIP is released first, then etcd stops)"
    } else {
        "shutting down (the VIP is released first, then etcd stops)"
    }
}

async fn send(s: &Session, node: &str, reboot: bool, force: bool) -> Result<()> {
    let mut c = s.machine(node).await?;
    if reboot {
        c.reboot(pb::RebootRequest { force })
            .await
            .map_err(output::status)?;
    } else {
        c.shutdown(pb::ShutdownRequest { force })
            .await
            .map_err(output::status)?;
    }
    Ok(())
}

/// The node's machined instance, if it answers.
async fn instance(s: &Session, node: &str) -> Result<String> {
    let ask = async {
        let r = s
            .machine(node)
            .await?
            .version(pb::VersionRequest {})
            .await
            .map_err(output::status)?;
        anyhow::Ok(r.into_inner().instance)
    };
    tokio::time::timeout(POLL, ask).await?
}

async fn etcd(s: &Session, node: &str) -> Result<EtcdStatus> {
    tokio::time::timeout(POLL, s.spec(node, EtcdStatus::ID)).await?
}

async fn until<F, Fut>(deadline: Instant, node: &str, what: &str, mut ok: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if ok().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{node}: timed out waiting {what}; the nodes after it were left alone");
        }
        tokio::time::sleep(EVERY).await;
    }
}
