//! `LinkSpec` → kernel: creates configured VLANs and bonds, enslaves bond
//! members, brings configured links up and sets their MTU. Links without a
//! spec are left alone; a link machined created is not deleted when its spec
//! goes (it may carry someone else's traffic by then).

use crate::kernel::NetDriver;
use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::types::{LinkSpec, LinkStatus, VirtualLink};
use std::sync::Arc;

pub struct LinkSpecController {
    pub driver: Arc<dyn NetDriver>,
}

impl LinkSpecController {
    /// Creates a missing VLAN (once its parent exists) or bond.
    async fn create(&self, ctx: &Ctx, spec: &LinkSpec) -> Result<(), ControllerError> {
        match &spec.create {
            Some(VirtualLink::Vlan { parent, id }) => {
                if let Some(p) = ctx.get::<LinkStatus>(parent)? {
                    tracing::info!(link = %spec.name, parent = %parent, id, "creating VLAN");
                    self.driver
                        .create_vlan(&spec.name, p.spec.index, *id)
                        .await?;
                }
            }
            Some(VirtualLink::Bond(b)) => {
                let primary = match &b.primary {
                    Some(p) => ctx.get::<LinkStatus>(p)?.map(|l| l.spec.index),
                    None => None,
                };
                tracing::info!(link = %spec.name, mode = %b.mode, "creating bond");
                self.driver.create_bond(&spec.name, b, primary).await?;
            }
            None => {}
        }
        Ok(())
    }
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
                // Not there (yet); a LinkStatus event wakes us once it is.
                self.create(ctx, &s.spec).await?;
                continue;
            };
            if let Some(m) = &s.spec.master {
                match ctx.get::<LinkStatus>(m)? {
                    Some(bond) if bond.spec.index != link.spec.master_index => {
                        tracing::info!(link = %s.spec.name, bond = %m, "enslaving link");
                        self.driver
                            .set_master(link.spec.index, bond.spec.index)
                            .await?;
                        continue; // its status changes: set up on the next pass
                    }
                    Some(_) => {}
                    None => continue, // the bond first
                }
            }
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
