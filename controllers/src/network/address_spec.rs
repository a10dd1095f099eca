//! `AddressSpec` → kernel. [`plan`] is pure: it compares what is wanted with
//! what the kernel has and returns the operations; the controller applies
//! them. Addresses we add carry our `IFA_PROTO` mark; we only ever remove
//! addresses with that mark. (VIPs are not address specs: their holder
//! writes them, with a mark of their own; see `vip`.)

use crate::kernel::{KernelAddr, NetDriver};
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::types::{AddressSpec, LinkStatus, ADDRESS_PROTO_MACHINED};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrOp {
    Add { link_index: u32, addr: IpNet },
    Del { link_index: u32, addr: IpNet },
}

/// What to do so that the kernel holds exactly the wanted addresses among
/// ours. Removals come first. Specs for links that do not exist are skipped
/// (they are applied when the link appears).
pub fn plan(
    desired: &[AddressSpec],
    links: &HashMap<String, u32>,
    observed: &[KernelAddr],
) -> Vec<AddrOp> {
    let want: BTreeSet<(u32, IpNet)> = desired
        .iter()
        .filter_map(|s| links.get(&s.link).map(|i| (*i, s.address)))
        .collect();
    let have: BTreeSet<(u32, IpNet)> = observed.iter().map(|a| (a.link_index, a.addr)).collect();
    let mut ops: Vec<AddrOp> = observed
        .iter()
        .filter(|a| a.protocol == ADDRESS_PROTO_MACHINED)
        .filter(|a| !want.iter().any(|(i, n)| *i == a.link_index && *n == a.addr))
        .map(|a| AddrOp::Del {
            link_index: a.link_index,
            addr: a.addr,
        })
        .collect();
    ops.extend(
        want.iter()
            .filter(|key| !have.contains(key))
            .map(|(i, n)| AddrOp::Add {
                link_index: *i,
                addr: *n,
            }),
    );
    ops
}

pub struct AddressSpecController {
    driver: Arc<dyn NetDriver>,
}

impl AddressSpecController {
    pub fn new(driver: Arc<dyn NetDriver>) -> Self {
        AddressSpecController { driver }
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
        Vec::new()
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
        let indexes: HashMap<String, u32> = ctx
            .list::<LinkStatus>()?
            .into_iter()
            .map(|l| (l.metadata.id, l.spec.index))
            .collect();
        let observed = self.driver.dump_addrs().await?;
        for op in plan(&desired, &indexes, &observed) {
            match op {
                AddrOp::Del { link_index, addr } => {
                    tracing::info!(%addr, link_index, "removing address");
                    self.driver.del_addr(link_index, addr).await?;
                }
                AddrOp::Add { link_index, addr } => {
                    tracing::info!(%addr, link_index, "adding address");
                    self.driver
                        .add_addr(link_index, addr, ADDRESS_PROTO_MACHINED)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
