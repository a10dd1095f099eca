//! Machine config + links → `VIPSpec`: one per configured VIP, on the link
//! its interface entry selects (`<link>.<vlan>` for VLAN VIPs).

use crate::network::select_link;
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
                for iface in c.interfaces.iter().filter(|i| !i.ignore) {
                    let Some(link) = select_link(&iface.selector, &links) else {
                        continue;
                    };
                    if let Some(v) = &iface.vip {
                        specs.push(VipSpec {
                            ip: v.ip,
                            link: link.clone(),
                            options: v.options,
                        });
                    }
                    for vlan in &iface.vlans {
                        if let Some(v) = &vlan.vip {
                            let link = format!("{link}.{}", vlan.vlan_id);
                            specs.push(VipSpec {
                                ip: v.ip,
                                link,
                                options: v.options,
                            });
                        }
                    }
                }
                for l2 in &c.layer2_vips {
                    specs.push(VipSpec {
                        ip: l2.ip,
                        link: l2.link.clone(),
                        options: l2.options,
                    });
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
