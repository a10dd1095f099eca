//! Kernel addresses → `AddressStatus`, refreshed on every netlink event.

use crate::kernel::NetDriver;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use machined_resources::types::{
    AddressFamily, AddressSpec, AddressStatus, LinkStatus, ADDRESS_PROTO_MACHINED,
    ADDRESS_PROTO_VIP,
};
use std::collections::HashSet;
use std::sync::Arc;

pub struct AddressStatusController {
    pub driver: Arc<dyn NetDriver>,
}

#[async_trait]
impl Controller for AddressStatusController {
    fn name(&self) -> &'static str {
        "network.AddressStatusController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<LinkStatus>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<AddressStatus>()]
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.driver.subscribe(waker);
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let names = super::link_names(ctx)?;
        let mut keep = HashSet::new();
        for a in self.driver.dump_addrs().await? {
            // A link that LinkStatus has not caught up with yet: next event.
            let Some(link) = names.get(&a.link_index) else {
                continue;
            };
            let id = AddressSpec::id(link, &a.addr);
            let status = AddressStatus {
                address: a.addr,
                link: link.clone(),
                link_index: a.link_index,
                family: AddressFamily::of(a.addr.addr()),
                scope: a.scope,
                protocol: a.protocol,
                ours: matches!(a.protocol, ADDRESS_PROTO_MACHINED | ADDRESS_PROTO_VIP),
            };
            ctx.put(&id, &status)?;
            keep.insert(id);
        }
        ctx.retain::<AddressStatus>(&keep)
    }
}
