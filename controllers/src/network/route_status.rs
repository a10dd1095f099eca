//! Kernel routes (main table) → `RouteStatus`, refreshed on every netlink
//! event.

use crate::kernel::NetDriver;
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;

use machined_resources::types::{route_id, LinkStatus, RouteStatus, ROUTE_PROTO_MACHINED};
use std::collections::HashSet;
use std::sync::Arc;

pub struct RouteStatusController {
    pub driver: Arc<dyn NetDriver>,
}

#[async_trait]
impl Controller for RouteStatusController {
    fn name(&self) -> &'static str {
        "network.RouteStatusController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<LinkStatus>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<RouteStatus>()]
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.driver.subscribe(waker);
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let names = super::link_names(ctx)?;
        let mut keep = HashSet::new();
        for r in self.driver.dump_routes().await? {
            let Some(link) = names.get(&r.link_index) else {
                continue;
            };
            let status = RouteStatus {
                link: link.clone(),
                destination: r.destination,
                gateway: r.gateway,
                source: r.source,
                metric: r.metric,
                protocol: r.protocol,
                ours: r.protocol == ROUTE_PROTO_MACHINED,
            };
            let id = route_id(link, &r.destination, r.gateway, r.metric);
            ctx.put(&id, &status)?;
            keep.insert(id);
        }
        ctx.retain::<RouteStatus>(&keep)
    }
}
