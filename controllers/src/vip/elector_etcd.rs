//! The election through etcd: one client on one member per campaign (this
//! node's own first) for the streams (campaign, observe, watches), and a
//! line over every member for what must not wait on one hung member: the
//! lease's keep-alives, the proofs, resigning and revoking. Every request
//! is bounded.

use super::election_error::{self, SessionError};
use super::elector::{Campaign, Elector, QuorumLook};
use super::keepalive::{self, LeaseState};
use super::observe::{self, Holder as Observed};
use super::probe::Prober;
use super::runner::Desire;
use super::shared::LetGo;
use super::shared::Task;
use crate::etcd::client as etcd;
use crate::etcd::line::Line;
use crate::etcd::quorum::{Quorum, QuorumProbe};
use async_trait::async_trait;
use etcd_client::{Client, EventType, GetOptions, LeaderKey};
use futures::future::BoxFuture;
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Every etcd request of a session is bounded by this.
const STEP: Duration = Duration::from_secs(1);

/// One etcd request of the session, bounded by [`STEP`].
async fn etcd_step<T>(
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, SessionError> {
    election_error::step(what, STEP, f).await
}

/// Most election keys read when looking for a healthy candidate.
const MAX_CANDIDATES: i64 = 64;

/// The real elector.
pub struct EtcdElector;

struct EtcdCampaign {
    member: String,
    client: Client,
    line: Arc<Line>,
}

/// A release step's wait for one member before the next is asked too.
const RELEASE_TRY: Duration = Duration::from_millis(100);

#[async_trait]
impl Elector for EtcdElector {
    async fn connect(&self, d: &Desire) -> Result<Box<dyn Campaign>, SessionError> {
        let (member, client) =
            etcd::connect_first(d.local_endpoint.as_deref(), &d.endpoints, d.tls.as_ref()).await?;
        tracing::debug!(%member, "election session through this etcd member");
        let line = Line::new(
            (member.clone(), client.clone()),
            &d.endpoints,
            d.tls.clone(),
        );
        Ok(Box::new(EtcdCampaign {
            member,
            client,
            line,
        }))
    }

    fn quorum(&self, d: &Desire) -> Arc<dyn QuorumLook> {
        Arc::new(QuorumProbe::new(
            d.local_endpoint.clone(),
            d.endpoints.clone(),
            d.tls.clone(),
        ))
    }
}

impl QuorumLook for QuorumProbe {
    fn look(&self, within: Duration) -> BoxFuture<'_, Option<String>> {
        async move {
            match QuorumProbe::look(self, within).await {
                Quorum::Answers(m) => Some(m),
                Quorum::Silent(why) => {
                    tracing::debug!(%why, "etcd has no quorum as this node can tell");
                    None
                }
            }
        }
        .boxed()
    }
}

#[async_trait]
impl Campaign for EtcdCampaign {
    fn member(&self) -> &str {
        &self.member
    }

    async fn grant(&self, ttl_secs: u32) -> Result<i64, SessionError> {
        let mut c = self.client.clone();
        Ok(
            etcd_step("lease grant", c.lease_grant(i64::from(ttl_secs), None))
                .await?
                .id(),
        )
    }

    fn keep_alive(
        &self,
        lease: i64,
        ttl: Duration,
        granted_at: Instant,
        tx: watch::Sender<LeaseState>,
        kick: Arc<Notify>,
    ) -> Task {
        let line = self.line.clone();
        async move {
            // Every member connected early: moving off a hung one then
            // costs no handshake.
            let warm = line.clone();
            tokio::spawn(async move { warm.connect_all().await });
            keepalive::keep_alive(line, lease, ttl, granted_at, tx, kick).await
        }
        .boxed()
    }

    fn observe(&self, name: String, tx: watch::Sender<Option<Observed>>) -> Task {
        observe::observe(self.client.clone(), name, tx).boxed()
    }

    fn probe(&self, prober: Prober, holder: watch::Receiver<Option<Observed>>) -> Task {
        prober.run(self.client.clone(), holder).boxed()
    }

    async fn campaign(
        &self,
        name: &str,
        value: &str,
        lease: i64,
    ) -> Result<LeaderKey, SessionError> {
        let mut c = self.client.clone();
        let won = c
            .campaign(name, value, lease)
            .await
            .map_err(|source| SessionError::Etcd {
                what: "campaign",
                source,
            })?;
        won.leader().cloned().ok_or(SessionError::NoLeaderKey)
    }

    async fn candidates(&self, name: &str) -> Result<Vec<Observed>, SessionError> {
        let mut c = self.client.clone();
        let opts = GetOptions::new().with_prefix().with_limit(MAX_CANDIDATES);
        let r = etcd_step("candidates", c.get(format!("{name}/"), Some(opts))).await?;
        Ok(r.kvs()
            .iter()
            .filter_map(|kv| Observed::decode(kv.value(), kv.lease()).ok())
            .collect())
    }

