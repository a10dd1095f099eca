//! One VIP's election, run as a task per VIP. A session goes through its
//! phases in order (`session.rs`, `session_hold.rs`): it opens (a lease,
//! the link, the watches), waits in standby while its health check or a
//! move keeps it out, campaigns (probing the holder meanwhile), and, having
//! won, holds: a [`super::holder::Holder`] claims, adds and renews the
//! address while its speaker answers and announces for it, each time with
//! fresh proof from etcd. Giving up: the address removed and confirmed gone
//! first (the lease still kept alive), then resign, then revoke the lease,
//! each step bounded and sent through any member. etcd is reached through
//! the [`super::elector`] traits.

use super::deps::Deps;
use super::group::Group;
use super::report::report_holder;
use super::runner::{Desire, Shared};
use super::session::Session;
use super::shared::Tasks;
use machined_resources::types::VipSpec;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// Runs until the desire channel closes.
pub async fn run(group: Group, mut desire: watch::Receiver<Desire>, deps: Deps) {
    let (spec, shared) = (group.lead(), group.shared());
    loop {
        // An operator's pin (made only while etcd cannot decide) comes
        // before any session, and ends one under way.
        let done = shared.view().pin_done;
        let pin = desire.borrow().pin.clone().filter(|p| p.seq > done);
        if let Some(p) = pin {
            super::pin::run(&group, p, desire.clone(), &deps).await;
            continue;
        }
        let pinned = pin_due(desire.clone(), done);
        tokio::pin!(pinned);
        // Not a candidate (forfeited, say) but etcd is there: still watch
        // who holds, so VIPStatus names the holder on every node.
        let watching = desire.clone();
        let waited = tokio::select! {
            r = desire.wait_for(|d| d.eligible) => r.map(|d| d.clone()),
            _ = observe_only(spec, watching, shared, &deps) => continue,
            _ = &mut pinned => continue,
        };
        let Ok(d) = waited else { return };
        let ended = tokio::select! {
            r = session(&group, d, &mut desire, &deps) => r,
            _ = &mut pinned => {
                // The session could prove nothing without quorum; what it
                // may have left in the kernel goes before the pin claims.
                group.remove_left(&*deps.addrs);
                continue;
            }
        };
        match ended {
            Ok(()) => shared.update(|v| v.error.clear()),
            Err(e) => {
                tracing::warn!(error = %machined_resources::error::chain(&e), "VIP election session ended");
                shared.update(|v| v.error = machined_resources::error::chain(&e).to_string());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// One session, phase by phase; each phase either hands on or ends it.
async fn session(
    group: &Group,
    d: Desire,
    desire: &mut watch::Receiver<Desire>,
    deps: &Deps,
) -> Result<(), super::election_error::SessionError> {
    let mut s = Session::open(group, d, desire.clone(), deps).await?;
    if let Some(ended) = s.standby().await {
        return s.leave(ended).await;
    }
    let key = match s.campaign().await {
        Ok(key) => key,
        Err(ended) => return s.leave(ended).await,
    };
    s.hold(key).await
}

/// Resolves when a pin newer than `done` is asked for.
async fn pin_due(mut desire: watch::Receiver<Desire>, done: u64) {
    if desire
        .wait_for(|d| d.pin.as_ref().is_some_and(|p| p.seq > done))
        .await
        .is_err()
    {
        std::future::pending::<()>().await;
    }
}

/// Observes the election of `spec` (a group's lead) through any member and
/// reports the holder,
/// while this node is not a candidate; runs until dropped (or, without an
/// etcd to ask, does nothing).
async fn observe_only(
    spec: &VipSpec,
    desire: watch::Receiver<Desire>,
    shared: &Shared,
    deps: &Deps,
) {
    loop {
        let d = desire.borrow().clone();
        if d.endpoints.is_empty() {
            return std::future::pending().await;
        }
        if let Ok(c) = deps.elector.connect(&d).await {
            let (tx, rx) = watch::channel(None);
            let _task = Tasks(vec![tokio::spawn(
                c.observe(super::group::election(spec), tx)
                    .in_current_span(),
            )]);
            report_holder(rx, shared, spec.ip).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
