//! Typed specs of every resource machined keeps.

mod dhcp;
mod etcd;
mod hostname;
mod machine;
mod network;
mod secrets;
mod vip;

pub use dhcp::{DhcpSpec, DhcpState, DhcpStatus};
pub use etcd::{EtcdBootstrap, EtcdLeft, EtcdMember, EtcdPhase, EtcdSpec, EtcdStatus};
pub use hostname::{HostnameSpec, HostnameStatus};
pub use machine::MachineConfigSpec;
pub use network::{
    route_id, AddressFamily, AddressScope, AddressSpec, AddressStatus, AnnounceStatus, ConfigLayer,
    LinkSpec, LinkStatus, OperState, RouteSpec, RouteStatus, VirtualLink, ADDRESS_PROTO_MACHINED,
    ADDRESS_PROTO_VIP, ROUTE_PROTO_MACHINED,
};
pub use secrets::{ApiCerts, EtcdCerts};
pub use vip::{HealthState, VipForfeit, VipHealthStatus, VipMove, VipPin, VipSpec, VipStatus};

/// Namespaces.
pub const NS_CONFIG: &str = "config";
pub const NS_NETWORK: &str = "network";
pub const NS_ETCD: &str = "etcd";
pub const NS_SECRETS: &str = "secrets";
