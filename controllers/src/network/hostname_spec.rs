//! `HostnameSpec` → the kernel's hostname, and `HostnameStatus`. machined
//! sets the name only where the name is its own: as the OS (PID 1), or when
//! told so (`--set-hostname`: the lab starts each node in a UTS namespace of
//! its own and says so). Otherwise it leaves the host's name alone and says
//! so in the status.

use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_resources::types::{HostnameSpec, HostnameStatus};

pub struct HostnameSpecController {
    /// Whether this process may set the hostname (see the module doc).
    owns_name: bool,
}

impl HostnameSpecController {
    /// `owns_name`: whether this process may set the hostname.
    pub fn new(owns_name: bool) -> Self {
        HostnameSpecController { owns_name }
    }
}

/// Whether this process shares PID 1's UTS namespace, when that can be
/// told (`/proc/1/ns/uts` may be unreadable, e.g. in a container).
pub fn shares_init_uts_namespace() -> Option<bool> {
    let own = std::fs::read_link("/proc/self/ns/uts").ok()?;
    let init = std::fs::read_link("/proc/1/ns/uts").ok()?;
    Some(own == init)
}

#[async_trait]
impl Controller for HostnameSpecController {
    fn name(&self) -> &'static str {
        "network.HostnameSpecController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![Input::of::<HostnameSpec>()]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<HostnameStatus>()]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let want = ctx.get::<HostnameSpec>(HostnameSpec::ID)?.map(|s| s.spec);
        let mut note = String::new();
        if let Some(w) = &want {
            if crate::kernel::hostname() != w.hostname {
                if !self.owns_name {
                    note = "not machined's to set (not the OS, no --set-hostname): the host's name is left alone".into();
                } else if let Err(e) = nix::unistd::sethostname(&w.hostname) {
                    note = format!(
                        "sethostname {}: {}",
                        w.hostname,
                        machined_resources::error::chain(&e)
                    );
                    tracing::warn!(hostname = %w.hostname, error = %machined_resources::error::chain(&e), "setting the hostname failed");
                } else {
                    tracing::info!(hostname = %w.hostname, source = %w.source, "hostname set");
                }
            }
        }
        let st = HostnameStatus {
            hostname: crate::kernel::hostname(),
            domainname: want
                .as_ref()
                .map(|w| w.domainname.clone())
                .unwrap_or_default(),
            source: want.map(|w| w.source).unwrap_or_default(),
            note,
        };
        ctx.put(HostnameStatus::ID, &st)
    }
}
