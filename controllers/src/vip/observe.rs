//! Observes who holds a VIP (the election's leader), for VIPStatus on every
//! node, the holder prober, and the fallbacks that wait for "nobody holds".
//! etcd's Observe streams each new leader but says nothing when the leader
//! key goes away with nobody queued; so the current leader's key is watched
//! too, and its deletion reported as no holder.

pub use super::election_value::Holder;
use etcd_client::{Client, EventType};
use std::time::Duration;
use tokio::sync::watch;

fn publish(tx: &watch::Sender<Option<Holder>>, holder: Option<Holder>) {
    tx.send_if_modified(|cur| {
        let changed = *cur != holder;
        *cur = holder;
        changed
    });
}

/// Resolves with true when `key`, as of `revision`, is deleted (watched
/// from that revision on, so a deletion before the watch starts is seen
/// too), with false when it cannot be watched.
async fn deleted(mut client: Client, key: Vec<u8>, revision: i64) -> bool {
    let opts = etcd_client::WatchOptions::new().with_start_revision(revision + 1);
    let Ok(mut events) = client.watch(key, Some(opts)).await else {
        return false;
    };
    while let Ok(Some(resp)) = events.message().await {
        if resp
            .events()
            .iter()
            .any(|e| e.event_type() == EventType::Delete)
        {
            return true;
        }
    }
    false
}

type Gone = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// Publishes the current holder (or `None` when nobody holds, or it is
/// unknown) until dropped.
pub async fn observe(mut client: Client, name: String, tx: watch::Sender<Option<Holder>>) {
    loop {
        match client.observe(name.clone()).await {
            Ok(mut stream) => {
                // The key of the leader last seen, watched for deletion.
                let mut gone: Option<Gone> = None;
                loop {
                    let msg = match gone.as_mut() {
                        Some(g) => tokio::select! {
                            m = stream.message() => m,
                            d = g => {
                                gone = None;
                                if d {
                                    publish(&tx, None);
                                    continue;
                                }
                                // Unwatchable: observe again from scratch.
                                break;
                            }
                        },
                        None => stream.message().await,
                    };
                    let Ok(Some(resp)) = msg else { break };
                    let kv = resp.kv();
                    let holder = kv.and_then(|kv| {
                        Holder::decode(kv.value(), kv.lease())
                            .map_err(|e| tracing::warn!(%name, error = %machined_resources::error::chain(&e), "ignoring the holder's election value"))
                            .ok()
                    });
                    gone = kv.map(|kv| {
                        Box::pin(deleted(
                            client.clone(),
                            kv.key().to_vec(),
                            kv.mod_revision(),
                        )) as Gone
                    });
                    publish(&tx, holder);
                }
            }
            Err(e) => {
                tracing::debug!(%name, error = %machined_resources::error::chain(&e), "observe failed; retrying")
            }
        }
        publish(&tx, None);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
