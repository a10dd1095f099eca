//! `LinkSpec` → kernel: brings configured links up and sets their MTU.
//! Links without a spec are left alone.

use crate::kernel::NetDriver;
use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::types::{LinkSpec, LinkStatus};
use std::sync::Arc;

pub struct LinkSpecController {
    pub driver: Arc<dyn NetDriver>,
}

#[async_trait]
impl Controller for LinkSpecController {
    fn name(&self) -> &'static str {
        "network.LinkSpecController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<LinkSpec>(), Input::of::<LinkStatus>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let mut specs = ctx.list::<LinkSpec>()?;
        // Highest layer wins for the same link.
        specs.sort_by_key(|s| std::cmp::Reverse(s.spec.layer));
        let mut done = std::collections::HashSet::new();
        for s in specs {
            if !done.insert(s.spec.name.clone()) {
                continue;
            }
            let Some(link) = ctx.get::<LinkStatus>(&s.spec.name)? else {
                continue; // not there (yet); a LinkStatus event wakes us
            };
            self.driver.promote_secondaries(&s.spec.name).await?;
            let mtu = s.spec.mtu.filter(|m| *m != link.spec.mtu);
            if link.spec.up != s.spec.up || mtu.is_some() {
                tracing::info!(link = %s.spec.name, up = s.spec.up, mtu = ?mtu, "setting link");
                self.driver
                    .set_link(link.spec.index, s.spec.up, mtu)
                    .await?;
            }
        }
        Ok(())
    }
}
