//! EtcdService: `mctl etcd members|status|leave|join|remove-member|
//! forfeit-leadership|snapshot`. It talks to etcd with the node's etcd
//! client certificate, this node's member first; what takes a member out
//! is refused when the remaining healthy members would lose quorum
//! ([`crate::quorum`]), unless forced.

use crate::quorum::{self, Change};
use etcd_client::Client;
use machined_api::auth::{check, Need};
use machined_api::machine::CONFIG_OWNER;
use machined_api::NodeStore;
use machined_controllers::etcd::client::{self as etcd, hex, Tls};
use machined_proto as pb;
use machined_resources::resource::rfc3339;
use machined_resources::types::{EtcdCerts, EtcdLeft, EtcdPhase, EtcdSpec, EtcdStatus};
use machined_resources::State;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// How long one member has to answer a status call.
const ASK: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct EtcdApi {
    state: State,
    store: NodeStore,
    node: String,
}

/// A member and what it said of itself (its error, if it did not).
pub struct Seen {
    pub member: machined_resources::types::EtcdMember,
    pub status: Result<etcd_client::StatusResponse, String>,
}

fn unavailable(e: impl std::fmt::Display) -> Status {
    Status::unavailable(e.to_string())
}

impl EtcdApi {
    pub fn new(state: State, store: NodeStore, node: String) -> Self {
        EtcdApi { state, store, node }
    }

    fn spec(&self) -> Result<EtcdSpec, Status> {
        self.state
            .get_typed::<EtcdSpec>(EtcdSpec::ID)
            .ok()
            .flatten()
            .map(|s| s.spec)
            .ok_or_else(|| Status::failed_precondition("not a control plane: no etcd here"))
    }

    fn status(&self) -> Option<EtcdStatus> {
        self.state
            .get_typed::<EtcdStatus>(EtcdStatus::ID)
            .ok()
            .flatten()
            .map(|s| s.spec)
    }

