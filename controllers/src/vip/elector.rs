//! What an election session needs of the service it elects through (etcd),
//! behind traits: the session's own logic (campaign, hold, fail-closed
//! release) then runs against a fake elector in unit tests, and against
//! etcd ([`super::elector_etcd::EtcdElector`]) in machined.

use super::election_error::SessionError;
use super::keepalive::LeaseState;
use super::observe::Holder as Observed;
use super::probe::Prober;
use super::runner::Desire;
use super::shared::{LetGo, Task};
use async_trait::async_trait;
use etcd_client::LeaderKey;
use futures::future::BoxFuture;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

#[async_trait]
pub trait Elector: Send + Sync {
    /// A campaign through one member (this node's own first).
    async fn connect(&self, d: &Desire) -> Result<Box<dyn Campaign>, SessionError>;
    /// Looks at whether the service can decide at all (etcd: quorum).
    fn quorum(&self, d: &Desire) -> Arc<dyn QuorumLook>;
}

/// Whether the election service can decide, as this node can tell.
pub trait QuorumLook: Send + Sync {
    /// `Some(member)`: a member served a linearizable read within `within`.
    fn look(&self, within: Duration) -> BoxFuture<'_, Option<String>>;
}

/// One session's line to the election service.
#[async_trait]
pub trait Campaign: Send + Sync {
    /// The member this campaign talks to.
    fn member(&self) -> &str;
    /// A lease of `ttl_secs`.
    async fn grant(&self, ttl_secs: u32) -> Result<i64, SessionError>;
    /// Keeps `lease` alive, publishing each acknowledgement's send time.
    fn keep_alive(
        &self,
        lease: i64,
        ttl: Duration,
        granted_at: Instant,
        tx: watch::Sender<LeaseState>,
        kick: Arc<Notify>,
    ) -> Task;
    /// Publishes who holds election `name`.
    fn observe(&self, name: String, tx: watch::Sender<Option<Observed>>) -> Task;
    /// Probes the holder and deposes it when every candidate agrees it is dead.
    fn probe(&self, prober: Prober, holder: watch::Receiver<Option<Observed>>) -> Task;
    /// Resolves once this node leads election `name`.
    async fn campaign(
        &self,
        name: &str,
        value: &str,
        lease: i64,
    ) -> Result<LeaderKey, SessionError>;
    /// Every key in election `name` (the holder's and the queued
    /// candidates'), read strictly; unreadable values are left out.
    async fn candidates(&self, name: &str) -> Result<Vec<Observed>, SessionError>;
    /// Resolves when the leader key is deleted or can no longer be watched.
    fn key_gone(&self, key: &LeaderKey) -> BoxFuture<'static, LetGo>;
    /// Moves the service's own leadership away from this node while it
    /// holds the VIP (etcd), if there is such a thing.
    fn keep_leadership_away(&self, d: &Desire) -> Option<Task>;
    /// Publishes the node a pending move request of `vip` names (`None`:
    /// none), until dropped; the first reading is always sent.
    fn observe_move(&self, vip: IpAddr, tx: watch::Sender<Option<String>>) -> Task;
    /// Asks that `vip` move to node `to`: the request lasts `ttl_secs` at
    /// most (its own lease), so a target that never takes over cannot keep
    /// the others out for long.
    async fn request_move(&self, vip: IpAddr, to: &str, ttl_secs: u32) -> Result<(), SessionError>;
    /// Withdraws the move request of `vip` if it still names `to`.
    async fn clear_move(&self, vip: IpAddr, to: &str) -> Result<(), SessionError>;
    /// Puts this node's list of the members of VIP group `(group, node)`
    /// (on `lease`) and publishes what differs from other nodes' lists,
    /// until dropped.
    fn watch_group_members(
        &self,
        who: (String, String),
        members: Vec<IpAddr>,
        lease: i64,
        tx: watch::Sender<String>,
    ) -> Task;
    /// Replaces the value the leader (this campaign, holding `key`) shows.
    async fn proclaim(&self, key: &LeaderKey, value: &str) -> Result<(), SessionError>;
    /// Proof, on demand, that this campaign still leads with `key` (on
    /// `lease`): asked before every frame that speaks for the VIP.
    fn confirmer(
        &self,
        key: &LeaderKey,
        lease: i64,
        within: std::time::Duration,
    ) -> Arc<dyn super::proof::Confirm>;
    /// Takes ownership of address `ip` for node `node`'s session on
    /// `lease`, before claiming it (see `owner_key.rs`).
    fn owner(&self, ip: IpAddr, node: &str, lease: i64) -> Arc<dyn super::owner_key::Owner>;
    /// Gives up the lead held with `key` on `lease`: the key goes, and the
    /// next candidate wins (etcd: the lease is revoked, one write that
    /// deletes the key with it).
    async fn release(&self, key: LeaderKey, lease: i64) -> Result<(), SessionError>;
    async fn revoke(&self, lease: i64) -> Result<(), SessionError>;
    /// Revokes `lease` through a member other than this campaign's.
    async fn revoke_elsewhere(&self, d: &Desire, lease: i64) -> Result<(), SessionError>;
}
