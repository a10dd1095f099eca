//! `DHCPSpec` → one DHCPv4 client per link (kept by the runtime's runner
//! set: a client that panics or ends is started again, from its saved
//! lease) → `AddressSpec` (the lease's address, living no longer than the
//! lease), `RouteSpec` (its routers or classless routes, the lease address
//! as their source) and `DHCPStatus`. The VIP is none of these: it is a /32
//! its holder adds beside the lease.

use super::lease::now_ms;
use super::lease::Lease;
use super::lease_specs::{routes, status};
use super::runner::{Link, Runner, Snapshot};
use super::socket::DhcpSockets;
use super::wire::Identity;
use crate::kernel::NetDriver;
use crate::runtime::operator::{Runners, Slot};
use crate::vip::Wires;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::config::{ClientIdentifier, DhcpOptions};
use machined_resources::types::{
    AddressSpec, ConfigLayer, DhcpSpec, DhcpStatus, LinkStatus, RouteSpec, VipStatus,
};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a link's client is started with: a change restarts it.
#[derive(Debug, Clone, PartialEq)]
struct Want {
    link: String,
    options: DhcpOptions,
    index: u32,
    mac: [u8; 6],
}

/// How the controller talks to a client; kept across restarts.
struct Handle {
    out: Arc<Mutex<Snapshot>>,
    stop: CancellationToken,
    waker: Waker,
}

pub struct DhcpOperatorController {
    driver: Arc<dyn NetDriver>,
    waker: Waker,
    running: Runners<String, Want, Handle>,
    /// The lease each link's client held last time.
    last: HashMap<String, Lease>,
    /// Leases the client lost, kept on the link until no VIP there is held
    /// (the VIP goes first), until the deadline (unix ms) at the latest.
    draining: HashMap<String, (Lease, u64)>,
}

/// How long a lost lease's address waits for the link's VIP to be let go.
const DRAIN_MS: u64 = 5_000;

impl DhcpOperatorController {
    /// Clients talk through `sockets`, check an offered address through
    /// `wires` and remove released addresses through `driver`.
    pub fn new(
        state_dir: PathBuf,
        sockets: Arc<dyn DhcpSockets>,
        wires: Arc<dyn Wires>,
        driver: Arc<dyn NetDriver>,
    ) -> Self {
        DhcpOperatorController {
            driver,
            waker: Waker::default(),
            running: Runners::new(
                "dhcp",
                Box::new(move |_, w: &Want, h: &Handle, _| {
                    use futures::FutureExt;
                    use tracing::Instrument;
                    let client_id = match w.options.client_identifier {
                        ClientIdentifier::None => None,
                        ClientIdentifier::Mac => Some([&[1u8][..], &w.mac[..]].concat()),
                        ClientIdentifier::Duid => Some(w.options.duid_raw.clone()),
                    };
                    let runner = Runner {
                        link: Link {
                            index: w.index,
                            mac: w.mac,
                        },
                        me: Identity {
                            mac: w.mac,
                            client_id,
                        },
                        file: super::lease::path(&state_dir, &w.link),
                        wires: wires.clone(),
                        sockets: sockets.clone(),
                        out: h.out.clone(),
                        waker: h.waker.clone(),
                    };
                    let span = tracing::info_span!("dhcp", link = %w.link);
                    runner.run(h.stop.clone()).instrument(span).boxed()
                }),
            ),
            last: HashMap::new(),
            draining: HashMap::new(),
        }
    }

    fn handle(waker: &Waker) -> Handle {
        Handle {
            out: Arc::new(Mutex::new(Snapshot::default())),
            stop: CancellationToken::new(),
            waker: waker.clone(),
        }
    }

    /// Stops a client (it sends a RELEASE when it holds a lease); the lease
    /// it held.
    async fn stop(&self, r: Slot<Want, Handle>) -> Option<Lease> {
        let held = r
            .handle
            .out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lease
            .clone();
        r.handle.stop.cancel();
        if !r.join(Duration::from_secs(2)).await {
            tracing::warn!("DHCP client did not stop in time");
        }
        held
    }
}

impl DhcpOperatorController {
    /// The lease whose address the link keeps: the client's, or one it just
    /// lost while `held` VIPs on the link are still being let go.
    fn lease_in_use(
        &mut self,
        link: &str,
        current: Option<Lease>,
        held: &[String],
        now: u64,
        ctx: &mut Ctx,
    ) -> Option<Lease> {
        if let Some(l) = current.filter(|l| l.expires_ms() > now) {
            self.draining.remove(link);
            self.last.insert(link.to_string(), l.clone());
            return Some(l);
        }
        if let Some(prev) = self.last.remove(link) {
            let until = (now + DRAIN_MS).min(prev.expires_ms());
            self.draining.insert(link.to_string(), (prev, until));
        }
        match self.draining.get(link) {
            Some((l, until)) if now < *until && !held.is_empty() => {
                tracing::info!(link, vips = ?held, "lease lost: keeping its address until the VIP is let go");
                ctx.requeue_after(Duration::from_millis(100));
                Some(l.clone())
            }
            _ => {
                self.draining.remove(link);
                None
            }
        }
    }
}

