//! The VIP controller: one election runner per `VIPSpec`; campaigns only on
//! a control plane whose link is up and whose etcd is running; outputs
//! `VIPStatus` (and `AnnounceStatus` while holding). The runners put the
//! address on the link themselves (see the module docs).

use super::election;
use super::runner::{Deps, Desire, Health, Shared};
use crate::kernel::packet::parse_mac;
use crate::kernel::vip_addr::VipAddrs;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use machined_resources::resource::rfc3339;
use machined_resources::types::{
    AnnounceStatus, DhcpSpec, DhcpStatus, EtcdCerts, EtcdSpec, EtcdStatus, LinkStatus,
    VipHealthStatus, VipSpec, VipStatus,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
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
        }
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

/// The ineligibility reason of a machined that is stopping.
pub(super) const SHUTTING_DOWN: &str = "shutting down";

/// Whether and how a runner may campaign.
pub(super) fn desire(ctx: &Ctx, spec: &VipSpec, stopping: bool) -> Result<Desire, ControllerError> {
    let mut d = Desire::default();
    let etcd_spec = ctx.get::<EtcdSpec>(EtcdSpec::ID)?.map(|s| s.spec);
    let etcd = ctx.get::<EtcdStatus>(EtcdStatus::ID)?.map(|s| s.spec);
    let link = ctx.get::<LinkStatus>(&spec.link)?.map(|s| s.spec);
    // On a DHCP link the node's address is the lease's: no lease, no VIP.
    let no_lease = match ctx.get::<DhcpSpec>(&spec.link)? {
        None => None,
        Some(_) => {
            let st = ctx.get::<DhcpStatus>(&spec.link)?.map(|s| s.spec);
            match st {
                Some(st) if !st.address.is_empty() => None,
                Some(st) => Some(st.state),
                None => Some("starting".to_string()),
            }
        }
    };
    if let Some(l) = &link {
        d.link_index = l.index;
        d.mac = parse_mac(&l.hardware_addr);
    }
    if let Some(es) = &etcd_spec {
        d.node = es.name.clone();
        d.node_ip = es.advertise_ip;
        d.tls = ctx
            .get::<EtcdCerts>(EtcdCerts::ID)?
            .filter(|_| es.tls)
            .map(|c| crate::etcd::Tls::client(&c.spec));
        d.endpoints = if es.external_endpoints.is_empty() {
            let local = es.local_client_url();
            d.local_endpoint = Some(local.clone());
            // Every other member too, so a dead local member stalls nothing.
            let mine: Option<&str> = etcd.as_ref().map(|e| e.member_id.as_str());
            let mut all = vec![local];
            for m in etcd.iter().flat_map(|e| e.members.iter()) {
                if Some(m.id.as_str()) != mine && !m.learner {
                    all.extend(m.client_urls.iter().cloned());
                }
            }
            all
        } else {
            es.external_endpoints.clone()
        };
    }
    d.reason = if stopping {
        "VIP removed from the config".into()
    } else if etcd_spec.is_none() {
        "not a control plane".into()
    } else if !link.as_ref().is_some_and(|l| l.is_operational()) {
        format!("link {} is not up", spec.link)
    } else if let Some(state) = no_lease {
        format!("no DHCP lease on {} ({state})", spec.link)
    } else if !etcd.as_ref().is_some_and(|e| e.is_running()) {
        "etcd is not running".into()
    } else {
        String::new()
    };
    d.eligible = d.reason.is_empty();
    d.health = health(ctx, spec)?;
    Ok(d)
}

/// The check's verdict (none without a check).
fn health(ctx: &Ctx, spec: &VipSpec) -> Result<Health, ControllerError> {
    let Some(check) = &spec.options.health_check else {
        return Ok(Health::default());
    };
    let st = ctx
        .get::<VipHealthStatus>(&spec.ip.to_string())?
        .map(|s| s.spec);
    let fallback_ms = (check.interval_ms + check.timeout_ms).clamp(1_000, 10_000);
    Ok(Health {
        checked: true,
        healthy: st.as_ref().is_some_and(|s| s.healthy),
        failing: st.is_some_and(|s| s.state == VipHealthStatus::FAILING),
        hold_down: Duration::from_millis(check.hold_down_ms),
        fallback_after: Duration::from_millis(fallback_ms),
    })
}

/// A spec as its election runner sees it: a changed health check is taken
/// without restarting the runner (and so without letting go of the VIP).
fn election_part(spec: &VipSpec) -> VipSpec {
    let mut s = spec.clone();
    s.options.health_check = None;
    s
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
            addrs.remove(link, ip)?;
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
            r.desire
                .send_if_modified(|cur| std::mem::replace(cur, d.clone()) != d);
        }
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
