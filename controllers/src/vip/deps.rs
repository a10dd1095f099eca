//! The kernel, the link and the election service, as a VIP's runner
//! reaches them (fakes in the unit tests).

use super::wire::Wires;
use crate::kernel::vip_addr::VipAddrs;
use std::sync::Arc;

/// The kernel, the link and the election service, as the runner reaches
/// them.
#[derive(Clone)]
pub struct Deps {
    pub addrs: Arc<dyn VipAddrs>,
    pub wires: Arc<dyn Wires>,
    pub elector: Arc<dyn super::elector::Elector>,
}
