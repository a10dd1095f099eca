//! Network controllers: kernel state in, specs out, specs applied.
//!
//! Who writes the kernel: these controllers write links (up, MTU) and the
//! node's own addresses, marked with `IFA_PROTO` 109. They never write a VIP:
//! its holder adds, renews and removes it itself (`vip::holder` through
//! `kernel::vip_addr`, mark 110), because the removal must happen before the
//! resign, with no queue in between.

mod address_spec;
mod address_status;
mod cmdline_config;
mod hostname_config;
mod hostname_spec;
#[cfg(test)]
mod hostname_tests;
mod interface_config;
mod link_alias_config;
#[cfg(test)]
mod link_alias_tests;
mod link_spec;
mod link_status;
mod route_spec;
mod route_status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod virtual_links_tests;

pub use address_spec::{plan, AddrOp, AddressSpecController, Lifetimes};

use crate::{ControllerError, Ctx};
use machined_resources::types::LinkStatus;
use std::collections::HashMap;

/// Link names by kernel index, as `LinkStatus` has them: what the status
/// controllers name kernel objects by.
fn link_names(ctx: &Ctx) -> Result<HashMap<u32, String>, ControllerError> {
    Ok(ctx
        .list::<LinkStatus>()?
        .into_iter()
        .map(|l| (l.spec.index, l.metadata.id))
        .collect())
}
pub use address_status::AddressStatusController;
pub use cmdline_config::{parse_ip, CmdlineConfigController, CmdlineIp};
pub use hostname_config::{split_fqdn, HostnameConfigController};
pub use hostname_spec::{shares_init_uts_namespace, HostnameSpecController};
pub use interface_config::InterfaceConfigController;
pub use link_alias_config::LinkAliasConfigController;
pub use link_spec::LinkSpecController;
pub use link_status::LinkStatusController;
pub use route_spec::{plan_routes, RouteOp, RouteSpecController};
pub use route_status::RouteStatusController;
