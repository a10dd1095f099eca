//! `AddressSpec` → kernel. [`plan`] is pure: it compares what is wanted with
//! what the kernel has and returns the operations; the controller applies
//! them. Addresses we add carry our `IFA_PROTO` mark; we only ever remove
//! addresses with that mark.

use crate::net::{KernelAddr, NetDriver};
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::types::{AddressSpec, LinkStatus, ADDRESS_PROTO_MACHINED};
use std::collections::{BTreeSet, HashMap};
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
    pub driver: Arc<dyn NetDriver>,
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
        vec![]
    }

    /// Kernel address events wake us too: an address of ours removed by
    /// hand is put back.
    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.driver.subscribe(waker);
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let desired: Vec<AddressSpec> = ctx
            .list::<AddressSpec>()?
            .into_iter()
            .map(|s| s.spec)
            .collect();
        let links: HashMap<String, u32> = ctx
            .list::<LinkStatus>()?
            .into_iter()
            .map(|l| (l.metadata.id, l.spec.index))
            .collect();
        let observed = self.driver.dump_addrs().await?;
        for op in plan(&desired, &links, &observed) {
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
                }
            }
        }
        Ok(())
    }
}
