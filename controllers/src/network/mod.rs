//! Network controllers: kernel state in, specs out, specs applied.

mod address_config;
mod address_spec;
mod address_status;
mod link_spec;
mod link_status;
#[cfg(test)]
mod tests;

pub use address_config::AddressConfigController;
pub use address_spec::{plan, AddrOp, AddressSpecController};
pub use address_status::AddressStatusController;
pub use link_spec::LinkSpecController;
pub use link_status::LinkStatusController;
