//! Machine config + links → `VIPSpec`: one per configured VIP, on the link
//! its interface entry selects (`<link>.<vlan>` for VLAN VIPs).

use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::config::MachineType;
use machined_resources::types::{LinkStatus, MachineConfigSpec, VipSpec};
use std::collections::HashSet;

pub struct VipConfigController;

#[async_trait]
impl Controller for VipConfigController {
    fn name(&self) -> &'static str {
        "network.VIPConfigController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<MachineConfigSpec>(), Input::of::<LinkStatus>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<VipSpec>()]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let links = ctx.list::<LinkStatus>()?;
        let mut specs = Vec::new();
        if let Some(mc) = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)? {
            let c = &mc.spec.config;
            if c.machine_type == MachineType::Controlplane {
                for v in c.vips().iter().filter(|v| !v.ignore) {
                    if let Some(link) = v.link.resolve(&links) {
                        specs.push(VipSpec {
                            ip: v.ip,
                            link,
                            options: v.options.clone(),
                        });
                    }
                }
            }
        }
        let mut keep = HashSet::new();
        for s in specs {
            let id = VipSpec::id(&s.link, &s.ip);
            ctx.put(&id, &s)?;
            keep.insert(id);
        }
        ctx.retain::<VipSpec>(&keep)
    }
}
