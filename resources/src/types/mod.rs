//! Typed specs of every resource machined keeps.

mod machine;
mod network;

pub use machine::MachineConfigSpec;
pub use network::{
    AddressSpec, AddressStatus, ConfigLayer, LinkSpec, LinkStatus, ADDRESS_PROTO_MACHINED,
};

/// Namespaces.
pub const NS_CONFIG: &str = "config";
pub const NS_NETWORK: &str = "network";
