//! The shared IP: config → `VIPSpec`; one etcd election per VIP; `VIPStatus`
//! on every node.
//!
//! Who writes the kernel: the VIP's address is not an `AddressSpec`. The
//! election's winner puts it into the kernel itself ([`holder`]), on `lo`,
//! through a synchronous netlink socket (`kernel::vip_addr`), with a kernel
//! lifetime that only an acknowledged etcd keep-alive renews ([`lifetime`]),
//! and removes it itself before resigning. The address controller never
//! touches it: it carries its own `IFA_PROTO` mark (110). At start-up the
//! VIP controller removes every address with that mark (this node leads
//! nothing yet).
//!
//! Who speaks for it: never the kernel (the VIP's link keeps quiet about
//! addresses not on it, `kernel::quiet`), only the holder's [`speaker`],
//! and only with fresh proof from etcd ([`proof`]) asked after the request
//! (or the reason to announce) arrived. A holder that was frozen, cut off
//! or deposed cannot get that proof, so it stays silent whatever its clocks
//! say.

mod agreement;
mod deposed;
mod deps;
mod election;
mod election_error;
#[cfg(test)]
mod election_fakes;
mod election_health;
#[cfg(test)]
mod election_health_tests;
mod election_mac;
mod election_move;
#[cfg(test)]
mod election_move_tests;
#[cfg(test)]
mod election_tests;
pub mod election_value;
pub mod elector;
mod elector_etcd;
#[cfg(test)]
pub(crate) mod fakes;
mod group;
mod group_members;
#[cfg(test)]
mod group_tests;
mod holder;
mod holder_claim;
#[cfg(test)]
mod holder_tests;
mod keepalive;
mod lifetime;
mod liveness;
mod move_key;
mod node_watch;
mod observe;
#[cfg(test)]
mod operator_tests;
mod owner_key;
mod pin;
mod probe;
mod probe_target;
mod proof;
mod report;
mod runner;
mod schedule;
mod session;
mod session_hold;
mod shared;
mod speaker;
#[cfg(test)]
mod tests;
mod vip_config;
mod vip_desire;
mod vip_operator;
mod vip_status;
mod wire;
mod wire_l2;

pub use elector_etcd::EtcdElector;
pub use lifetime::KERNEL_EXPIRY_SLACK;
pub use vip_config::VipConfigController;
pub use vip_operator::VipOperatorController;
pub use wire::Wires;
pub use wire_l2::L2Wires;

/// etcd election name (key prefix) of a VIP.
pub fn election_name(ip: &std::net::IpAddr) -> String {
    format!("machined/vip/{ip}")
}
