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
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrOp {
    /// Add, or with a lifetime add-or-replace (a renewed lease).
    Add {
        link_index: u32,
        addr: IpNet,
        lifetime_secs: Option<u32>,
    },
    Del {
        link_index: u32,
        addr: IpNet,
    },
}

/// What lifetimes mean now: the clock, and the `valid_until_ms` last given
/// to the kernel for each address (one that moved is applied again).
#[derive(Debug, Clone, Default)]
pub struct Lifetimes {
    pub now_ms: u64,
    pub applied: HashMap<(u32, IpNet), u64>,
}

/// What to do so that the kernel holds exactly the wanted addresses among
/// ours. Removals come first. Specs for links that do not exist are skipped
/// (they are applied when the link appears). An address with a lifetime
/// gets what is left of it, in whole seconds; with less than a second left
/// it is not wanted any more.
pub fn plan(
    desired: &[AddressSpec],
    links: &HashMap<String, u32>,
    observed: &[KernelAddr],
    lt: &Lifetimes,
) -> Vec<AddrOp> {
    let want: BTreeMap<(u32, IpNet), Option<u64>> = desired
        .iter()
        .filter(|s| s.valid_until_ms.is_none_or(|t| t >= lt.now_ms + 1000))
        .filter_map(|s| {
            links
                .get(&s.link)
                .map(|i| ((*i, s.address), s.valid_until_ms))
        })
        .collect();
    let have: BTreeSet<(u32, IpNet)> = observed.iter().map(|a| (a.link_index, a.addr)).collect();
    let mut ops: Vec<AddrOp> = observed
        .iter()
        .filter(|a| a.protocol == ADDRESS_PROTO_MACHINED)
        .filter(|a| !want.contains_key(&(a.link_index, a.addr)))
        .map(|a| AddrOp::Del {
            link_index: a.link_index,
            addr: a.addr,
        })
        .collect();
    for (key, until) in &want {
        let present = have.contains(key);
        let op = |lifetime_secs| AddrOp::Add {
            link_index: key.0,
            addr: key.1,
            lifetime_secs,
        };
        match until {
            None if !present => ops.push(op(None)),
            Some(t) if !present || lt.applied.get(key) != Some(t) => {
                let secs = ((t - lt.now_ms) / 1000).min(u64::from(u32::MAX - 1)) as u32;
                ops.push(op(Some(secs)));
            }
            _ => {}
        }
    }
    ops
}

pub struct AddressSpecController {
    driver: Arc<dyn NetDriver>,
    /// `valid_until_ms` given to the kernel, per address.
    applied: HashMap<(u32, IpNet), u64>,
}

impl AddressSpecController {
    pub fn new(driver: Arc<dyn NetDriver>) -> Self {
        AddressSpecController {
            driver,
            applied: HashMap::new(),
        }
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
        let lt = Lifetimes {
            now_ms: crate::dhcp::lease::now_ms(),
            applied: std::mem::take(&mut self.applied),
        };
        let until: HashMap<(u32, IpNet), u64> = desired
            .iter()
            .filter_map(|s| Some(((*indexes.get(&s.link)?, s.address), s.valid_until_ms?)))
            .collect();
        // Forget what is not wanted with a lifetime any more.
        self.applied = lt
            .applied
            .iter()
            .filter(|(k, v)| until.get(k) == Some(v))
            .map(|(k, v)| (*k, *v))
            .collect();
        for op in plan(&desired, &indexes, &observed, &lt) {
            match op {
                AddrOp::Del { link_index, addr } => {
                    tracing::info!(%addr, link_index, "removing address");
                    self.driver.del_addr(link_index, addr).await?;
                }
                AddrOp::Add {
                    link_index,
                    addr,
                    lifetime_secs,
                } => {
                    tracing::info!(%addr, link_index, ?lifetime_secs, "adding address");
                    self.driver
                        .add_addr(link_index, addr, ADDRESS_PROTO_MACHINED, lifetime_secs)
                        .await?;
                    if let Some(t) = until.get(&(link_index, addr)) {
                        self.applied.insert((link_index, addr), *t);
                    }
                }
            }
        }
        // Wake when the next lifetime runs out, to drop its address.
        if let Some(next) = until.values().filter(|t| **t > lt.now_ms).min() {
            ctx.requeue_after(std::time::Duration::from_millis(next - lt.now_ms));
        }
        Ok(())
    }
}