    fn key_gone(&self, key: &LeaderKey) -> BoxFuture<'static, LetGo> {
        let (mut client, key) = (self.client.clone(), key.key().to_vec());
        async move {
            let mut events = match client.watch(key, None).await {
                Ok(w) => w,
                Err(_) => return LetGo::KeyWatchEnded,
            };
            loop {
                match events.message().await {
                    Ok(Some(resp)) => {
                        if resp
                            .events()
                            .iter()
                            .any(|e| e.event_type() == EventType::Delete)
                        {
                            return LetGo::KeyDeleted;
                        }
                    }
                    Ok(None) | Err(_) => return LetGo::KeyWatchEnded,
                }
            }
        }
        .boxed()
    }

    fn keep_leadership_away(&self, d: &Desire) -> Option<Task> {
        let local = d.local_endpoint.clone()?;
        Some(keep_etcd_leadership_away(vec![local], d.tls.clone()).boxed())
    }

    fn observe_move(&self, vip: std::net::IpAddr, tx: watch::Sender<Option<String>>) -> Task {
        super::move_key::observe(self.client.clone(), vip, tx).boxed()
    }

    async fn request_move(
        &self,
        vip: std::net::IpAddr,
        to: &str,
        ttl_secs: u32,
    ) -> Result<(), SessionError> {
        super::move_key::request(&self.client, vip, to, ttl_secs).await
    }

    async fn clear_move(&self, vip: std::net::IpAddr, to: &str) -> Result<(), SessionError> {
        super::move_key::clear(&self.client, vip, to).await
    }

    fn owner(
        &self,
        ip: std::net::IpAddr,
        node: &str,
        lease: i64,
    ) -> Arc<dyn super::owner_key::Owner> {
        Arc::new(super::owner_key::EtcdOwner {
            client: self.client.clone(),
            ip,
            node: node.to_string(),
            lease,
        })
    }

    fn watch_group_members(
        &self,
        who: (String, String),
        members: Vec<std::net::IpAddr>,
        lease: i64,
        tx: watch::Sender<String>,
    ) -> Task {
        super::group_members::watch_members(self.client.clone(), who, members, lease, tx).boxed()
    }

    async fn proclaim(&self, key: &LeaderKey, value: &str) -> Result<(), SessionError> {
        let mut c = self.client.clone();
        let opts = etcd_client::ProclaimOptions::new().with_leader(key.clone());
        etcd_step("proclaim", c.proclaim(value, Some(opts)))
            .await
            .map(|_| ())
    }

    fn confirmer(
        &self,
        key: &LeaderKey,
        lease: i64,
        within: std::time::Duration,
    ) -> Arc<dyn super::proof::Confirm> {
        Arc::new(super::proof::EtcdConfirm {
            line: self.line.clone(),
            key: key.key().to_vec(),
            rev: key.rev(),
            lease,
            within,
        })
    }

    /// Revoking deletes the key in one write; a resign and then a revoke
    /// were two, and the new holder's first proof waited behind both.
    async fn release(&self, _key: LeaderKey, lease: i64) -> Result<(), SessionError> {
        self.revoke(lease).await
    }

    async fn revoke(&self, lease: i64) -> Result<(), SessionError> {
        self.line
            .call(RELEASE_TRY, STEP, |mut c| async move {
                match c.lease_revoke(lease).await {
                    // Already gone (expired, or revoked by a candidate).
                    Err(etcd_client::Error::GRpcStatus(s)) if s.code() == tonic::Code::NotFound => {
                        Ok(())
                    }
                    r => r.map(|_| ()),
                }
            })
            .await
            .map_err(SessionError::Connect)
    }

    async fn revoke_elsewhere(&self, d: &Desire, lease: i64) -> Result<(), SessionError> {
        let others: Vec<String> = d
            .endpoints
            .iter()
            .filter(|x| **x != self.member)
            .cloned()
            .collect();
        let (_, mut other) = etcd::connect_first(None, &others, d.tls.as_ref()).await?;
        etcd_step("lease revoke", other.lease_revoke(lease))
            .await
            .map(|_| ())
    }
}

/// When the VIP holder is also the etcd leader, its death costs an etcd
/// election before anyone can take over; so move etcd leadership to another
/// member, now and whenever it comes back.
/// How long after winning a holder looks whether it leads etcd.
const LEADERSHIP_AFTER_WIN: Duration = Duration::from_secs(1);

async fn keep_etcd_leadership_away(local: Vec<String>, tls: Option<etcd::Tls>) {
    // Not while the new holder claims: a leadership transfer drops the
    // writes under way (the claim's owner key, every other VIP's), and the
    // holder stays etcd's leader for a second at most more.
    tokio::time::sleep(LEADERSHIP_AFTER_WIN).await;
    // Asks this node's own member: "am I the leader" must be about it.
    let mut client = loop {
        match etcd::connect(&local, tls.as_ref()).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_secs(5)).await,
        }
    };
    loop {
        if let Ok(Ok(st)) = tokio::time::timeout(STEP, client.status()).await {
            let me = st.header().map(|h| h.member_id()).unwrap_or_default();
            if me != 0 && st.leader() == me {
                if let Ok(Ok(ml)) = tokio::time::timeout(STEP, client.member_list()).await {
                    // Any other started voting member; try them in turn (one may be down).
                    for other in ml
                        .members()
                        .iter()
                        .filter(|m| m.id() != me && !m.is_learner() && !m.name().is_empty())
                    {
                        if let Ok(Ok(_)) =
                            tokio::time::timeout(STEP, client.move_leader(other.id())).await
                        {
                            tracing::info!(
                                to = other.name(),
                                "moved etcd leadership away from the VIP holder"
                            );
                            break;
                        }
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
