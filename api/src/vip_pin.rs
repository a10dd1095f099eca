//! The break-glass pin (`mctl vip pin --force`, `mctl vip unpin`): refused
//! unless `force` is set and etcd has no quorum as this node can tell (no
//! member serves a linearizable read); then a `VIPPin` request for the VIP
//! controller, which claims the address once it is silent and holds it
//! only while etcd still has no quorum.

use crate::vip::{internal, EtcdQuorum, VipApi, OWNER};
use machined_proto as pb;
use machined_resources::resource::Timestamp;
use machined_resources::types::VipPin;
use std::sync::atomic::Ordering;
use tonic::{Request, Response, Status};

/// Why a pin without `force` is refused.
const NEEDS_FORCE: &str = "force: a pin makes this node answer for the VIP without proof from \
etcd, so it is only for when etcd has lost quorum and nobody can be elected; say --force to mean it";

/// Why a pin is refused while etcd can decide.
fn has_quorum(ip: &str, member: &str) -> Status {
    Status::failed_precondition(format!(
        "etcd has quorum ({member} served a linearizable read): the election decides who holds \
         {ip}, and a pin would answer beside its holder. To put the VIP on a node, use \
         `mctl vip move {ip} --to NODE`; to take a node out, `mctl vip forfeit` on it"
    ))
}

impl VipApi {
    pub(crate) async fn pin_here(
        &self,
        req: Request<pb::PinRequest>,
    ) -> Result<Response<pb::PinResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Admin)?;
        let by = crate::auth::caller(&req);
        let r = req.into_inner();
        let ip = self.one(&r.ip, "pin")?;
        if !r.force {
            return Err(Status::failed_precondition(NEEDS_FORCE));
        }
        let q = self
            .quorum
            .as_ref()
            .ok_or_else(|| Status::unavailable("this node cannot ask etcd (no etcd client)"))?;
        let why = match q.look().await? {
            EtcdQuorum::Answers(member) => return Err(has_quorum(&ip, &member)),
            EtcdQuorum::Silent(why) => why,
        };
        let at = Timestamp::now();
        let p = VipPin {
            ip: ip.clone(),
            by: by.clone(),
            at,
            seq: self.pins.fetch_add(1, Ordering::Relaxed) + 1,
        };
        self.state.put(OWNER, &ip, &p).map_err(internal)?;
        tracing::warn!(vip = %ip, %by, etcd = %why, "VIP pinned to this node (break-glass)");
        Ok(Response::new(pb::PinResponse {
            node: self.node.clone(),
            ip,
            by,
            at: at.to_string(),
            etcd: why,
        }))
    }

    pub(crate) fn unpin_here(
        &self,
        req: Request<pb::UnpinRequest>,
    ) -> Result<Response<pb::UnpinResponse>, Status> {
        crate::auth::check(&req, &self.state, crate::auth::Need::Admin)?;
        let by = crate::auth::caller(&req);
        let r = req.into_inner();
        let ip = self.one(&r.ip, "unpin")?;
        let was_pinned = self.state.has_typed::<VipPin>(&ip);
        if was_pinned {
            self.state
                .destroy_typed::<VipPin>(&ip, OWNER)
                .map_err(internal)?;
            tracing::warn!(vip = %ip, %by, "VIP unpinned");
        }
        Ok(Response::new(pb::UnpinResponse {
            node: self.node.clone(),
            ip,
            was_pinned,
        }))
    }
}
