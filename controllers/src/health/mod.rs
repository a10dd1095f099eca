//! Health checks of the services behind VIPs: `VIPSpec` (its
//! `healthCheck`) → one checking task per VIP → `VIPHealthStatus`, which the
//! VIP controller reads to gate this node's candidacy.

mod probe;
pub mod tracker;
mod vip_health;
#[cfg(test)]
mod vip_health_tests;

pub use probe::{Outcome, Target};
pub use vip_health::VipHealthController;
