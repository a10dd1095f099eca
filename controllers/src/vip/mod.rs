//! The shared IP: config → `VIPSpec`; one etcd election per VIP; while this
//! node leads, an `AddressSpec` (operator layer, announced); `VIPStatus`
//! on every node.

mod config;
mod election;
mod keepalive;
mod observe;
mod operator;
mod probe;
#[cfg(test)]
mod tests;

pub use config::VipConfigController;
pub use operator::VipController;

/// etcd election name (key prefix) of a VIP.
pub fn election_name(ip: &std::net::IpAddr) -> String {
    format!("machined/vip/{ip}")
}
