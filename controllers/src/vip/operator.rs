//! The VIP controller: one election runner per `VIPSpec`; campaigns only on
//! a control plane whose link is up and whose etcd is running; outputs the
//! VIP's `AddressSpec` while this node leads and `VIPStatus` always.

use super::election::{self, Desire, Shared};
use crate::net::packet::parse_mac;
use crate::net::NetDriver;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::resource::rfc3339;
use machined_resources::types::{
    AddressSpec, AnnounceStatus, ConfigLayer, EtcdCerts, EtcdSpec, EtcdStatus, LinkStatus, VipSpec,
    VipStatus,
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

pub struct VipController {
    driver: Arc<dyn NetDriver>,
    waker: Waker,
    runners: HashMap<String, Runner>,
    /// Runners whose spec went away, kept until their release is done.
    stopping: Vec<Runner>,
}

impl VipController {
    pub fn new(driver: Arc<dyn NetDriver>) -> Self {
        VipController {
            driver,
            waker: Waker::default(),
            runners: HashMap::new(),
            stopping: Vec::new(),
        }
    }

    fn spawn(&self, spec: &VipSpec) -> Runner {
        let (tx, rx) = watch::channel(Desire::default());
        let shared = Shared::new(self.waker.clone());
        let task = tokio::spawn(election::run(spec.clone(), rx, shared.clone()));
        Runner {
            spec: spec.clone(),
            desire: tx,
            shared,
            task,
        }
    }

    fn address(spec: &VipSpec) -> IpNet {
        IpNet::from(spec.ip)
    }

    /// Removes the VIP from the link now (the spec is already gone), then
    /// lets the runner resign.
    async fn remove_now(&self, ctx: &Ctx, r: &Runner) {
        let addr = Self::address(&r.spec);
        if let Ok(Some(link)) = ctx.get::<LinkStatus>(&r.spec.link) {
            let del = self.driver.del_addr(link.spec.index, addr);
            if let Err(e) = tokio::time::timeout(Duration::from_secs(1), del)
                .await
                .unwrap_or(Ok(()))
            {
                tracing::error!(vip = %r.spec.ip, error = %e, "removing the VIP failed");
            }
        }
        r.shared.view().release_pending = false;
        r.shared.released.notify_one();
    }
}

/// Whether and how a runner may campaign.
pub(super) fn desire(ctx: &Ctx, spec: &VipSpec, stopping: bool) -> Result<Desire, ControllerError> {
    let mut d = Desire::default();
    let etcd_spec = ctx.get::<EtcdSpec>(EtcdSpec::ID)?.map(|s| s.spec);
    let etcd = ctx.get::<EtcdStatus>(EtcdStatus::ID)?.map(|s| s.spec);
    let link = ctx.get::<LinkStatus>(&spec.link)?.map(|s| s.spec);
    if let Some(l) = &link {
        d.link_index = l.index;
        d.mac = parse_mac(&l.hardware_addr);
    }
    if let Some(es) = &etcd_spec {
        d.node = es.name.clone();
        d.node_ip = es.advertise_ip;
        d.tls = ctx
            .get::<EtcdCerts>("etcd")?
            .filter(|_| es.tls)
            .map(|c| crate::etcd::Tls::client(&c.spec));
        d.endpoints = if es.external_endpoints.is_empty() {
            let lo = if es.advertise_ip.is_some_and(|ip| ip.is_ipv6()) {
                "[::1]"
            } else {
                "127.0.0.1"
            };
            vec![format!("{}://{lo}:{}", es.scheme(), es.client_port)]
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
    } else if !etcd.as_ref().is_some_and(|e| e.is_running()) {
        "etcd is not running".into()
    } else {
        String::new()
    };
    d.eligible = d.reason.is_empty();
    Ok(d)
}

#[async_trait]
impl Controller for VipController {
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
            Input::of::<AnnounceStatus>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![
            Output::shared::<AddressSpec>(),
            Output::exclusive::<VipStatus>(),
        ]
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.waker = waker;
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
            if specs.get(&id) != self.runners.get(&id).map(|r| &r.spec) {
                if let Some(r) = self.runners.remove(&id) {
                    self.stopping.push(r);
                }
            }
        }
        for (id, spec) in &specs {
            if !self.runners.contains_key(id) {
                let r = self.spawn(spec);
                self.runners.insert(id.clone(), r);
            }
        }
        for r in self.runners.values() {
            let d = desire(ctx, &r.spec, false)?;
            r.desire
                .send_if_modified(|cur| std::mem::replace(cur, d.clone()) != d);
        }
        for r in &self.stopping {
            let d = desire(ctx, &r.spec, true)?;
            r.desire
                .send_if_modified(|cur| std::mem::replace(cur, d.clone()) != d);
        }

        // Outputs: the address of every VIP this node leads; status of each.
        let mut keep = HashSet::new();
        let mut keep_status = HashSet::new();
        for r in self.runners.values().chain(self.stopping.iter()) {
            let view = r.shared.view().clone();
            if view.leading {
                let addr = Self::address(&r.spec);
                let id = AddressSpec::id(&r.spec.link, &addr);
                let spec = AddressSpec {
                    address: addr,
                    link: r.spec.link.clone(),
                    layer: ConfigLayer::Operator,
                    announce: Some(r.spec.options.announce),
                };
                ctx.put(&id, &spec)?;
                keep.insert(id);
            }
        }
        for r in self.runners.values() {
            let view = r.shared.view().clone();
            let d = r.desire.borrow().clone();
            let last = ctx.get::<AnnounceStatus>(&r.spec.ip.to_string())?;
            let status = VipStatus {
                ip: r.spec.ip.to_string(),
                link: r.spec.link.clone(),
                holder: view.holder.clone().unwrap_or_default(),
                holding: view.leading,
                campaigning: d.eligible,
                reason: if d.eligible {
                    view.error.clone()
                } else {
                    d.reason.clone()
                },
                since: rfc3339::format(view.since),
                transitions: view.transitions,
                last_announce: last
                    .filter(|_| view.leading)
                    .map(|a| a.spec.last)
                    .unwrap_or_default(),
            };
            ctx.put(&r.spec.ip.to_string(), &status)?;
            keep_status.insert(r.spec.ip.to_string());
        }
        // Addresses of VIPs we no longer lead go before anyone resigns.
        ctx.retain::<AddressSpec>(&keep)?;
        ctx.retain::<VipStatus>(&keep_status)?;
        for r in self.runners.values().chain(self.stopping.iter()) {
            if r.shared.view().release_pending {
                self.remove_now(ctx, r).await;
            }
        }
        self.stopping.retain(|r| {
            !r.task.is_finished() && (r.shared.view().leading || r.shared.view().release_pending)
        });
        Ok(())
    }

    /// SIGTERM: every VIP this node holds is removed first, then its runner
    /// resigns and revokes, so the next node takes over at once.
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
            d.reason = "shutting down".into();
            let _ = r.desire.send(d);
        }
        ctx.retain::<AddressSpec>(&HashSet::new())?;
        for r in &all {
            self.remove_now(ctx, r).await;
        }
        for r in all {
            drop(r.desire);
            if tokio::time::timeout(Duration::from_secs(3), r.task)
                .await
                .is_err()
            {
                tracing::warn!(vip = %r.spec.ip, "VIP runner did not finish in time");
            }
        }
        ctx.retain::<VipStatus>(&HashSet::new())
    }
}
