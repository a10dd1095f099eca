//! Observes who holds a VIP (the election's leader), for VIPStatus on every
//! node and for the holder prober.

pub use super::election_value::Holder;
use etcd_client::Client;
use std::time::Duration;
use tokio::sync::watch;

/// Publishes the current holder (or `None` when unknown) until dropped.
pub async fn observe(mut client: Client, name: String, tx: watch::Sender<Option<Holder>>) {
    loop {
        match client.observe(name.clone()).await {
            Ok(mut stream) => {
                while let Ok(Some(resp)) = stream.message().await {
                    let holder = resp.kv().and_then(|kv| {
                        Holder::decode(kv.value(), kv.lease())
                            .map_err(|e| tracing::warn!(%name, error = %e, "ignoring the holder's election value"))
                            .ok()
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
