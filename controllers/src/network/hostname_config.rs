//! Machine config + DHCP leases → `HostnameSpec`: the configured hostname
//! (`HostnameConfig`, `machine.network.hostname`) wins; else the name a
//! DHCP server offers on a link whose DHCP does not `ignoreHostname` (the
//! first such link by name); else none, and the kernel's name stays.

use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::config::valid_hostname;
use machined_resources::types::{DhcpSpec, DhcpState, DhcpStatus, HostnameSpec, MachineConfigSpec};

pub struct HostnameConfigController;

/// `name` split into the kernel's hostname and the domain, if it is a
/// valid DNS name (an offered one is the server's word: checked here).
pub fn split_fqdn(name: &str, source: String) -> Option<HostnameSpec> {
    let name = name.trim_end_matches('.');
    if name.is_empty() || !valid_hostname(name) {
        return None;
    }
    let (host, domain) = name.split_once('.').unwrap_or((name, ""));
    Some(HostnameSpec {
        hostname: host.to_ascii_lowercase(),
        domainname: domain.to_ascii_lowercase(),
        source,
    })
}

#[async_trait]
impl Controller for HostnameConfigController {
    fn name(&self) -> &'static str {
        "network.HostnameConfigController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![
            Input::of::<MachineConfigSpec>(),
            Input::of::<DhcpSpec>(),
            Input::of::<DhcpStatus>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<HostnameSpec>()]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let configured = ctx
            .get::<MachineConfigSpec>(MachineConfigSpec::ID)?
            .and_then(|mc| mc.spec.config.hostname.clone());
        let mut want = configured.and_then(|h| split_fqdn(&h, "config".into()));
        if want.is_none() {
            let mut specs = ctx.list::<DhcpSpec>()?;
            specs.sort_by(|a, b| a.metadata.id.cmp(&b.metadata.id));
            for s in specs.iter().filter(|s| !s.spec.options.ignore_hostname) {
                let offered = ctx
                    .get::<DhcpStatus>(&s.spec.link)?
                    .filter(|st| st.spec.state == DhcpState::Bound)
                    .map(|st| st.spec.hostname);
                let source = format!("dhcp {}", s.spec.link);
                want = offered.and_then(|h| split_fqdn(&h, source));
                if want.is_some() {
                    break;
                }
            }
        }
        match want {
            Some(spec) => ctx.put(HostnameSpec::ID, &spec),
            None => ctx.destroy::<HostnameSpec>(HostnameSpec::ID),
        }
    }
}