#[async_trait]
impl Controller for DhcpOperatorController {
    fn name(&self) -> &'static str {
        "network.DhcpOperatorController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![
            Input::of::<DhcpSpec>(),
            Input::of::<LinkStatus>(),
            Input::of::<VipStatus>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![
            Output::shared::<AddressSpec>(),
            Output::shared::<RouteSpec>(),
            Output::exclusive::<DhcpStatus>(),
        ]
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.running.set_waker(waker.clone());
        self.waker = waker;
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let specs = ctx.list::<DhcpSpec>()?;
        let links: HashMap<String, LinkStatus> = ctx
            .list::<LinkStatus>()?
            .into_iter()
            .map(|l| (l.metadata.id, l.spec))
            .collect();
        let mut wanted = HashMap::new();
        for s in specs.iter().map(|s| &s.spec) {
            let Some(link) = links.get(&s.link) else {
                continue;
            };
            let Some(mac) = link.hardware_addr.mac() else {
                continue;
            };
            let want = Want {
                link: s.link.clone(),
                options: s.options.clone(),
                index: link.index,
                mac,
            };
            wanted.insert(s.link.clone(), want);
        }
        let mut done: Vec<Slot<Want, Handle>> = self
            .running
            .take_unwanted(|k| wanted.contains_key(k))
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        for (link, want) in wanted {
            let handle = || Self::handle(&self.waker);
            done.extend(self.running.ensure(&link, want, handle));
        }
        for r in done {
            self.stop(r).await;
        }
        if let Some(after) = self.running.revive() {
            ctx.requeue_after(after);
        }

        let now = now_ms();
        // (link, ip) of every VIP this node holds.
        let held_vips: Vec<(String, String)> = ctx
            .list::<VipStatus>()?
            .into_iter()
            .filter(|v| v.spec.holding)
            .map(|v| (v.spec.link, v.spec.ip))
            .collect();
        let (mut addrs, mut rts, mut sts) = (HashSet::new(), HashSet::new(), HashSet::new());
        for s in specs.iter().map(|s| &s.spec) {
            let Some(r) = self.running.get(&s.link) else {
                continue;
            };
            let snap = r
                .handle
                .out
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            ctx.put(&s.link, &status(&s.link, &snap))?;
            sts.insert(s.link.clone());
            let held: Vec<String> = held_vips
                .iter()
                .filter(|(link, _)| *link == s.link)
                .map(|(_, ip)| ip.clone())
                .collect();
            let Some(l) = self.lease_in_use(&s.link, snap.lease, &held, now, ctx) else {
                continue;
            };
            let a = AddressSpec {
                address: IpNet::V4(l.cidr()),
                link: s.link.clone(),
                layer: ConfigLayer::Operator,
                valid_until_ms: (l.expires_ms() != u64::MAX).then_some(l.expires_ms()),
            };
            let id = AddressSpec::id(&a.link, &a.address);
            ctx.put(&id, &a)?;
            addrs.insert(id);
            if !s.options.ignore_routes {
                for rt in routes(&s.link, &l, s.options.route_metric) {
                    let id = rt.id();
                    ctx.put(&id, &rt)?;
                    rts.insert(id);
                }
            }
            // Drop the address at expiry even if the client says nothing.
            ctx.requeue_after(Duration::from_millis(
                l.expires_ms().saturating_sub(now).min(3_600_000),
            ));
        }
        ctx.retain::<AddressSpec>(&addrs)?;
        ctx.retain::<RouteSpec>(&rts)?;
        ctx.retain::<DhcpStatus>(&sts)
    }

    /// Stops every client (each sends a RELEASE when it holds a lease) and
    /// removes the released addresses: a released address is not ours.
    async fn shutdown(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let links: HashMap<String, u32> = ctx
            .list::<LinkStatus>()?
            .into_iter()
            .map(|l| (l.metadata.id, l.spec.index))
            .collect();
        for (name, r) in self.running.take_all() {
            let held = self.stop(r).await;
            if let (Some(l), Some(index)) = (held, links.get(&name)) {
                if let Err(e) = self.driver.del_addr(*index, IpNet::V4(l.cidr())).await {
                    tracing::warn!(link = %name, error = %machined_resources::error::chain(&e), "removing the released address failed");
                }
            }
        }
        ctx.retain::<AddressSpec>(&HashSet::new())?;
        ctx.retain::<RouteSpec>(&HashSet::new())?;
        ctx.retain::<DhcpStatus>(&HashSet::new())
    }
}
