//! Machine config → `LinkSpec` (up, MTU) and `AddressSpec` (layer
//! configuration) for every configured link that exists.

use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::config::{InterfaceConfig, LinkSelector};
use machined_resources::types::{
    AddressSpec, ConfigLayer, LinkSpec, LinkStatus, MachineConfigSpec,
};
use machined_resources::Typed;
use std::collections::HashSet;

pub struct AddressConfigController;

/// The link an interface entry selects: by name, or the first link (by
/// name order) whose MAC matches the glob and whose kind fits `physical`.
pub fn select_link(sel: &LinkSelector, links: &[Typed<LinkStatus>]) -> Option<String> {
    match sel {
        LinkSelector::Name(n) => Some(n.clone()),
        LinkSelector::Device(d) => links
            .iter()
            .filter(|l| l.spec.link_type == "ether")
            .filter(|l| {
                d.hardware_addr
                    .as_deref()
                    .is_none_or(|g| glob_match::glob_match(g, &l.spec.hardware_addr))
            })
            .filter(|l| d.physical.is_none_or(|p| p == l.spec.kind.is_empty()))
            .map(|l| l.metadata.id.clone())
            .min(),
    }
}

fn render(
    iface: &InterfaceConfig,
    link: &str,
    links: &mut Vec<(String, LinkSpec)>,
    addrs: &mut Vec<AddressSpec>,
) {
    links.push((
        link.to_string(),
        LinkSpec {
            name: link.to_string(),
            up: true,
            mtu: iface.mtu,
            layer: ConfigLayer::Configuration,
        },
    ));
    for a in &iface.addresses {
        addrs.push(AddressSpec {
            address: *a,
            link: link.to_string(),
            layer: ConfigLayer::Configuration,
        });
    }
    for v in &iface.vlans {
        let name = format!("{link}.{}", v.vlan_id);
        links.push((
            name.clone(),
            LinkSpec {
                name: name.clone(),
                up: true,
                mtu: v.mtu,
                layer: ConfigLayer::Configuration,
            },
        ));
        for a in &v.addresses {
            addrs.push(AddressSpec {
                address: *a,
                link: name.clone(),
                layer: ConfigLayer::Configuration,
            });
        }
    }
}

#[async_trait]
impl Controller for AddressConfigController {
    fn name(&self) -> &'static str {
        "network.AddressConfigController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<MachineConfigSpec>(), Input::of::<LinkStatus>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![
            Output::shared::<AddressSpec>(),
            Output::shared::<LinkSpec>(),
        ]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let links = ctx.list::<LinkStatus>()?;
        let mut link_specs = Vec::new();
        let mut addr_specs = Vec::new();
        if let Some(mc) = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)? {
            for iface in mc.spec.config.interfaces.iter().filter(|i| !i.ignore) {
                if let Some(link) = select_link(&iface.selector, &links) {
                    render(iface, &link, &mut link_specs, &mut addr_specs);
                }
            }
        }
        let mut keep = HashSet::new();
        for (id, spec) in &link_specs {
            ctx.put(id, spec)?;
            keep.insert(id.clone());
        }
        ctx.retain::<LinkSpec>(&keep)?;
        let mut keep = HashSet::new();
        for spec in &addr_specs {
            let id = AddressSpec::id(&spec.link, &spec.address);
            ctx.put(&id, spec)?;
            keep.insert(id);
        }
        ctx.retain::<AddressSpec>(&keep)
    }
}