    fn tls(&self, spec: &EtcdSpec) -> Option<Tls> {
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

    /// Every member's client URL, this node's first.
    fn endpoints(&self, spec: &EtcdSpec) -> Vec<String> {
        let mut all = vec![spec.local_client_url()];
        for m in self.status().map(|s| s.members).unwrap_or_default() {
            all.extend(
                m.client_urls
                    .into_iter()
                    .filter(|u| !all.contains(u))
                    .collect::<Vec<_>>(),
            );
        }
        all
    }

    async fn client(&self) -> Result<(EtcdSpec, Option<Tls>, Client), Status> {
        let spec = self.spec()?;
        let tls = self.tls(&spec);
        let local = spec.local_client_url();
        let (_, c) = etcd::connect_first(Some(&local), &self.endpoints(&spec), tls.as_ref())
            .await
            .map_err(unavailable)?;
        Ok((spec, tls, c))
    }

    /// Every member, each asked for its own status.
    pub async fn survey(&self) -> Result<Vec<Seen>, Status> {
        let (spec, tls, mut c) = self.client().await?;
        let eps = self.endpoints(&spec);
        let members = etcd::members(&mut c, &eps).await.map_err(unavailable)?;
        let asks = members.into_iter().map(|m| {
            let tls = tls.clone();
            async move {
                let status = async {
                    let url = m.client_urls.first().ok_or("no client URL")?.clone();
                    let mut c = etcd::connect(&[url], tls.as_ref())
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::time::timeout(ASK, c.status())
                        .await
                        .map_err(|_| "no answer within 2 s".to_string())?
                        .map_err(|e| e.to_string())
                }
                .await;
                Seen { member: m, status }
            }
        });
        Ok(futures::future::join_all(asks).await)
    }

    /// Refuses `change` to member `id` when it would cost quorum.
    async fn guard(&self, id: &str, change: Change, force: bool) -> Result<(), Status> {
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

    async fn wait_stopped(&self) -> Result<(), Status> {
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

fn member(m: &machined_resources::types::EtcdMember) -> pb::EtcdMember {
    pb::EtcdMember {
        id: m.id.clone(),
        name: m.name.clone(),
        peer_urls: m.peer_urls.clone(),
        client_urls: m.client_urls.clone(),
        learner: m.learner,
    }
}

fn parse_id(id: &str) -> Result<u64, Status> {
    u64::from_str_radix(id.trim_start_matches("0x"), 16).map_err(|_| {
        Status::invalid_argument(format!(
            "id: {id:?} is not a member id (hex, as etcd members shows)"
        ))
    })
}

type Chunks = Pin<Box<dyn Stream<Item = Result<pb::EtcdSnapshotChunk, Status>> + Send>>;

#[tonic::async_trait]
impl machined_api::power::DownGuard for EtcdApi {
    async fn check(&self, force: bool) -> Result<(), Status> {
        self.guard_down(force).await
    }
}

#[tonic::async_trait]
impl pb::etcd_service_server::EtcdService for EtcdApi {
    async fn members(
        &self,
        req: Request<pb::EtcdMembersRequest>,
    ) -> Result<Response<pb::EtcdMembersResponse>, Status> {
        check(&req, &self.state, Need::Read)?;
        let (spec, _, mut c) = self.client().await?;
        let ms = etcd::members(&mut c, &self.endpoints(&spec))
            .await
            .map_err(unavailable)?;
        Ok(Response::new(pb::EtcdMembersResponse {
            node: self.node.clone(),
            members: ms.iter().map(member).collect(),
        }))
    }

    async fn status(
        &self,
        req: Request<pb::EtcdStatusRequest>,
    ) -> Result<Response<pb::EtcdStatusResponse>, Status> {
        check(&req, &self.state, Need::Read)?;
        let seen = self.survey().await?;
        let members = seen
            .iter()
            .map(|s| {
                let base = pb::EtcdMemberStatus {
                    id: s.member.id.clone(),
                    name: s.member.name.clone(),
                    endpoint: s.member.client_urls.first().cloned().unwrap_or_default(),
                    ..Default::default()
                };
                match &s.status {
                    Ok(st) => pb::EtcdMemberStatus {
                        db_size: st.db_size(),
                        leader: hex(st.leader()),
                        raft_index: st.raft_index(),
                        raft_term: st.raft_term(),
                        errors: st.errors().to_vec(),
                        version: st.version().to_string(),
                        ..base
                    },
                    Err(e) => pb::EtcdMemberStatus {
                        errors: vec![e.clone()],
                        ..base
                    },
                }
            })
            .collect();
        Ok(Response::new(pb::EtcdStatusResponse {
            node: self.node.clone(),
            members,
        }))
    }

    async fn leave(
        &self,
        req: Request<pb::EtcdLeaveRequest>,
    ) -> Result<Response<pb::EtcdLeaveResponse>, Status> {
        check(&req, &self.state, Need::Admin)?;
        let force = req.into_inner().force;
        let spec = self.spec()?;
        let me = self
            .status()
            .map(|s| s.member_id)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                Status::failed_precondition(
                    "this node has no etcd member (not bootstrapped or joined, or it left already)",
                )
            })?;
        let id = parse_id(&me)?;
        self.guard(&me, Change::Remove { healthy: true }, force)
            .await?;
        // Who to ask afterwards: once etcd stops here, this node's status
        // lists no members any more.
        let others: Vec<String> = self.endpoints(&spec).into_iter().skip(1).collect();
        // Stop here first (the VIP goes through another member), then leave
        // through the others; recorded first, so a restart stays out.
        self.store
            .mark_left()
            .map_err(|e| Status::internal(format!("recording the leave: {e}")))?;
        let left = EtcdLeft {
            since: rfc3339::format(SystemTime::now()),
        };
        self.state
            .put(CONFIG_OWNER, EtcdLeft::ID, &left)
            .map_err(|e| Status::internal(e.to_string()))?;
        let _ = self
            .state
            .destroy_typed::<machined_resources::types::EtcdBootstrap>(
                machined_resources::types::EtcdBootstrap::ID,
                CONFIG_OWNER,
            );
        self.wait_stopped().await?;
        let (_, mut c) = etcd::connect_first(None, &others, self.tls(&spec).as_ref())
            .await
            .map_err(|e| {
                unavailable(format!(
                    "etcd stopped here, but no other member answers to remove this one ({e}): remove member {me} from another node"
                ))
            })?;
        c.member_remove(id)
            .await
            .map_err(|e| unavailable(format!("removing member {me}: {e}")))?;
        tracing::info!(member = %me, "left the etcd cluster");
        Ok(Response::new(pb::EtcdLeaveResponse {
            node: self.node.clone(),
        }))
    }

    async fn join(
        &self,
        req: Request<pb::EtcdJoinRequest>,
    ) -> Result<Response<pb::EtcdJoinResponse>, Status> {
        check(&req, &self.state, Need::Admin)?;
        self.spec()?;
        self.store
            .clear_left()
            .map_err(|e| Status::internal(e.to_string()))?;
        if self.state.has_typed::<EtcdLeft>(EtcdLeft::ID) {
            self.state
                .destroy_typed::<EtcdLeft>(EtcdLeft::ID, CONFIG_OWNER)
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(Response::new(pb::EtcdJoinResponse {
            node: self.node.clone(),
        }))
    }

    async fn remove_member(
        &self,
        req: Request<pb::EtcdRemoveMemberRequest>,
    ) -> Result<Response<pb::EtcdRemoveMemberResponse>, Status> {
        check(&req, &self.state, Need::Admin)?;
        let r = req.into_inner();
        let id = parse_id(&r.id)?;
        let hexid = hex(id);
        self.guard(&hexid, Change::Remove { healthy: true }, r.force)
            .await?;
        let (_, _, mut c) = self.client().await?;
        c.member_remove(id)
            .await
            .map_err(|e| Status::failed_precondition(format!("removing member {hexid}: {e}")))?;
        tracing::info!(member = %hexid, "removed an etcd member");
        Ok(Response::new(pb::EtcdRemoveMemberResponse {
            node: self.node.clone(),
        }))
    }

    async fn forfeit_leadership(
        &self,
        req: Request<pb::EtcdForfeitLeadershipRequest>,
    ) -> Result<Response<pb::EtcdForfeitLeadershipResponse>, Status> {
        check(&req, &self.state, Need::Admin)?;
        let seen = self.survey().await?;
        let me = self.status().map(|s| s.member_id).unwrap_or_default();
        let leader = seen
            .iter()
            .find_map(|s| s.status.as_ref().ok().map(|st| hex(st.leader())))
            .unwrap_or_default();
        let name = |id: &str| {
            seen.iter()
                .find(|s| s.member.id == id)
                .map_or(id.to_string(), |s| s.member.name.clone())
        };
        if leader != me || me.is_empty() {
            return Ok(Response::new(pb::EtcdForfeitLeadershipResponse {
                node: self.node.clone(),
                leader: name(&leader),
            }));
        }
        let (_, _, mut c) = self.client().await?;
        let mut moved = None;
        for s in seen
            .iter()
            .filter(|s| s.member.id != me && s.status.is_ok() && !s.member.learner)
        {
            if c.move_leader(parse_id(&s.member.id)?).await.is_ok() {
                moved = Some(s.member.name.clone());
                break;
            }
        }
        let leader = moved
            .ok_or_else(|| Status::unavailable("no other healthy member took the leadership"))?;
        Ok(Response::new(pb::EtcdForfeitLeadershipResponse {
            node: self.node.clone(),
            leader,
        }))
    }

    type SnapshotStream = Chunks;

    async fn snapshot(
        &self,
        req: Request<pb::EtcdSnapshotRequest>,
    ) -> Result<Response<Chunks>, Status> {
        check(&req, &self.state, Need::Admin)?;
        let (_, _, mut c) = self.client().await?;
        let stream = c.snapshot().await.map_err(unavailable)?;
        let out = futures::stream::unfold(Some(stream), |s| async move {
            let mut s = s?;
            match s.message().await {
                Ok(Some(m)) => Some((
                    Ok(pb::EtcdSnapshotChunk {
                        data: m.blob().to_vec(),
                    }),
                    Some(s),
                )),
                Ok(None) => None,
                Err(e) => Some((Err(unavailable(format!("snapshot: {e}"))), None)),
            }
        });
        Ok(Response::new(Box::pin(out)))
    }
}
