//! Certificates this node issues itself from the CAs in its config: the
//! machine API's server certificate and etcd's certificates. Re-issued when
//! the names and addresses they must cover change.

mod api_certs;
mod etcd_certs;

pub use api_certs::ApiCertsController;
pub use etcd_certs::EtcdCertsController;

use machined_resources::types::{AddressScope, AddressStatus, MachineConfigSpec};
use std::collections::BTreeSet;

/// Names and addresses a node's server certificates cover: its hostname,
/// global addresses, loopback, `localhost`, every VIP, and `extra`.
pub fn node_sans(mc: &MachineConfigSpec, addrs: &[AddressStatus], extra: &[String]) -> Vec<String> {
    let c = &mc.config;
    let mut s: BTreeSet<String> = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .collect();
    s.insert(crate::etcd::node_name(c));
    s.extend(
        addrs
            .iter()
            .filter(|a| a.scope == AddressScope::Global)
            .map(|a| a.address.addr().to_string()),
    );
    s.extend(c.vip_ips().iter().map(|ip| ip.to_string()));
    s.extend(extra.iter().cloned());
    s.into_iter().collect()
}
