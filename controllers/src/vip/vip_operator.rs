//! The VIP controller: one election runner per `VIPSpec`; campaigns only on
//! a control plane whose link is up and whose etcd is running; outputs
//! `VIPStatus` (and `AnnounceStatus` while holding). The runners put the
//! address on the link themselves (see the module docs).

use super::election;
use super::runner::{Deps, Desire, Shared};
use super::vip_desire::{desire, election_part, forfeited_until, SHUTTING_DOWN};
use crate::kernel::vip_addr::VipAddrs;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use machined_resources::resource::rfc3339;
use machined_resources::types::{
    AnnounceStatus, DhcpSpec, DhcpStatus, EtcdCerts, EtcdSpec, EtcdStatus, LinkStatus, VipForfeit,
    VipHealthStatus, VipMove, VipSpec, VipStatus,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Runner {
    spec: VipSpec,
    desire: watch::Sender<Desire>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

pub struct VipOperatorController {
    deps: Deps,
    waker: Waker,
    runners: HashMap<String, Runner>,
    /// Runners whose spec went away, kept until their release is done.
    stopping: Vec<Runner>,
    /// The last move request sent, per VIP (`VIPMove.seq`).
    moves_sent: HashMap<String, u64>,
}

impl VipOperatorController {
    pub fn new(
        addrs: Arc<dyn VipAddrs>,
        wires: Arc<dyn super::Wires>,
        elector: Arc<dyn super::elector::Elector>,
    ) -> Self {
        VipOperatorController {
            deps: Deps {
                addrs,
                wires,
                elector,
            },
            waker: Waker::default(),
            runners: HashMap::new(),
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
            let Some(r) = self
                .runners
                .values()
                .find(|r| r.spec.ip.to_string() == m.ip)
            else {
                tracing::warn!(vip = %m.ip, "move requested for a VIP this node does not know");
                continue;
            };
            let (elector, d, vip) = (
                self.deps.elector.clone(),
                r.desire.borrow().clone(),
                r.spec.ip,
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
                        tracing::warn!(%vip, to = %m.to, error = %e, "requesting the move failed")
                    }
                }
            });
        }
        Ok(())
    }

    fn spawn(&self, spec: &VipSpec) -> Runner {
        use tracing::Instrument;
        let (tx, rx) = watch::channel(Desire::default());
        let shared = Shared::new(self.waker.clone());
        let span = tracing::info_span!("vip", vip = %spec.ip, link = %spec.link);
        let task = tokio::spawn(
            election::run(spec.clone(), rx, shared.clone(), self.deps.clone()).instrument(span),
        );
        Runner {
            spec: spec.clone(),
            desire: tx,
            shared,
            task,
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
        // Runners for specs that are gone or changed stop (and release).
        let ids: Vec<String> = self.runners.keys().cloned().collect();
        for id in ids {
            let now = specs.get(&id).map(election_part);
            if now.as_ref() != self.runners.get(&id).map(|r| &r.spec) {
                if let Some(r) = self.runners.remove(&id) {
                    self.stopping.push(r);
                }
            }
        }
        for (id, spec) in &specs {
            if !self.runners.contains_key(id) {
                let r = self.spawn(&election_part(spec));
                self.runners.insert(id.clone(), r);
            }
        }
        for (id, r) in &self.runners {
            let Some(spec) = specs.get(id) else { continue };
            let d = desire(ctx, spec, false)?;
            if let Some(until) = forfeited_until(ctx, spec)? {
                let left = until.duration_since(SystemTime::now()).unwrap_or_default();
                ctx.requeue_after(left + Duration::from_millis(10));
            }
            r.desire
                .send_if_modified(|cur| std::mem::replace(cur, d.clone()) != d);
        }
        self.send_moves(ctx)?;
        for r in &self.stopping {
            let d = desire(ctx, &r.spec, true)?;
            r.desire
                .send_if_modified(|cur| std::mem::replace(cur, d.clone()) != d);
        }

        let mut keep_status = HashSet::new();
        let mut keep_announce = HashSet::new();
        for r in self.runners.values() {
            let view = r.shared.view().clone();
            let d = r.desire.borrow().clone();
            let ip = r.spec.ip.to_string();
            let check = ctx.get::<VipHealthStatus>(&ip)?.map(|s| s.spec);
            let reason = if !d.eligible {
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
                link: r.spec.link.clone(),
                holder: view.holder.clone().unwrap_or_default(),
                holding: view.leading,
                campaigning: d.eligible && view.standby.is_empty(),
                reason,
                since: rfc3339::format(view.since),
                transitions: view.transitions,
                last_announce: view
                    .announced
                    .map(|a| rfc3339::format(a.0))
                    .unwrap_or_default(),
                announced_frames: view.announced.map_or(0, |a| a.1),
                health: check.as_ref().map(|c| c.state.clone()).unwrap_or_default(),
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
            };
            let m = machined_telemetry::metrics::get();
            m.vip_state(&ip, status.holding, status.campaigning);
            m.vip_health(
                &ip,
                (!status.health.is_empty()).then(|| status.health == "healthy"),
            );
            ctx.put(&ip, &status)?;
            keep_status.insert(ip.clone());
            if let Some((last, frames)) = view.announced {
                let a = AnnounceStatus {
                    ip: r.spec.ip,
                    link: r.spec.link.clone(),
                    last: rfc3339::format(last),
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
        self.stopping.retain(|r| !r.task.is_finished());
        Ok(())
    }

    /// SIGTERM: every runner lets go (address removed and confirmed, then
    /// resign and revoke), so the next node takes over at once.
    async fn shutdown(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let all: Vec<Runner> = self
            .runners
            .drain()
            .map(|(_, r)| r)
            .chain(self.stopping.drain(..))
            .collect();
        for r in &all {
            let mut d = r.desire.borrow().clone();
            d.eligible = false;
            d.reason = SHUTTING_DOWN.into();
            let _ = r.desire.send(d);
        }
        for r in all {
            let ip = r.spec.ip;
            drop(r.desire);
            if tokio::time::timeout(Duration::from_secs(5), r.task)
                .await
                .is_err()
            {
                tracing::warn!(vip = %ip, "VIP runner did not finish in time");
            }
        }
        ctx.retain::<AnnounceStatus>(&HashSet::new())?;
        ctx.retain::<VipStatus>(&HashSet::new())
    }
}
