//! The machine API: every gRPC service machined serves (machine,
//! resources, observe, VIP, etcd, health), the roles they check and the
//! proxy that forwards a call to other nodes. What a client needs to reach
//! them is in `machined-client`.

pub mod apply;
pub mod apply_mode;
pub mod auth;
pub mod etcd_api;
mod etcd_recover;
mod etcd_verbs;
pub mod health_api;
pub mod kmsg;
pub mod machine;
mod machine_service;
pub mod observe;
pub mod power;
pub mod processes;
pub mod proxy;
mod quorum;
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

pub use machined_client::DEFAULT_PORT;
