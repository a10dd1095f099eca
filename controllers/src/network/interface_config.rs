//! Machine config → `LinkSpec` (up, MTU) and `AddressSpec` (layer
//! configuration) for every configured link that exists.

use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::config::LinkEntry;
use machined_resources::types::{
    AddressSpec, ConfigLayer, LinkSpec, LinkStatus, MachineConfigSpec,
};
use std::collections::HashSet;

pub struct InterfaceConfigController;

/// The link spec and address specs of one configured link, named `link`.
fn render(
    entry: &LinkEntry<'_>,
    link: String,
    links: &mut Vec<LinkSpec>,
    addrs: &mut Vec<AddressSpec>,
) {
    addrs.extend(entry.addresses.iter().map(|a| AddressSpec {
        address: *a,
        link: link.clone(),
        layer: ConfigLayer::Configuration,
    }));
    links.push(LinkSpec {
        name: link,
        up: entry.up,
        mtu: entry.mtu,
        layer: ConfigLayer::Configuration,
    });
}

#[async_trait]
impl Controller for InterfaceConfigController {
    fn name(&self) -> &'static str {
        "network.InterfaceConfigController"
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
            for entry in mc.spec.config.links().iter().filter(|l| !l.ignore) {
                if let Some(link) = entry.resolve(&links) {
                    render(entry, link, &mut link_specs, &mut addr_specs);
                }
            }
        }
        let mut keep = HashSet::new();
        for spec in &link_specs {
            ctx.put(&spec.name, spec)?;
            keep.insert(spec.name.clone());
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
