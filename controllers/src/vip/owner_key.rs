//! One owner per address, whatever the elections: before a holder claims
//! a VIP it takes `machined/vip-owner/<ip>` in etcd, on its session's lease
//! (created only if absent). Nodes that agree on the VIP groups never
//! contend for it (one election decides among them); nodes whose configs
//! disagree (a VIP grouped on one node, alone on another) campaign in
//! different elections for one address, and this key keeps them from
//! answering for it together: the second waits until the first's lease is
//! gone. It goes with the lease (released, revoked, expired).

use super::election_error::{self, SessionError};
use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};
use futures::future::BoxFuture;
use futures::FutureExt;
use std::net::IpAddr;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(2);

pub fn key(ip: IpAddr) -> String {
    format!("machined/vip-owner/{ip}")
}

/// Takes or confirms the ownership of one address for a session.
pub trait Owner: Send + Sync {
    /// `None`: this session owns it (now or already); `Some(node)`:
    /// another session does.
    fn own(&self) -> BoxFuture<'_, Result<Option<String>, SessionError>>;
}

pub struct EtcdOwner {
    pub client: Client,
    pub ip: IpAddr,
    pub node: String,
    pub lease: i64,
}

impl Owner for EtcdOwner {
    fn own(&self) -> BoxFuture<'_, Result<Option<String>, SessionError>> {
        async move {
            let k = key(self.ip);
            let txn = Txn::new()
                .when(vec![Compare::create_revision(
                    k.as_str(),
                    CompareOp::Equal,
                    0,
                )])
                .and_then(vec![TxnOp::put(
                    k.as_str(),
                    self.node.as_str(),
                    Some(PutOptions::new().with_lease(self.lease)),
                )])
                .or_else(vec![TxnOp::get(k.as_str(), None)]);
            let mut c = self.client.clone();
            let r = election_error::step("VIP owner key", STEP, c.txn(txn)).await?;
            if r.succeeded() {
                return Ok(None);
            }
            let held = r.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Get(g) => g
                    .kvs()
                    .first()
                    .map(|kv| (kv.lease(), owner_name(kv.value()))),
                _ => None,
            });
            Ok(match held {
                Some((lease, _)) if lease == self.lease => None,
                Some((_, name)) => Some(name),
                // Gone between the compare and the read cannot happen in a
                // transaction; ask again.
                None => Some("nobody yet".into()),
            })
        }
        .boxed()
    }
}

/// The owner's name as read, bounded, for messages only.
fn owner_name(value: &[u8]) -> String {
    String::from_utf8_lossy(value).chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_key_per_address_and_a_bounded_name() {
        assert_eq!(
            super::key("10.5.0.50".parse().unwrap()),
            "machined/vip-owner/10.5.0.50"
        );
        assert_eq!(
            super::key("fd00::50".parse().unwrap()),
            "machined/vip-owner/fd00::50"
        );
        assert_eq!(super::owner_name(&[b'a'; 100]).len(), 64);
        assert_eq!(super::owner_name(b"cp1\xff"), "cp1\u{fffd}");
    }
}
