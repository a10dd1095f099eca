//! The kernel command line's `ip=` (the kernel's own format,
//! `ip=<client>:<server>:<gateway>:<netmask>:<hostname>:<device>:<autoconf>`)
//! → an address, the link up and a default route, at the lowest layer, as
//! Talos reads it: how a machine in maintenance mode is reached before it
//! has a config. Once a config is applied the config alone says the
//! network (the address may move to a bond or VLAN). Only the OS image
//! reads the command line.

use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use ipnet::IpNet;
use machined_resources::config::LinkSelector;
use machined_resources::types::{AddressSpec, ConfigLayer, LinkSpec, MachineConfigSpec, RouteSpec};
use std::net::{IpAddr, Ipv4Addr};

/// What one `ip=` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdlineIp {
    pub device: String,
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
}

/// The static `ip=` of a command line, if any; the DHCP forms
/// (`ip=dhcp`, ...) and malformed ones give none.
pub fn parse_ip(cmdline: &str) -> Option<CmdlineIp> {
    let v = cmdline
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("ip="))
        .next_back()?;
    let f: Vec<&str> = v.split(':').collect();
    let client: Ipv4Addr = f.first()?.parse().ok()?;
    let gateway = f.get(2).and_then(|g| g.parse::<Ipv4Addr>().ok());
    let mask: Ipv4Addr = f.get(3)?.parse().ok()?;
    let prefix = ipnet::ipv4_mask_to_prefix(mask).ok()?;
    let device = f
        .get(5)
        .filter(|d| !d.is_empty() && d.len() < 16)?
        .to_string();
    Some(CmdlineIp {
        device,
        address: IpNet::new(IpAddr::V4(client), prefix).ok()?,
        gateway: gateway.map(IpAddr::V4),
    })
}

pub struct CmdlineConfigController {
    pub ip: Option<CmdlineIp>,
}

#[async_trait]
impl Controller for CmdlineConfigController {
    fn name(&self) -> &'static str {
        "network.CmdlineConfigController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<MachineConfigSpec>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![
            Output::shared::<AddressSpec>(),
            Output::shared::<LinkSpec>(),
            Output::shared::<RouteSpec>(),
        ]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let mc = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)?;
        // Kept while no config is applied, and while the config puts the
        // same address on the same link (so the address never blinks).
        let keep = |ip: &CmdlineIp| {
            mc.as_ref().is_none_or(|mc| {
                mc.spec.config.links().iter().any(|l| {
                    let on_it = match (l.name, l.selector, l.vlan) {
                        (Some(n), _, _) => n == ip.device,
                        (None, LinkSelector::Name(n), None) => *n == ip.device,
                        _ => false,
                    };
                    on_it && l.addresses.contains(&ip.address)
                })
            })
        };
        let Some(ip) = self.ip.as_ref().filter(|ip| keep(ip)) else {
            let none = std::collections::HashSet::new();
            ctx.retain::<AddressSpec>(&none)?;
            ctx.retain::<LinkSpec>(&none)?;
            return ctx.retain::<RouteSpec>(&none);
        };
        let link = ip.device.clone();
        let layer = ConfigLayer::Default;
        let spec = LinkSpec {
            name: link.clone(),
            up: true,
            mtu: None,
            layer,
            ..Default::default()
        };
        ctx.put(&format!("cmdline/{link}"), &spec)?;
        let addr = AddressSpec {
            address: ip.address,
            link: link.clone(),
            layer,
            valid_until_ms: None,
        };
        ctx.put(
            &format!("cmdline/{}", AddressSpec::id(&link, &ip.address)),
            &addr,
        )?;
        if let Some(gw) = ip.gateway {
            let route = RouteSpec {
                link,
                destination: IpNet::V4(Default::default()),
                gateway: Some(gw),
                source: Some(ip.address.addr()),
                metric: 1024,
                layer,
            };
            ctx.put(&format!("cmdline/{}", route.id()), &route)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_forms() {
        let one = |s: &str| parse_ip(s).map(|i| (i.device, i.address.to_string(), i.gateway));
        assert_eq!(
            one("console=ttyS0 ip=10.5.0.11::10.5.0.1:255.255.255.0:cp1:eth0:off"),
            Some((
                "eth0".into(),
                "10.5.0.11/24".into(),
                "10.5.0.1".parse().ok()
            ))
        );
        assert_eq!(
            one("ip=10.5.0.11:::255.255.0.0::eth1:none"),
            Some(("eth1".into(), "10.5.0.11/16".into(), None))
        );
        for bad in [
            "",
            "ip=dhcp",
            "ip=10.5.0.11",
            "ip=10.5.0.11:::255.0.255.0::eth0",
            "ip=x:::255.255.255.0::eth0",
            "ip=10.5.0.11:::255.255.255.0::",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }
}
