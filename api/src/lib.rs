//! The machine API: the gRPC services machined serves, and what mctl needs
//! to reach them.

pub mod apply;
pub mod apply_mode;
pub mod auth;
pub mod client;
pub mod convert;
pub mod kmsg;
pub mod machine;
pub mod observe;
pub mod power;
pub mod processes;
pub mod resources;
pub mod store;
pub mod tls;
pub mod vip;
mod vip_pin;

pub use machine::MachineApi;
pub use observe::ObserveApi;
pub use power::{PowerAction, PowerSwitch};
pub use resources::ResourceApi;
pub use store::NodeStore;
pub use vip::VipApi;

/// Default port of the machine API.
pub const DEFAULT_PORT: u16 = 50000;
