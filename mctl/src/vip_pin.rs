//! `mctl vip pin IP --force` and `mctl vip unpin IP`: the break-glass pin
//! of a VIP on one node while etcd has no quorum, and its end.

use crate::output;
use crate::session::Session;
use anyhow::{bail, Result};
use machined_proto as pb;
use machined_resources::types::VipStatus;
use std::time::{Duration, Instant};

/// Longest wait for a pinned node to claim (it first waits out a lease).
const CLAIM_WAIT: Duration = Duration::from_secs(60);

pub async fn pin(s: &Session, ip: String, force: bool, wait: bool) -> Result<bool> {
    let node = s.one_node("a VIP is pinned on one node")?;
    let mut c = s.vip(node).await?;
    let r = c
        .pin(pb::PinRequest {
            ip: ip.clone(),
            force,
        })
        .await
        .map_err(output::status)?
        .into_inner();
    println!(
        "{node}: {} pinned by {} at {} (etcd: {})",
        r.ip, r.by, r.at, r.etcd
    );
    if !wait {
        return Ok(true);
    }
    let deadline = Instant::now() + CLAIM_WAIT;
    let mut said = String::new();
    loop {
        let st: VipStatus = s.spec(node, &r.ip).await?;
        if st.holding {
            println!("{node}: {} is on this node; the pin ends by itself when etcd answers again (or: mctl vip unpin {})", r.ip, r.ip);
            return Ok(true);
        }
        if st.pinned.is_empty() {
            bail!(
                "{node}: the pin of {} ended before it claimed (see mctl events)",
                r.ip
            );
        }
        if st.pinned != said {
            println!("{node}: {}", st.pinned);
            said = st.pinned;
        }
        if Instant::now() > deadline {
            bail!(
                "{node}: {} not claimed after {} s: {}",
                r.ip,
                CLAIM_WAIT.as_secs(),
                st.reason
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn unpin(s: &Session, ip: String) -> Result<bool> {
    let node = s.one_node("a VIP is unpinned on one node")?;
    let mut c = s.vip(node).await?;
    let r = c
        .unpin(pb::UnpinRequest { ip })
        .await
        .map_err(output::status)?
        .into_inner();
    if r.was_pinned {
        println!("{node}: pin of {} ended", r.ip);
    } else {
        println!("{node}: {} was not pinned", r.ip);
    }
    Ok(true)
}
