//! The etcd verbs of EtcdService, on [`EtcdApi`]'s survey, guard and
//! clients: members, status, leave, join, remove-member,
//! forfeit-leadership, snapshot, and recovery from a snapshot
//! ([`crate::etcd_recover`]).

use crate::auth::{check, Need};
use crate::etcd_api::{unavailable, unavailable_err, EtcdApi};
use crate::quorum::Change;
use crate::store::CONFIG_OWNER;
use machined_controllers::etcd::client::{self as etcd, hex};
use machined_proto as pb;
use machined_resources::resource::Timestamp;
use machined_resources::types::EtcdLeft;
use std::pin::Pin;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

fn member(m: &machined_resources::types::EtcdMember) -> pb::EtcdMember {
    pb::EtcdMember {
        id: m.id.clone(),
        name: m.name.clone(),
        peer_urls: m.peer_urls.clone(),
        client_urls: m.client_urls.clone(),
        learner: m.learner,
    }
}

pub fn parse_id(id: &str) -> Result<u64, Status> {
    u64::from_str_radix(id.trim_start_matches("0x"), 16).map_err(|_| {
        Status::invalid_argument(format!(
            "id: {id:?} is not a member id (hex, as etcd members shows)"
        ))
    })
}

type Chunks = Pin<Box<dyn Stream<Item = Result<pb::EtcdSnapshotChunk, Status>> + Send>>;

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
            .map_err(unavailable_err)?;
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
        self.store.mark_left().map_err(|e| {
            Status::internal(format!(
                "recording the leave: {}",
                machined_resources::error::chain(&e)
            ))
        })?;
        let left = EtcdLeft {
            since: Timestamp::now(),
        };
        self.state
            .put(CONFIG_OWNER, EtcdLeft::ID, &left)
            .map_err(|e| Status::internal(machined_resources::error::chain(&e).to_string()))?;
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
                    "etcd stopped here, but no other member answers to remove this one ({}): remove member {me} from another node", machined_resources::error::chain(&e)
                ))
            })?;
        c.member_remove(id).await.map_err(|e| {
            unavailable(format!(
                "removing member {me}: {}",
                machined_resources::error::chain(&e)
            ))
        })?;
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
            .map_err(|e| Status::internal(machined_resources::error::chain(&e).to_string()))?;
        if self.state.has_typed::<EtcdLeft>(EtcdLeft::ID) {
            self.state
                .destroy_typed::<EtcdLeft>(EtcdLeft::ID, CONFIG_OWNER)
                .map_err(|e| Status::internal(machined_resources::error::chain(&e).to_string()))?;
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
        c.member_remove(id).await.map_err(|e| {
            Status::failed_precondition(format!(
                "removing member {hexid}: {}",
                machined_resources::error::chain(&e)
            ))
        })?;
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

    async fn recover(
        &self,
        req: Request<tonic::Streaming<pb::EtcdRecoverChunk>>,
    ) -> Result<Response<pb::EtcdRecoverResponse>, Status> {
        crate::etcd_recover::recover(self, req).await
    }

    type SnapshotStream = Chunks;

    async fn snapshot(
        &self,
        req: Request<pb::EtcdSnapshotRequest>,
    ) -> Result<Response<Chunks>, Status> {
        check(&req, &self.state, Need::Admin)?;
        let (_, _, mut c) = self.client().await?;
        let stream = c.snapshot().await.map_err(unavailable_err)?;
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
                Err(e) => Some((
                    Err(unavailable(format!(
                        "snapshot: {}",
                        machined_resources::error::chain(&e)
                    ))),
                    None,
                )),
            }
        });
        Ok(Response::new(Box::pin(out)))
    }
}
