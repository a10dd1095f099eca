//! Kernel links → `LinkStatus`, refreshed on every netlink link event and
//! every few seconds: some changes send no event (an alternative name added
//! to a link that is down), and a busy multicast socket can drop events.

use crate::kernel::{KernelLink, NetDriver};
use crate::{Controller, ControllerError, Ctx, Input, Output, Waker};
use async_trait::async_trait;
use machined_resources::types::LinkStatus;
use std::collections::HashSet;
use std::sync::Arc;

/// How often links are read again without an event.
const RESYNC: std::time::Duration = std::time::Duration::from_secs(5);

pub struct LinkStatusController {
    pub driver: Arc<dyn NetDriver>,
}

/// The driver of a physical device, from sysfs; only when sysfs shows this
/// network namespace's link of that name (same index).
fn driver_of(l: &KernelLink) -> String {
    if l.link_type != "ether" || !l.kind.is_empty() {
        return String::new();
    }
    let dir = format!("/sys/class/net/{}", l.name);
    let same = std::fs::read_to_string(format!("{dir}/ifindex"))
        .is_ok_and(|i| i.trim() == l.index.to_string());
    if !same {
        return String::new();
    }
    std::fs::read_link(format!("{dir}/device/driver"))
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

#[async_trait]
impl Controller for LinkStatusController {
    fn name(&self) -> &'static str {
        "network.LinkStatusController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<LinkStatus>()]
    }

    async fn start(&mut self, waker: Waker) -> Result<(), ControllerError> {
        self.driver.subscribe(waker);
        Ok(())
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let mut keep = HashSet::new();
        for l in self.driver.dump_links().await? {
            let status = LinkStatus {
                index: l.index,
                driver: driver_of(&l),
                link_type: l.link_type,
                kind: l.kind,
                hardware_addr: l.mac,
                up: l.up,
                oper_state: l.oper_state,
                mtu: l.mtu,
                master_index: l.master,
                permanent_addr: l.perm_mac,
                alt_names: l.alt_names,
                alias: l.alias,
            };
            ctx.put(&l.name, &status)?;
            keep.insert(l.name);
        }
        ctx.requeue_after(RESYNC);
        ctx.retain::<LinkStatus>(&keep)
    }
}
