//! VipService: `mctl vip forfeit`, `mctl vip move` and the break-glass
//! `mctl vip pin --force` / `unpin`. Each writes (or removes) a request
//! resource (`VIPForfeit`, `VIPMove`, `VIPPin`); the VIP controller acts on
//! it. A pin is refused unless etcd has no quorum as this node can tell.

use machined_proto as pb;
use machined_resources::resource::{rfc3339, Timestamp};
use machined_resources::types::{VipForfeit, VipMove, VipSpec};
use machined_resources::State;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tonic::{Request, Response, Status};

pub const OWNER: &str = "machined.api";
/// Longest forfeit.
pub const MAX_FORFEIT_SECS: u32 = 24 * 3600;

/// What etcd said when asked whether it can decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcdQuorum {
    /// This member served a linearizable read: etcd has quorum.
    Answers(String),
    /// No member did: why.
    Silent(String),
}

/// Asks etcd whether it has quorum (machined's etcd client).
#[tonic::async_trait]
pub trait QuorumCheck: Send + Sync {
    async fn look(&self) -> Result<EtcdQuorum, Status>;
}

#[derive(Clone)]
pub struct VipApi {
    pub(crate) state: State,
    pub(crate) node: String,
    moves: Arc<AtomicU64>,
    pub(crate) pins: Arc<AtomicU64>,
    pub(crate) quorum: Option<Arc<dyn QuorumCheck>>,
}

impl VipApi {
    pub fn new(state: State, node: String) -> Self {
        VipApi {
            state,
            node,
            moves: Arc::new(AtomicU64::new(0)),
            pins: Arc::new(AtomicU64::new(0)),
            quorum: None,
        }
    }

    /// How a pin finds out whether etcd has quorum; without one, pins are
    /// refused.
    pub fn with_quorum(mut self, q: Arc<dyn QuorumCheck>) -> Self {
        self.quorum = Some(q);
        self
    }

    pub(crate) fn one(&self, ip: &str, verb: &str) -> Result<String, Status> {
        if ip.is_empty() {
            return Err(Status::invalid_argument(format!(
                "ip: name the VIP to {verb}"
            )));
        }
        let ips = self.vips(ip)?;
        match <[String; 1]>::try_from(ips) {
            Ok([one]) => Ok(one),
            Err(_) => Err(Status::invalid_argument(format!(
                "ip: name the VIP to {verb}"
            ))),
        }
    }

    /// This node's VIPs matching `ip` (all with an empty one).
    fn vips(&self, ip: &str) -> Result<Vec<String>, Status> {
        let specs = self
            .state
            .list_typed::<VipSpec>()
            .map_err(|e| Status::internal(e.to_string()))?;
        let all: Vec<String> = specs.iter().map(|s| s.spec.ip.to_string()).collect();
        let picked: Vec<String> = all
            .iter()
            .filter(|v| {
                ip.is_empty()
                    || ip
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|p| p.to_string() == **v)
            })
            .cloned()
            .collect();
        if picked.is_empty() {
            return Err(Status::failed_precondition(if ip.is_empty() {
                "this node has no VIP".to_string()
            } else {
                format!(
                    "ip: {ip:?} is not a VIP of this node (have: {})",
                    all.join(", ")
                )
            }));
        }
        Ok(picked)
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

#[tonic::async_trait]
impl pb::vip_service_server::VipService for VipApi {
    async fn forfeit(
        &self,
        req: Request<pb::ForfeitRequest>,
    ) -> Result<Response<pb::ForfeitResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Admin)?;
        let r = req.into_inner();
        if r.for_secs > MAX_FORFEIT_SECS {
            return Err(Status::invalid_argument(format!(
                "for_secs: {} is more than {MAX_FORFEIT_SECS} (a day)",
                r.for_secs
            )));
        }
        let ips = self.vips(&r.ip)?;
        let until = SystemTime::now() + Duration::from_secs(u64::from(r.for_secs));
        for ip in &ips {
            if r.for_secs == 0 {
                if self.state.has_typed::<VipForfeit>(ip) {
                    self.state
                        .destroy_typed::<VipForfeit>(ip, OWNER)
                        .map_err(internal)?;
                }
                continue;
            }
            let f = VipForfeit {
                ip: ip.clone(),
                until: until.into(),
            };
            self.state.put(OWNER, ip, &f).map_err(internal)?;
        }
        tracing::info!(?ips, secs = r.for_secs, "VIP forfeit");
        Ok(Response::new(pb::ForfeitResponse {
            node: self.node.clone(),
            ips,
            until: if r.for_secs == 0 {
                String::new()
            } else {
                rfc3339::format(until)
            },
        }))
    }

    async fn r#move(
        &self,
        req: Request<pb::MoveRequest>,
    ) -> Result<Response<pb::MoveResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Admin)?;
        let r = req.into_inner();
        let ip = &self.one(&r.ip, "move")?;
        let ok = !r.to.is_empty()
            && r.to.len() <= 253
            && r.to
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !ok {
            return Err(Status::invalid_argument(format!(
                "to: {:?} is not a node name (letters, digits, '-', '.', '_')",
                r.to
            )));
        }
        let seq = self.moves.fetch_add(1, Ordering::Relaxed) + 1;
        let m = VipMove {
            ip: ip.clone(),
            to: r.to.clone(),
            seq,
            requested: Timestamp::now(),
        };
        self.state.put(OWNER, ip, &m).map_err(internal)?;
        tracing::info!(vip = %ip, to = %r.to, "VIP move requested");
        Ok(Response::new(pb::MoveResponse {
            node: self.node.clone(),
        }))
    }

    async fn pin(&self, req: Request<pb::PinRequest>) -> Result<Response<pb::PinResponse>, Status> {
        self.pin_here(req).await
    }

    async fn unpin(
        &self,
        req: Request<pb::UnpinRequest>,
    ) -> Result<Response<pb::UnpinResponse>, Status> {
        self.unpin_here(req)
    }
}
