//! `AddressSpec` → kernel. [`plan`] is pure: it compares what is wanted with
//! what the kernel has and returns the operations; the controller applies
//! them. Addresses we add carry our `IFA_PROTO` mark; we only ever remove
//! addresses with that mark.

use super::announce::Announcer;
use crate::net::packet::{parse_mac, Mac};
use crate::net::{KernelAddr, NetDriver};
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::resource::rfc3339;
use machined_resources::types::{AddressSpec, AnnounceStatus, LinkStatus, ADDRESS_PROTO_MACHINED};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrOp {
    Add {
        link_index: u32,
        addr: IpNet,
        nodad: bool,
    },
    Del {
        link_index: u32,
        addr: IpNet,
    },
}

/// What to do so that the kernel holds exactly the wanted addresses among
/// ours. Removals come first. Specs for links that do not exist are skipped
/// (they are applied when the link appears).
pub fn plan(
    desired: &[AddressSpec],
    links: &HashMap<String, u32>,
    observed: &[KernelAddr],
) -> Vec<AddrOp> {
    let want: BTreeSet<(u32, IpNet, bool)> = desired
        .iter()
        .filter_map(|s| {
            let nodad = s.announce.is_some() && s.address.addr().is_ipv6();
            links.get(&s.link).map(|i| (*i, s.address, nodad))
        })
        .collect();
    let have: BTreeSet<(u32, IpNet)> = observed.iter().map(|a| (a.link_index, a.addr)).collect();
    let mut ops: Vec<AddrOp> = observed
        .iter()
        .filter(|a| a.protocol == ADDRESS_PROTO_MACHINED)
        .filter(|a| {
            !want
                .iter()
                .any(|(i, n, _)| *i == a.link_index && *n == a.addr)
        })
        .map(|a| AddrOp::Del {
            link_index: a.link_index,
            addr: a.addr,
        })
        .collect();
    ops.extend(
        want.iter()
            .filter(|(i, n, _)| !have.contains(&(*i, *n)))
            .map(|(i, n, nodad)| AddrOp::Add {
                link_index: *i,
                addr: *n,
                nodad: *nodad,
            }),
    );
    ops
}

pub struct AddressSpecController {
    driver: Arc<dyn NetDriver>,
    announcer: Announcer,
    waker: Waker,
}

impl AddressSpecController {
    pub fn new(driver: Arc<dyn NetDriver>) -> Self {
        AddressSpecController {
            driver,
            announcer: Announcer::default(),
            waker: Waker::default(),
        }
    }

    /// Announces every desired announced address that is on its link;
    /// restarts the burst for those just added. Writes `AnnounceStatus`.
    fn announce(
        &mut self,
        ctx: &Ctx,
        desired: &[AddressSpec],
        links: &HashMap<String, (u32, Option<Mac>)>,
        added: &[(u32, IpNet)],
    ) -> Result<(), ControllerError> {
        let mut keep = Vec::new();
        let mut names = HashMap::new();
        for s in desired {
            let (Some(a), Some((index, Some(mac)))) = (s.announce, links.get(&s.link)) else {
                continue;
            };
            let ip = s.address.addr();
            keep.push((*index, ip));
            names.insert(ip, s.link.clone());
            if added.contains(&(*index, s.address)) || !self.announcer.has(*index, ip) {
                self.announcer
                    .start(*index, *mac, ip, a, self.waker.clone());
            }
        }
        self.announcer.retain(&keep);
        let sent = self
            .announcer
            .sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut ids = HashSet::new();
        for (ip, (last, frames)) in sent {
            let id = ip.to_string();
            let status = AnnounceStatus {
                ip,
                link: names.get(&ip).cloned().unwrap_or_default(),
                last: rfc3339::format(last),
                frames,
            };
            ctx.put(&id, &status)?;
            ids.insert(id);
        }
        ctx.retain::<AnnounceStatus>(&ids)
    }
}

#[async_trait]
impl Controller for AddressSpecController {
    fn name(&self) -> &'static str {
        "network.AddressSpecController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<AddressSpec>(), Input::of::<LinkStatus>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<AnnounceStatus>()]
    }

    /// Kernel address events wake us too: an address of ours removed by
    /// hand is put back.
    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.driver.subscribe(waker.clone());
        self.waker = waker;
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let desired: Vec<AddressSpec> = ctx
            .list::<AddressSpec>()?
            .into_iter()
            .map(|s| s.spec)
            .collect();
        // One listing serves the plan (indexes) and the announcer (MACs).
        let links: HashMap<String, (u32, Option<Mac>)> = ctx
            .list::<LinkStatus>()?
            .into_iter()
            .map(|l| {
                (
                    l.metadata.id,
                    (l.spec.index, parse_mac(&l.spec.hardware_addr)),
                )
            })
            .collect();
        let indexes: HashMap<String, u32> = links.iter().map(|(k, v)| (k.clone(), v.0)).collect();
        let observed = self.driver.dump_addrs().await?;
        let mut added: Vec<(u32, IpNet)> = Vec::new();
        for op in plan(&desired, &indexes, &observed) {
            match op {
                AddrOp::Del { link_index, addr } => {
                    tracing::info!(%addr, link_index, "removing address");
                    self.driver.del_addr(link_index, addr).await?;
                }
                AddrOp::Add {
                    link_index,
                    addr,
                    nodad,
                } => {
                    tracing::info!(%addr, link_index, "adding address");
                    self.driver
                        .add_addr(link_index, addr, ADDRESS_PROTO_MACHINED, nodad)
                        .await?;
                    added.push((link_index, addr));
                }
            }
        }
        self.announce(ctx, &desired, &links, &added)
    }
}
