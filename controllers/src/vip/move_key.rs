//! The move request of a VIP in etcd: `machined/vip-move/<ip>` holds the
//! name of the node the VIP should move to, on a lease of its own so it
//! ends by itself. Every node watches it: other candidates leave the queue,
//! the holder hands over once only the target is queued, and the target
//! removes it once it holds the VIP.

use super::election_error::{self, SessionError};
use super::election_value::check_node;
use etcd_client::{Client, Compare, CompareOp, EventType, Txn, TxnOp};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::watch;

const STEP: Duration = Duration::from_secs(2);

pub fn key(vip: IpAddr) -> String {
    format!("machined/vip-move/{vip}")
}

/// A value read strictly: a node name, else nothing is believed.
fn target(value: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(value).ok()?;
    check_node(s).ok()?;
    Some(s.to_string())
}

/// Publishes the requested target (or `None`) until dropped.
pub async fn observe(mut client: Client, vip: IpAddr, tx: watch::Sender<Option<String>>) {
    let k = key(vip);
    loop {
        let got = async {
            let r = client.get(k.as_str(), None).await?;
            let now = r.kvs().first().and_then(|kv| target(kv.value()));
            // Always sent: a session waits for this first reading.
            tx.send_replace(now);
            let rev = r.header().map_or(0, |h| h.revision());
            let opts = etcd_client::WatchOptions::new().with_start_revision(rev + 1);
            let mut events = client.watch(k.as_str(), Some(opts)).await?;
            while let Some(resp) = events.message().await? {
                for e in resp.events() {
                    let next = match e.event_type() {
                        EventType::Put => e.kv().and_then(|kv| target(kv.value())),
                        EventType::Delete => None,
                    };
                    tx.send_if_modified(|cur| std::mem::replace(cur, next.clone()) != next);
                }
            }
            Ok::<_, etcd_client::Error>(())
        }
        .await;
        if let Err(e) = got {
            tracing::debug!(%vip, error = %machined_resources::error::chain(&e), "watching the move request failed; retrying");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn request(
    client: &Client,
    vip: IpAddr,
    to: &str,
    ttl_secs: u32,
) -> Result<(), SessionError> {
    let mut c = client.clone();
    let lease =
        election_error::step("move lease", STEP, c.lease_grant(i64::from(ttl_secs), None)).await?;
    let opts = etcd_client::PutOptions::new().with_lease(lease.id());
    election_error::step("move request", STEP, c.put(key(vip), to, Some(opts)))
        .await
        .map(|_| ())
}

pub async fn clear(client: &Client, vip: IpAddr, to: &str) -> Result<(), SessionError> {
    let mut c = client.clone();
    let k = key(vip);
    let txn = Txn::new()
        .when(vec![Compare::value(k.as_str(), CompareOp::Equal, to)])
        .and_then(vec![TxnOp::delete(k.as_str(), None)]);
    election_error::step("clear move request", STEP, c.txn(txn))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_only_node_names() {
        assert_eq!(super::target(b"cp2").as_deref(), Some("cp2"));
        for bad in [&b""[..], b"a b", b"\xff", b"x/y"] {
            assert_eq!(super::target(bad), None, "{bad:?}");
        }
    }
}
