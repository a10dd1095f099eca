//! How something outside the state (kernel events, timers, etcd, a
//! runner) wakes a controller; below both the runtime and the kernel.

use std::sync::Arc;
use tokio::sync::Notify;

/// Wakes a controller from outside the state (kernel events, timers, etcd).
/// Wakes coalesce: many wakes before the controller runs cause one reconcile.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.0.notified().await
    }
}
