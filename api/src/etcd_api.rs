//! EtcdService: `mctl etcd members|status|leave|join|remove-member|
//! forfeit-leadership|snapshot`. It talks to etcd with the node's etcd
//! client certificate, this node's member first; what takes a member out
//! is refused when the remaining healthy members would lose quorum
//! ([`crate::quorum`]), unless forced.

use crate::quorum::{self, Change};
use crate::NodeStore;
use etcd_client::Client;
use machined_controllers::etcd::client::{self as etcd, Tls};
use machined_resources::types::{EtcdCerts, EtcdPhase, EtcdSpec, EtcdStatus};
use machined_resources::State;
use std::time::{Duration, Instant};
use tonic::Status;

/// How long one member has to answer a status call.
const ASK: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct EtcdApi {
    pub(crate) state: State,
    pub(crate) store: NodeStore,
    pub(crate) node: String,
}

/// A member and what it said of itself (its error, if it did not).
pub struct Seen {
    pub member: machined_resources::types::EtcdMember,
    pub status: Result<etcd_client::StatusResponse, String>,
}

pub fn unavailable(e: impl std::fmt::Display) -> Status {
    Status::unavailable(e.to_string())
}

/// `unavailable` for an error: its message with its causes.
pub fn unavailable_err(e: impl std::error::Error + 'static) -> Status {
    unavailable(machined_resources::error::chain(&e))
}

impl EtcdApi {
    pub fn new(state: State, store: NodeStore, node: String) -> Self {
        EtcdApi { state, store, node }
    }

    pub(crate) fn spec(&self) -> Result<EtcdSpec, Status> {
        self.state
            .get_typed::<EtcdSpec>(EtcdSpec::ID)
            .ok()
            .flatten()
            .map(|s| s.spec)
            .ok_or_else(|| Status::failed_precondition("not a control plane: no etcd here"))
    }

    pub(crate) fn status(&self) -> Option<EtcdStatus> {
        self.state
            .get_typed::<EtcdStatus>(EtcdStatus::ID)
            .ok()
            .flatten()
            .map(|s| s.spec)
    }

    pub(crate) fn tls(&self, spec: &EtcdSpec) -> Option<Tls> {
        let certs = self
            .state
            .get_typed::<EtcdCerts>(EtcdCerts::ID)
            .ok()
            .flatten()?;
        spec.tls.then(|| Tls::client(&certs.spec))
    }

    /// The etcd client TLS, for the health checks.
    pub fn tls_for_checks(&self) -> Option<Tls> {
        self.spec().ok().and_then(|s| self.tls(&s))
    }

    /// Every member's client URL, this node's first (the others as last
    /// listed while etcd cannot list them).
    pub(crate) fn endpoints(&self, spec: &EtcdSpec) -> Vec<String> {
        let mut all = vec![spec.local_client_url()];
        for u in self
            .status()
            .map(|s| s.peer_client_urls())
            .unwrap_or_default()
        {
            if !all.contains(&u) {
                all.push(u);
            }
        }
        all
    }

    pub(crate) async fn client(&self) -> Result<(EtcdSpec, Option<Tls>, Client), Status> {
        let spec = self.spec()?;
        let tls = self.tls(&spec);
        let local = spec.local_client_url();
        let (_, c) = etcd::connect_first(Some(&local), &self.endpoints(&spec), tls.as_ref())
            .await
            .map_err(unavailable_err)?;
        Ok((spec, tls, c))
    }

    /// Every member, each asked for its own status.
    pub async fn survey(&self) -> Result<Vec<Seen>, Status> {
        let (spec, tls, mut c) = self.client().await?;
        let eps = self.endpoints(&spec);
        let members = etcd::members(&mut c, &eps).await.map_err(unavailable_err)?;
        let asks = members.into_iter().map(|m| {
            let tls = tls.clone();
            async move {
                let status = async {
                    let url = m.client_urls.first().ok_or("no client URL")?.clone();
                    let mut c = etcd::connect(&[url], tls.as_ref())
                        .await
                        .map_err(|e| machined_resources::error::chain(&e).to_string())?;
                    tokio::time::timeout(ASK, c.status())
                        .await
                        .map_err(|_| "no answer within 2 s".to_string())?
                        .map_err(|e| machined_resources::error::chain(&e).to_string())
                }
                .await;
                Seen { member: m, status }
            }
        });
        Ok(futures::future::join_all(asks).await)
    }

    /// Refuses `change` to member `id` when it would cost quorum.
    pub(crate) async fn guard(&self, id: &str, change: Change, force: bool) -> Result<(), Status> {
        if force {
            return Ok(());
        }
        let seen = self.survey().await?;
        let healthy = seen.iter().filter(|s| s.status.is_ok()).count();
        let change = match change {
            Change::Remove { .. } => Change::Remove {
                healthy: seen.iter().any(|s| s.member.id == id && s.status.is_ok()),
            },
            c => c,
        };
        quorum::check(seen.len(), healthy, change).map_err(|why| {
            Status::failed_precondition(format!(
                "refused, etcd would lose quorum: {why} (--force to do it anyway)"
            ))
        })
    }

    /// For reboot and shutdown: `Ok` off a control plane or with quorum kept.
    pub async fn guard_down(&self, force: bool) -> Result<(), Status> {
        if self.spec().is_err() || self.store.left() {
            return Ok(());
        }
        let me = self.status().map(|s| s.member_id).unwrap_or_default();
        if me.is_empty() {
            return Ok(());
        }
        self.guard(&me, Change::Down, force).await
    }

    pub(crate) async fn wait_stopped(&self) -> Result<(), Status> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.status().is_some_and(|s| s.phase == EtcdPhase::Stopped) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Status::deadline_exceeded("etcd did not stop within 20 s"))
    }
}

#[tonic::async_trait]
impl crate::power::DownGuard for EtcdApi {
    async fn check(&self, force: bool) -> Result<(), Status> {
        self.guard_down(force).await
    }
}

/// How long a pin's look at etcd may take: a member that has lost quorum
/// holds a linearizable read until this runs out.
const QUORUM_LOOK: Duration = Duration::from_secs(2);

#[tonic::async_trait]
impl crate::vip::QuorumCheck for EtcdApi {
    async fn look(&self) -> Result<crate::vip::EtcdQuorum, Status> {
        use crate::vip::EtcdQuorum;
        use machined_controllers::etcd::quorum::{Quorum, QuorumProbe};
        let spec = self.spec()?;
        let probe = if spec.external_endpoints.is_empty() {
            QuorumProbe::new(
                Some(spec.local_client_url()),
                self.endpoints(&spec),
                self.tls(&spec),
            )
        } else {
            QuorumProbe::new(None, spec.external_endpoints.clone(), self.tls(&spec))
        };
        Ok(match probe.look(QUORUM_LOOK).await {
            Quorum::Answers(m) => EtcdQuorum::Answers(m),
            Quorum::Silent(why) => EtcdQuorum::Silent(why),
        })
    }
}
