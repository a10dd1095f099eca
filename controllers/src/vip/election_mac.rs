//! The holder's link changing its MAC (a bond failing over with
//! `failOverMac: active`): a wire opened with the new MAC, which the holder
//! announces on at once, and the election value proclaimed again with it,
//! so candidates probe the holder where it now answers.

use super::elector::Campaign;
use super::observe::Holder as Observed;
use super::runner::{Desire, MemberLink};
use super::wire::{Wire, Wires};
use etcd_client::LeaderKey;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Follows the link of group member `member` (0: the lead, whose MAC the
/// election value names; its wire opened on `link` with `mac`) while
/// holding; runs until dropped.
pub async fn follow(
    c: &dyn Campaign,
    key: &LeaderKey,
    wires: &dyn Wires,
    (member, vip, link): (usize, IpAddr, MemberLink),
    mut desire: watch::Receiver<Desire>,
    tx: watch::Sender<Arc<dyn Wire>>,
    mut value: Observed,
) {
    let (link, mut cur) = (link.link_index, link.mac);
    loop {
        let next = desire
            .wait_for(|d| {
                let m = d.member(member).mac;
                m.is_some() && m != cur
            })
            .await
            .map(|d| d.member(member).mac);
        let Ok(Some(mac)) = next else {
            return std::future::pending().await;
        };
        tracing::info!(%vip, mac = %crate::kernel::packet::format_mac(&mac), "the link's MAC changed");
        match wires.open(link, mac, vip) {
            Ok(w) => {
                tx.send_replace(w);
            }
            Err(e) => {
                tracing::warn!(%vip, error = %machined_resources::error::chain(&e), "cannot open the link with its new MAC")
            }
        }
        cur = Some(mac);
        if member > 0 {
            continue;
        }
        value.mac = Some(mac);
        if let Err(e) = c.proclaim(key, &value.encode()).await {
            tracing::warn!(%vip, error = %machined_resources::error::chain(&e), "proclaiming the new MAC failed");
        }
    }
}
