//! What passes between the VIP controller and one VIP's runner: the
//! controller's [`Desire`], the runner's [`View`] (behind [`Shared`]), and the
//! kernel and link the runner reaches ([`Deps`]).

use super::wire::Wires;
use crate::etcd::client as etcd;
use crate::kernel::packet::Mac;
use crate::kernel::vip_addr::VipAddrs;
use crate::Waker;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// What the controller wants of a runner.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desire {
    pub eligible: bool,
    pub reason: String,
    /// Client URLs of every etcd member, this node's first.
    pub endpoints: Vec<String>,
    /// This node's own member (empty with an external etcd).
    pub local_endpoint: Option<String>,
    pub node: String,
    pub node_ip: Option<IpAddr>,
    pub link_index: u32,
    pub mac: Option<Mac>,
    /// etcd client TLS, when etcd runs with it.
    pub tls: Option<etcd::Tls>,
}

/// What a runner tells the controller.
#[derive(Debug, Clone)]
pub struct View {
    /// The address is (meant to be) on the link.
    pub leading: bool,
    /// The last holder seen (kept while the holder is unknown), to count
    /// transitions once per real change.
    pub last_holder: Option<String>,
    pub holder: Option<String>,
    pub since: SystemTime,
    pub transitions: u64,
    pub error: String,
    /// Won, but not claiming yet: why.
    pub waiting: String,
    /// Last announcement and frames sent since the address was added.
    pub announced: Option<(SystemTime, u64)>,
}

impl Default for View {
    fn default() -> Self {
        View {
            leading: false,
            last_holder: None,
            holder: None,
            since: SystemTime::now(),
            transitions: 0,
            error: String::new(),
            waiting: String::new(),
            announced: None,
        }
    }
}

impl View {
    /// Records the holder; a new holder (not just "unknown") is a transition.
    pub fn set_holder(&mut self, h: Option<String>) {
        if self.holder == h {
            return;
        }
        if h.is_some() && h != self.last_holder {
            self.transitions += 1;
            self.since = SystemTime::now();
            self.last_holder = h.clone();
        }
        self.holder = h;
    }
}

pub struct Shared {
    pub view: Mutex<View>,
    pub waker: Waker,
}

impl Shared {
    pub fn new(waker: Waker) -> Arc<Self> {
        Arc::new(Shared {
            view: Mutex::new(View::default()),
            waker,
        })
    }

    pub fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn update(&self, f: impl FnOnce(&mut View)) {
        f(&mut self.view());
        self.waker.wake();
    }
}

/// The kernel, the link and the election service, as the runner reaches
/// them.
#[derive(Clone)]
pub struct Deps {
    pub addrs: Arc<dyn VipAddrs>,
    pub wires: Arc<dyn Wires>,
    pub elector: Arc<dyn super::elector::Elector>,
}
