//! `mctl vip forfeit [IP] [--for 5m]` and `mctl vip move IP --to NODE`:
//! planned moves of the VIP, then a wait until it has moved, saying where;
//! and the break-glass `pin` / `unpin` (`vip_pin.rs`).

use crate::output;
use crate::session::Session;
use anyhow::{anyhow, bail, Context, Result};
use machined_client::convert;
use machined_proto as pb;
use machined_resources::types::{EtcdSpec, VipStatus};
use std::time::{Duration, Instant};

#[derive(clap::Subcommand, Debug)]
pub enum VipCmd {
    /// Hand the VIP over to the next candidate and stay out of its election
    /// for a while (on the holder; `--for 0` ends a forfeit).
    Forfeit {
        /// The VIP (default: every VIP of the node).
        ip: Option<String>,
        /// How long the node stays out of the election (Go syntax: 30s,
        /// 1m30s; 0 ends a forfeit).
        #[arg(long = "for", default_value = "1m", value_parser = parse_duration)]
        for_: Duration,
    },
    /// Move the VIP to a given node (its name or address); any node takes
    /// the request.
    Move {
        /// The VIP to move.
        ip: String,
        /// The node to move it to: its name or address.
        #[arg(long)]
        to: String,
    },
    /// Break-glass, for when etcd has lost quorum and nobody can be
    /// elected: put the VIP on one node (-n). Refused while etcd has
    /// quorum. The node answers for the VIP only while etcd still has none,
    /// and the pin ends by itself when etcd answers again.
    Pin {
        /// The VIP to pin.
        ip: String,
        /// Answer for the VIP without etcd's proof (required).
        #[arg(long)]
        force: bool,
        /// Wait until the node has claimed the VIP (it first waits out a
        /// lease); --wait=false returns at once.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        wait: bool,
    },
    /// End a pin on one node (-n); the election decides again once etcd
    /// has quorum.
    Unpin {
        /// The VIP to unpin.
        ip: String,
    },
}

/// A duration in Go's syntax (`90s`, `5m`, `1m30s`), for clap.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    machined_resources::duration::parse(s).map_err(|e| e.to_string())
}

async fn vip_status(s: &Session, node: &str, ip: &str) -> Result<VipStatus> {
    s.spec(node, ip).await
}

/// Waits (15 s at most) until `ip`'s holder, as `node` sees it, passes
/// `done`; returns that holder.
async fn wait_holder(
    s: &Session,
    node: &str,
    ip: &str,
    done: impl Fn(&str) -> bool,
) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let st = vip_status(s, node, ip).await?;
        if !st.holder.is_empty() && done(&st.holder) {
            return Ok(st.holder);
        }
        if Instant::now() > deadline {
            bail!("{ip} is still held by {:?} after 15 s", st.holder);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A node's name as the election knows it: given, or read from the node at
/// that address.
async fn node_name(s: &Session, to: &str) -> Result<String> {
    if to.parse::<std::net::IpAddr>().is_err() {
        return Ok(to.to_string());
    }
    let mut c = s
        .resources(to)
        .await
        .with_context(|| format!("asking {to} for its name"))?;
    let r = c
        .get(pb::GetRequest {
            r#type: "EtcdSpec".into(),
            id: EtcdSpec::ID.into(),
            namespace: String::new(),
        })
        .await
        .map_err(output::status)
        .with_context(|| format!("{to} is not a control plane"))?;
    let res = r
        .into_inner()
        .resource
        .as_ref()
        .and_then(convert::from_proto)
        .ok_or_else(|| anyhow!("{to}: malformed EtcdSpec"))?;
    let spec: EtcdSpec = serde_json::from_value(res.spec)?;
    Ok(spec.name)
}

pub async fn run(s: &Session, cmd: VipCmd) -> Result<bool> {
    match cmd {
        VipCmd::Pin { ip, force, wait } => crate::vip_pin::pin(s, ip, force, wait).await,
        VipCmd::Unpin { ip } => crate::vip_pin::unpin(s, ip).await,
        VipCmd::Forfeit { ip, for_ } => {
            let secs = u32::try_from(for_.as_secs()).unwrap_or(u32::MAX);
            Ok(s.each(
                |node| {
                    let ip = ip.clone().unwrap_or_default();
                    async move {
                        let mut c = s.vip(&node).await?;
                        let r = c
                            .forfeit(pb::ForfeitRequest { ip, for_secs: secs })
                            .await
                            .map_err(output::status)?
                            .into_inner();
                        if secs == 0 {
                            return Ok(format!("forfeit of {} ended", r.ips.join(", ")));
                        }
                        let mut lines = Vec::new();
                        for ip in &r.ips {
                            let me = vip_status(s, &node, ip).await.ok();
                            let was = me.filter(|m| m.holding || !m.holder.is_empty());
                            let now = wait_holder(s, &node, ip, |h| {
                                !was.as_ref().is_some_and(|w| w.holding && w.holder == h)
                            })
                            .await?;
                            lines.push(format!(
                                "{ip}: out of the election until {}; held by {now}",
                                r.until
                            ));
                        }
                        Ok(lines.join("\n"))
                    }
                },
                |node, msg: String| println!("{node}: {msg}"),
            )
            .await)
        }
        VipCmd::Move { ip, to } => {
            let name = node_name(s, &to).await?;
            Ok(s.each(
                |node| {
                    let (ip, name) = (ip.clone(), name.clone());
                    async move {
                        let mut c = s.vip(&node).await?;
                        c.r#move(pb::MoveRequest {
                            ip: ip.clone(),
                            to: name.clone(),
                        })
                        .await
                        .map_err(output::status)?;
                        let now = wait_holder(s, &node, &ip, |h| h == name).await?;
                        Ok(format!("{ip} is held by {now}"))
                    }
                },
                |node, msg: String| println!("{node}: {msg}"),
            )
            .await)
        }
    }
}
