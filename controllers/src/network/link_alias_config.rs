//! `LinkAliasConfig` → the kernel alias (`IFLA_IFALIAS`) of physical links,
//! as Talos sets it: the alias is visible with `ip link`, comes back in
//! `LinkStatus.alias`, and from there names the link in the config.
//! machined owns the alias of physical Ethernet links: one no config asks
//! for is cleared.

use crate::kernel::NetDriver;
use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::config::link_alias::{assign, is_physical};
use machined_resources::types::{LinkStatus, MachineConfigSpec};
use std::sync::Arc;

pub struct LinkAliasConfigController {
    pub driver: Arc<dyn NetDriver>,
    /// The warnings last logged, so each is logged once per change.
    warned: Vec<String>,
}

impl LinkAliasConfigController {
    pub fn new(driver: Arc<dyn NetDriver>) -> Self {
        LinkAliasConfigController {
            driver,
            warned: Vec::new(),
        }
    }
}

#[async_trait]
impl Controller for LinkAliasConfigController {
    fn name(&self) -> &'static str {
        "network.LinkAliasConfigController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<MachineConfigSpec>(), Input::of::<LinkStatus>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let Some(mc) = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)? else {
            // No config yet: leave aliases as they are (maintenance mode).
            return Ok(());
        };
        let links: Vec<(String, LinkStatus)> = ctx
            .list::<LinkStatus>()?
            .into_iter()
            .map(|l| (l.metadata.id, l.spec))
            .collect();
        let plan = assign(&mc.spec.config.link_aliases, &links);
        if plan.warnings != self.warned {
            for w in &plan.warnings {
                tracing::warn!(warning = %w, "link alias");
            }
            self.warned = plan.warnings;
        }
        for (name, l) in links.iter().filter(|(_, l)| is_physical(l)) {
            let want = plan.aliases.get(name).map_or("", String::as_str);
            if l.alias != want {
                self.driver.set_link_alias(l.index, want).await?;
                tracing::info!(link = %name, alias = want, "link alias set");
            }
        }
        Ok(())
    }
}
