//! The VIP controller: one election runner per `VIPSpec`, kept by the
//! runtime's runner set (a runner that panics or ends is started again);
//! campaigns only on a control plane whose link is up and whose etcd is
//! running; outputs `VIPStatus` (and `AnnounceStatus` while holding). The
//! runners put the address in the kernel themselves (see the module docs).

use super::deps::Deps;
use super::election;
use super::runner::{Desire, Shared};
use super::vip_desire::{desire, election_part, forfeited_until, SHUTTING_DOWN};
use crate::kernel::vip_addr::VipAddrs;
use crate::runtime::operator::{Runners, Slot};
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use futures::FutureExt;
use machined_resources::resource::rfc3339;
use machined_resources::types::{
    AnnounceStatus, DhcpSpec, DhcpStatus, EtcdCerts, EtcdSpec, EtcdStatus, HealthState, LinkStatus,
    VipForfeit, VipHealthStatus, VipMove, VipPin, VipSpec, VipStatus,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// How the controller talks to a VIP's runner; kept across restarts.
pub struct Handle {
    desire: watch::Sender<Desire>,
    shared: Arc<Shared>,
}

/// A runner letting go: told so, its handle dropped; it ends once it has
/// released.
type Stopping = Slot<VipSpec, ()>;

pub struct VipOperatorController {
    deps: Deps,
    waker: Waker,
    runners: Runners<String, VipSpec, Handle>,
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
                Box::new(move |_, spec: &VipSpec, h: &Handle, attempt| {
                    use tracing::Instrument;
                    let (spec, deps) = (spec.clone(), start_deps.clone());
                    let (desire, shared) = (h.desire.subscribe(), h.shared.clone());
                    let span = tracing::info_span!("vip", vip = %spec.ip, link = %spec.link);
                    async move {
                        // Started again after it died: whatever it left in
                        // the kernel goes first (this node leads nothing).
                        if attempt > 0 {
                            if let Err(e) = deps.addrs.remove(spec.ip) {
                                tracing::warn!(error = %machined_resources::error::chain(&e), "removing what the last runner left failed");
                            }
                            shared.update(|v| v.leading = false);
                        }
                        election::run(spec, desire, shared, deps).await
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
                .find(|(_, r)| r.config.ip.to_string() == m.ip)
            else {
                tracing::warn!(vip = %m.ip, "move requested for a VIP this node does not know");
                continue;
            };
            let (elector, d, vip) = (
                self.deps.elector.clone(),
                r.handle.desire.borrow().clone(),
                r.config.ip,
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

    fn handle(waker: &Waker) -> Handle {
        Handle {
            desire: watch::channel(Desire::default()).0,
            shared: Shared::new(waker.clone()),
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
        let mut done: Vec<Slot<VipSpec, Handle>> = self
            .runners
            .take_unwanted(|id| specs.contains_key(id))
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        for (id, spec) in &specs {
            let handle = || Self::handle(&self.waker);
            done.extend(self.runners.ensure(id, election_part(spec), handle));
        }
        for r in done {
            let (h, rest) = r.part();
            let _ = h.desire.send(desire(ctx, &rest.config, true)?);
            self.stopping.push(rest);
        }
        if let Some(after) = self.runners.revive() {
            ctx.requeue_after(after);
        }
        for (id, r) in self.runners.iter() {
            let Some(spec) = specs.get(id) else { continue };
            let d = desire(ctx, spec, false)?;
            if let Some(until) = forfeited_until(ctx, spec)? {
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
            let view = r.handle.shared.view().clone();
            let d = r.handle.desire.borrow().clone();
            let ip = r.config.ip.to_string();
            let check = ctx.get::<VipHealthStatus>(&ip)?.map(|s| s.spec);
            let reason = if !view.pinned.is_empty() {
                String::new()
            } else if !d.eligible {
                d.reason.clone()
            } else if !view.waiting.is_empty() {
                view.waiting.clone()
            } else if !view.standby.is_empty() {
                view.standby.clone()
            } else if !view.health_note.is_empty() {
                view.health_note.clone()
            } else {
                view.error.clone()
            };
            let status = VipStatus {
                ip: ip.clone(),
                link: r.config.link.clone(),
                holder: view.holder.clone().unwrap_or_default(),
                holding: view.leading,
                campaigning: d.eligible && view.standby.is_empty() && view.pinned.is_empty(),
                reason,
                since: view.since.into(),
                transitions: view.transitions,
                last_announce: view.announced.map(|a| a.0.into()),
                announced_frames: view.announced.map_or(0, |a| a.1),
                health: check.as_ref().map(|c| c.state),
                health_result: check.map(|c| c.last_result).unwrap_or_default(),
                rival: view
                    .rival
                    .map(|(m, at)| {
                        format!(
                            "{} at {}",
                            crate::kernel::packet::format_mac(&m),
                            rfc3339::format(at)
                        )
                    })
                    .unwrap_or_default(),
                pinned: view.pinned.clone(),
            };
            let m = machined_telemetry::metrics::get();
            m.vip_state(&ip, status.holding, status.campaigning);
            m.vip_health(&ip, status.health.map(|h| h == HealthState::Healthy));
            ctx.put(&ip, &status)?;
            keep_status.insert(ip.clone());
            if let Some((last, frames)) = view.announced {
                let a = AnnounceStatus {
                    ip: r.config.ip,
                    link: r.config.link.clone(),
                    last: last.into(),
                    frames,
                };
                ctx.put(&ip, &a)?;
                keep_announce.insert(ip);
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
            let ip = r.config.ip;
            if !r.join(Duration::from_secs(5)).await {
                tracing::warn!(vip = %ip, "VIP runner did not finish in time");
            }
        }
        ctx.retain::<AnnounceStatus>(&HashSet::new())?;
        ctx.retain::<VipStatus>(&HashSet::new())
    }
}
