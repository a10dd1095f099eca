//! Observes who holds a VIP (the election's leader), for VIPStatus on every
//! node and for the holder prober.

use etcd_client::Client;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::watch;

/// What a candidate puts in its election key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub node: String,
    #[serde(default)]
    pub ip: Option<IpAddr>,
    /// Its link's MAC (`aa:bb:...`), so probes need not be broadcast.
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(skip)]
    pub lease: i64,
}

/// Publishes the current holder (or `None` when unknown) until dropped.
pub async fn observe(mut client: Client, name: String, tx: watch::Sender<Option<Holder>>) {
    loop {
        match client.observe(name.clone()).await {
            Ok(mut stream) => {
                while let Ok(Some(resp)) = stream.message().await {
                    let holder = resp.kv().and_then(|kv| {
                        let mut h: Holder = serde_json::from_slice(kv.value()).ok()?;
                        h.lease = kv.lease();
                        Some(h)
                    });
                    tx.send_if_modified(|cur| {
                        let changed = *cur != holder;
                        *cur = holder.clone();
                        changed
                    });
                }
            }
            Err(e) => tracing::debug!(%name, error = %e, "observe failed; retrying"),
        }
        tx.send_if_modified(|cur| cur.take().is_some());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
