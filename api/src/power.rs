//! `Reboot` and `Shutdown`: the API asks the daemon to stop cleanly (the
//! VIP released first, then etcd) and then reboot or power off; the daemon
//! decides how (PID 1 of the image: the machine; a lab node: machined).

use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    Reboot,
    PowerOff,
}

/// The API's end of the request; the daemon holds the receiver.
#[derive(Clone)]
pub struct PowerSwitch(Arc<watch::Sender<Option<PowerAction>>>);

impl PowerSwitch {
    pub fn new() -> (Self, watch::Receiver<Option<PowerAction>>) {
        let (tx, rx) = watch::channel(None);
        (PowerSwitch(Arc::new(tx)), rx)
    }

    /// Asks for `a`; the first request wins. False when nobody listens.
    pub fn request(&self, a: PowerAction) -> bool {
        let mut first = false;
        self.0.send_if_modified(|cur| {
            first = cur.is_none();
            if first {
                *cur = Some(a);
            }
            first
        });
        self.0.receiver_count() > 0
    }
}

impl Default for PowerSwitch {
    /// A switch nobody listens to (requests are refused).
    fn default() -> Self {
        PowerSwitch::new().0
    }
}

/// What may refuse a reboot or shutdown first (a control plane whose etcd
/// would lose quorum), unless forced.
#[tonic::async_trait]
pub trait DownGuard: Send + Sync {
    async fn check(&self, force: bool) -> Result<(), tonic::Status>;
}
