//! The holder's link changing its MAC (a bond failing over with
//! `failOverMac: active`): a wire opened with the new MAC, which the holder
//! announces on at once, and the election value proclaimed again with it,
//! so candidates probe the holder where it now answers.

use super::elector::Campaign;
use super::observe::Holder as Observed;
use super::runner::Desire;
use super::wire::{Wire, Wires};
use etcd_client::LeaderKey;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Follows the link's MAC while holding; runs until dropped.
pub async fn follow(
    c: &dyn Campaign,
    key: &LeaderKey,
    wires: &dyn Wires,
    (link, vip): (u32, IpAddr),
    mut desire: watch::Receiver<Desire>,
    tx: watch::Sender<Arc<dyn Wire>>,
    mut value: Observed,
) {
    loop {
        let cur = value.mac;
        let next = desire
            .wait_for(|d| d.mac.is_some() && d.mac != cur)
            .await
            .map(|d| d.mac);
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
        value.mac = Some(mac);
        if let Err(e) = c.proclaim(key, &value.encode()).await {
            tracing::warn!(%vip, error = %machined_resources::error::chain(&e), "proclaiming the new MAC failed");
        }
    }
}
