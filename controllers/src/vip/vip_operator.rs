//! The VIP controller: one election runner per `VIPSpec`, kept by the
//! runtime's runner set (a runner that panics or ends is started again);
//! campaigns only on a control plane whose link is up and whose etcd is
//! running; outputs `VIPStatus` (and `AnnounceStatus` while holding). The
//! runners put the address in the kernel themselves (see the module docs).

use super::deps::Deps;
use super::election;
use super::group::Group;
use super::runner::{Desire, Shared};
use super::vip_desire::{election_part, group_desire, group_forfeited_until, SHUTTING_DOWN};
use crate::kernel::vip_addr::VipAddrs;
use crate::runtime::operator::{Runners, Slot};
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use futures::FutureExt;
use machined_resources::types::{
    AnnounceStatus, DhcpSpec, DhcpStatus, EtcdCerts, EtcdSpec, EtcdStatus, HealthState, LinkStatus,
    VipForfeit, VipHealthStatus, VipMove, VipPin, VipSpec, VipStatus,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// How the controller talks to a group's runner; kept across restarts.
pub struct Handle {
    desire: watch::Sender<Desire>,
    /// Each member's view (see [`Group::views`]).
    views: Vec<Arc<Shared>>,
}

/// A runner's config: its group's members, by address, as the election
/// sees them.
type Members = Vec<VipSpec>;

/// A runner letting go: told so, its handle dropped; it ends once it has
/// released.
type Stopping = Slot<Members, ()>;

pub struct VipOperatorController {
    deps: Deps,
    waker: Waker,
    /// One per VIP group (a VIP without a group is a group of one).
    runners: Runners<String, Members, Handle>,
    /// Runners whose spec went away, kept until their release is done.
    stopping: Vec<Stopping>,
    /// The last move request sent, per VIP (`VIPMove.seq`).
    moves_sent: HashMap<String, u64>,
}

impl VipOperatorController {
    pub fn new(
        addrs: Arc<dyn VipAddrs>,
        wires: Arc<dyn super::Wires>,
        elector: Arc<dyn super::elector::Elector>,
    ) -> Self {
        let deps = Deps {
            addrs,
            wires,
            elector,
        };
        let start_deps = deps.clone();
        VipOperatorController {
            runners: Runners::new(
                "vip",
                Box::new(move |_, specs: &Members, h: &Handle, attempt| {
                    use tracing::Instrument;
                    let deps = start_deps.clone();
                    let group = Group {
                        specs: specs.clone(),
                        views: h.views.clone(),
                    };
                    let desire = h.desire.subscribe();
                    let lead = group.lead();
                    let span = tracing::info_span!("vip", vip = %lead.ip, link = %lead.link,
                        group = lead.options.group.as_deref().unwrap_or(""));
                    async move {
                        // Started again after it died: whatever it left in
                        // the kernel goes first (this node leads nothing).
                        if attempt > 0 {
                            group.remove_left(&*deps.addrs);
                        }
                        election::run(group, desire, deps).await
                    }
                    .instrument(span)
                    .boxed()
                }),
            ),
            deps,
            waker: Waker::default(),
            stopping: Vec::new(),
            moves_sent: HashMap::new(),
        }
    }

    /// Sends each new `VIPMove` request to etcd, once, through a campaign
    /// of its own (the VIP's runners react to the request as every node's
    /// do).
    fn send_moves(&mut self, ctx: &Ctx) -> Result<(), ControllerError> {
        for m in ctx.list::<VipMove>()? {
            let m = m.spec;
            if self.moves_sent.get(&m.ip).is_some_and(|s| *s >= m.seq) {
                continue;
            }
            self.moves_sent.insert(m.ip.clone(), m.seq);
            let Some((_, r)) = self
                .runners
                .iter()
                .find(|(_, r)| r.config.iter().any(|s| s.ip.to_string() == m.ip))
            else {
                tracing::warn!(vip = %m.ip, "move requested for a VIP this node does not know");
                continue;
            };
            // A group moves as one: the request goes by its lead.
            let (elector, d, vip) = (
                self.deps.elector.clone(),
                r.handle.desire.borrow().clone(),
                r.config[0].ip,
            );
            tokio::spawn(async move {
                let sent = async {
                    let c = elector.connect(&d).await?;
                    c.request_move(vip, &m.to, super::election_move::MOVE_TTL_SECS)
                        .await
                };
                match sent.await {
                    Ok(()) => tracing::info!(%vip, to = %m.to, "move requested"),
                    Err(e) => {
                        tracing::warn!(%vip, to = %m.to, error = %machined_resources::error::chain(&e), "requesting the move failed")
                    }
                }
            });
        }
        Ok(())
    }

    fn handle(waker: &Waker, members: usize) -> Handle {
        Handle {
            desire: watch::channel(Desire::default()).0,
            views: (0..members).map(|_| Shared::new(waker.clone())).collect(),
        }
    }
}

#[async_trait]
impl Controller for VipOperatorController {
    fn name(&self) -> &'static str {
        "network.VIPController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![
            Input::of::<VipSpec>(),
            Input::of::<LinkStatus>(),
            Input::of::<EtcdSpec>(),
            Input::of::<EtcdStatus>(),
            Input::of::<EtcdCerts>(),
            Input::of::<DhcpSpec>(),
            Input::of::<DhcpStatus>(),
            Input::of::<VipHealthStatus>(),
            Input::of::<VipForfeit>(),
            Input::of::<VipMove>(),
            Input::of::<VipPin>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![
            Output::exclusive::<VipStatus>(),
            Output::exclusive::<AnnounceStatus>(),
        ]
    }

    /// This node leads nothing yet: any VIP left on a link by an earlier
    /// life (its kernel lifetime not yet run out) goes now.
    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.runners.set_waker(waker.clone());
        self.waker = waker;
        let addrs = self.deps.addrs.clone();
        let left = addrs.marked()?;
        for (link, ip) in left {
            tracing::warn!(%ip, link, "removing a VIP this node does not hold (left from before)");
            addrs.remove_from(link, ip)?;
        }
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let specs: HashMap<String, VipSpec> = ctx
            .list::<VipSpec>()?
            .into_iter()
            .map(|s| (s.metadata.id, s.spec))
            .collect();
        // Runners for specs that are gone or changed stop (and release);
        // runners that died start again.
        let groups = super::group::by_runner(&specs);
        let mut done: Vec<Slot<Members, Handle>> = self
            .runners
            .take_unwanted(|id| groups.contains_key(id))
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        for (id, members) in &groups {
            let handle = || Self::handle(&self.waker, members.len());
            let config = members.iter().map(election_part).collect();
            done.extend(self.runners.ensure(id, config, handle));
        }
        for r in done {
            let (h, rest) = r.part();
            let _ = h.desire.send(group_desire(ctx, &rest.config, true)?);
            self.stopping.push(rest);
        }
        if let Some(after) = self.runners.revive() {
            ctx.requeue_after(after);
        }
        for (id, r) in self.runners.iter() {
            let Some(members) = groups.get(id) else {
                continue;
            };
            let d = group_desire(ctx, members, false)?;
            if let Some(until) = group_forfeited_until(ctx, members)? {
                let left = until.duration_since(SystemTime::now()).unwrap_or_default();
                ctx.requeue_after(left + Duration::from_millis(10));
            }
            r.handle
                .desire
                .send_if_modified(|cur| std::mem::replace(cur, d.clone()) != d);
        }
        self.send_moves(ctx)?;

        let mut keep_status = HashSet::new();
        let mut keep_announce = HashSet::new();
        for (_, r) in self.runners.iter() {
            let d = r.handle.desire.borrow().clone();
            for (i, spec) in r.config.iter().enumerate() {
                let view = super::vip_status::member_view(&r.handle.views, i);
                let ip = spec.ip.to_string();
                let check = ctx.get::<VipHealthStatus>(&ip)?.map(|s| s.spec);
                let status = super::vip_status::status(spec, &view, &d, check);
                let m = machined_telemetry::metrics::get();
                m.vip_state(&ip, status.holding, status.campaigning);
                m.vip_health(&ip, status.health.map(|h| h == HealthState::Healthy));
                ctx.put(&ip, &status)?;
                keep_status.insert(ip.clone());
                if let Some((last, frames)) = view.announced {
                    let a = AnnounceStatus {
                        ip: spec.ip,
                        link: spec.link.clone(),
                        last: last.into(),
                        frames,
                    };
                    ctx.put(&ip, &a)?;
                    keep_announce.insert(ip);
                }
            }
        }
        for gone in ctx.list::<VipStatus>()? {
            if !keep_status.contains(&gone.metadata.id) {
                machined_telemetry::metrics::get().vip_gone(&gone.metadata.id);
            }
        }
        ctx.retain::<VipStatus>(&keep_status)?;
        ctx.retain::<AnnounceStatus>(&keep_announce)?;
        // A stopping runner is done once it has let go (address removed and
        // confirmed, resigned).
        self.stopping.retain(|r| !r.is_finished());
        Ok(())
    }

    /// SIGTERM: every runner lets go (address removed and confirmed, then
    /// resign and revoke), so the next node takes over at once.
    async fn shutdown(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let mut all = std::mem::take(&mut self.stopping);
        for (_, r) in self.runners.take_all() {
            let (h, rest) = r.part();
            let mut d = h.desire.borrow().clone();
            d.eligible = false;
            d.reason = SHUTTING_DOWN.into();
            let _ = h.desire.send(d);
            all.push(rest);
        }
        for r in all {
            let ip = r.config[0].ip;
            if !r.join(Duration::from_secs(5)).await {
                tracing::warn!(vip = %ip, "VIP runner did not finish in time");
            }
        }
        ctx.retain::<AnnounceStatus>(&HashSet::new())?;
        ctx.retain::<VipStatus>(&HashSet::new())
    }
}
