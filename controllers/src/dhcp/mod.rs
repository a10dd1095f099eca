//! DHCPv4 client, as Talos's DHCP operator: `DHCPSpec` (from the config)
//! → a client per link → the lease's address, routes and `DHCPStatus`.
//!
//! The state machine ([`client`]) is pure and table-tested against a
//! scripted server; dhcproto reads and writes the messages ([`wire`]); a
//! raw socket carries them ([`frame`]); the lease is kept in the state
//! directory and asked for again after a restart ([`lease`]).

pub mod client;
#[cfg(test)]
mod client_tests;
mod dhcp_operator;
pub mod frame;
pub mod lease;
mod lease_specs;
#[cfg(test)]
mod operator_tests;
mod runner;
pub mod socket;
pub mod wire;

pub use dhcp_operator::DhcpOperatorController;
pub use socket::RawSockets;
