//! Kernel links → `LinkStatus`, refreshed on every netlink link event.

use crate::kernel::NetDriver;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use machined_resources::types::LinkStatus;
use std::collections::HashSet;
use std::sync::Arc;

pub struct LinkStatusController {
    pub driver: Arc<dyn NetDriver>,
}

#[async_trait]
impl Controller for LinkStatusController {
    fn name(&self) -> &'static str {
        "network.LinkStatusController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<LinkStatus>()]
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.driver.subscribe(waker);
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let mut keep = HashSet::new();
        for l in self.driver.dump_links().await? {
            let status = LinkStatus {
                index: l.index,
                link_type: l.link_type,
                kind: l.kind,
                hardware_addr: l.mac,
                up: l.up,
                oper_state: l.oper_state,
                mtu: l.mtu,
                master_index: l.master,
            };
            ctx.put(&l.name, &status)?;
            keep.insert(l.name);
        }
        ctx.retain::<LinkStatus>(&keep)
    }
}
