//! Machine config → `LinkSpec` (up, MTU; VLANs and bonds to create, bond
//! members to enslave), `AddressSpec`, `RouteSpec`
//! (layer configuration) and `DHCPSpec` for every configured link that
//! exists. A DHCP link without a configured MTU takes its lease's.

use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::config::{resolve_name, LinkEntry};
use machined_resources::types::{
    AddressSpec, ConfigLayer, DhcpSpec, DhcpStatus, LinkSpec, LinkStatus, MachineConfigSpec,
    RouteSpec, VirtualLink,
};
use std::collections::HashSet;

pub struct InterfaceConfigController;

/// What one configured link, named `link`, asks for.
#[derive(Default)]
struct Rendered {
    links: Vec<LinkSpec>,
    addrs: Vec<AddressSpec>,
    routes: Vec<RouteSpec>,
    dhcp: Vec<DhcpSpec>,
}

fn render(entry: &LinkEntry<'_>, link: String, create: Option<VirtualLink>, out: &mut Rendered) {
    if let Some(options) = entry.dhcp {
        out.dhcp.push(DhcpSpec {
            link: link.clone(),
            options: options.clone(),
        });
    }
    out.routes.extend(entry.routes.iter().map(|r| RouteSpec {
        link: link.clone(),
        destination: r.destination_or_default(),
        gateway: r.gateway,
        source: r.source,
        metric: r.metric,
        layer: ConfigLayer::Configuration,
    }));
    out.addrs
        .extend(entry.addresses.iter().map(|a| AddressSpec {
            address: *a,
            link: link.clone(),
            layer: ConfigLayer::Configuration,
            valid_until_ms: None,
        }));
    out.links.push(LinkSpec {
        name: link,
        up: entry.up,
        mtu: entry.mtu,
        layer: ConfigLayer::Configuration,
        create,
        master: None,
    });
}

/// Bond members: up, enslaved to their bond (a member configured on its own
/// keeps its settings and gains the master).
fn enslave(out: &mut Rendered, bond: &str, members: &[String]) {
    for m in members {
        match out.links.iter_mut().find(|l| l.name == *m) {
            Some(l) => l.master = Some(bond.to_string()),
            None => out.links.push(LinkSpec {
                name: m.clone(),
                up: true,
                layer: ConfigLayer::Configuration,
                master: Some(bond.to_string()),
                ..Default::default()
            }),
        }
    }
}

#[async_trait]
impl Controller for InterfaceConfigController {
    fn name(&self) -> &'static str {
        "network.InterfaceConfigController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![
            Input::of::<MachineConfigSpec>(),
            Input::of::<LinkStatus>(),
            Input::of::<DhcpStatus>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![
            Output::shared::<AddressSpec>(),
            Output::shared::<LinkSpec>(),
            Output::shared::<RouteSpec>(),
            Output::exclusive::<DhcpSpec>(),
        ]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let links = ctx.list::<LinkStatus>()?;
        let mut out = Rendered::default();
        if let Some(mc) = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)? {
            let mut bonds = Vec::new();
            for entry in mc.spec.config.links().iter().filter(|l| !l.ignore) {
                let Some(link) = entry.resolve(&links) else {
                    continue;
                };
                // VLANs and bonds are machined's to create.
                let create = match (entry.vlan, entry.bond) {
                    (Some(id), _) => entry
                        .selector
                        .resolve(&links)
                        .map(|parent| VirtualLink::Vlan { parent, id }),
                    (None, Some(b)) => {
                        let members: Vec<String> =
                            b.links.iter().map(|m| resolve_name(m, &links)).collect();
                        bonds.push((link.clone(), members));
                        Some(VirtualLink::Bond(b.clone()))
                    }
                    (None, None) => None,
                };
                render(entry, link, create, &mut out);
            }
            for (bond, members) in bonds {
                enslave(&mut out, &bond, &members);
            }
        }
        // A DHCP link without a configured MTU takes the lease's (option 26).
        for spec in out.links.iter_mut().filter(|l| l.mtu.is_none()) {
            if out.dhcp.iter().any(|d| d.link == spec.name) {
                spec.mtu = ctx
                    .get::<DhcpStatus>(&spec.name)?
                    .and_then(|s| s.spec.mtu)
                    .filter(|m| *m >= 576)
                    .map(u32::from);
            }
        }
        let mut keep = HashSet::new();
        for spec in &out.links {
            ctx.put(&spec.name, spec)?;
            keep.insert(spec.name.clone());
        }
        ctx.retain::<LinkSpec>(&keep)?;
        let mut keep = HashSet::new();
        for spec in &out.addrs {
            let id = AddressSpec::id(&spec.link, &spec.address);
            ctx.put(&id, spec)?;
            keep.insert(id);
        }
        ctx.retain::<AddressSpec>(&keep)?;
        let mut keep = HashSet::new();
        for spec in &out.routes {
            let id = spec.id();
            ctx.put(&id, spec)?;
            keep.insert(id);
        }
        ctx.retain::<RouteSpec>(&keep)?;
        let mut keep = HashSet::new();
        for spec in &out.dhcp {
            ctx.put(&spec.link, spec)?;
            keep.insert(spec.link.clone());
        }
        ctx.retain::<DhcpSpec>(&keep)
    }
}
