//! One VIP's election, run as a task per VIP. While eligible it holds a
//! lease, campaigns, and (while waiting) probes the holder. Having won, it
//! hands the address to a [`Holder`], which claims, adds, renews and
//! announces it until a reason to let go. Giving up: the address removed and
//! confirmed gone first (the lease still kept alive), then resign, then
//! revoke the lease, each etcd step bounded and sent through any member.

use super::agreement::Suspicion;
use super::election_error::{self, SessionError};
use super::holder::{Holder, LetGo};
use super::keepalive::{self, LeaseState};
use super::observe::{self, Holder as Observed};
use super::probe::Prober;
use super::runner::{Deps, Desire, Shared};
use crate::etcd::client as etcd;
use etcd_client::{Client, EventType, LeaderKey, ResignOptions};
use machined_resources::types::VipSpec;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

const STEP: Duration = Duration::from_secs(1);

/// Runs until the desire channel closes.
pub async fn run(
    spec: VipSpec,
    mut desire: watch::Receiver<Desire>,
    shared: Arc<Shared>,
    deps: Deps,
) {
    loop {
        let d = match desire.wait_for(|d| d.eligible).await {
            Ok(d) => d.clone(),
            Err(_) => return,
        };
        match session(&spec, &d, &mut desire, &shared, &deps).await {
            Ok(()) => shared.update(|v| v.error.clear()),
            Err(e) => {
                tracing::warn!(error = %e, "VIP election session ended");
                shared.update(|v| v.error = e.to_string());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// One etcd request of the session, bounded by [`STEP`].
async fn etcd_step<T>(
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, SessionError> {
    election_error::step(what, STEP, f).await
}

/// Aborts the tasks it holds when dropped.
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

async fn lease_lost(rx: &mut watch::Receiver<LeaseState>) {
    let _ = rx.wait_for(|s| *s == LeaseState::Lost).await.map(|_| ());
}

async fn ineligible(desire: &mut watch::Receiver<Desire>) {
    let _ = desire.wait_for(|d| !d.eligible).await.map(|_| ());
}

async fn session(
    spec: &VipSpec,
    d: &Desire,
    desire: &mut watch::Receiver<Desire>,
    shared: &Shared,
    deps: &Deps,
) -> Result<(), SessionError> {
    let name = super::election_name(&spec.ip);
    let (member, mut client) =
        etcd::connect_first(d.local_endpoint.as_deref(), &d.endpoints, d.tls.as_ref()).await?;
    tracing::debug!(%member, "election session through this etcd member");
    let ttl = Duration::from_secs(u64::from(spec.options.lease_ttl_secs));
    let granted_at = Instant::now();
    let lease = etcd_step(
        "lease grant",
        client.lease_grant(i64::from(spec.options.lease_ttl_secs), None),
    )
    .await?
    .id();
    // Opened now, so winning costs no socket set-up.
    let Some(mac) = d.mac else {
        return Err(SessionError::NoMac(spec.link.clone()));
    };
    let wire = deps
        .wires
        .open(d.link_index, mac, spec.ip)
        .map_err(SessionError::Link)?;
    let (lease_tx, mut lease_rx) = watch::channel(LeaseState::Acked(granted_at));
    let kick = Arc::new(tokio::sync::Notify::new());
    let (holder_tx, holder_rx) = watch::channel::<Option<Observed>>(None);
    let mut tasks = Tasks(vec![
        tokio::spawn(
            keepalive::keep_alive(
                client.clone(),
                lease,
                ttl,
                granted_at,
                lease_tx,
                kick.clone(),
            )
            .in_current_span(),
        ),
        tokio::spawn(observe::observe(client.clone(), name.clone(), holder_tx).in_current_span()),
    ]);
    let value = Observed {
        node: d.node.clone(),
        ip: d.node_ip,
        mac: Some(mac),
        lease,
    }
    .encode();
    // Every other node reads it strictly: a name they would refuse is an
    // error here, not a holder nobody can see.
    Observed::decode(value.as_bytes(), lease)?;

    // Campaign, while reporting and probing the holder.
    let prober = Prober {
        suspicion: Suspicion {
            vip: spec.ip,
            me: d.node.clone(),
            my_lease: lease,
        },
        link_index: d.link_index,
        mac,
        every: Duration::from_millis(spec.options.holder_probe_ms),
        dead_after: Duration::from_millis(spec.options.holder_dead_after_ms),
    };
    let probing = prober.run(client.clone(), holder_rx.clone());
    let report = report_holder(holder_rx.clone(), shared);
    let campaign = client.campaign(name.as_str(), value.as_str(), lease);
    let won = tokio::select! {
        r = campaign => r.map_err(|source| SessionError::Etcd { what: "campaign", source })?,
        _ = ineligible(desire) => {
            let _ = etcd_step("lease revoke", client.lease_revoke(lease)).await;
            return Ok(());
        }
        _ = lease_lost(&mut lease_rx) => return Err(SessionError::LeaseLost),
        _ = probing => unreachable!("the prober runs until dropped"),
        _ = report => unreachable!("reporting runs until dropped"),
    };
    let Some(key) = won.leader().cloned() else {
        return Err(SessionError::NoLeaderKey);
    };
    tracing::info!(node = %d.node, "won the VIP election");
    shared.update(|v| v.set_holder(Some(d.node.clone())));
    if let Some(local) = &d.local_endpoint {
        tasks.0.push(tokio::spawn(
            keep_etcd_leadership_away(vec![local.clone()], d.tls.clone()).in_current_span(),
        ));
    }
    let holder = Holder {
        link: d.link_index,
        ip: spec.ip,
        ttl,
        announce: spec.options.announce,
        claim_window: Duration::from_millis(spec.options.claim_window_ms),
        addrs: deps.addrs.clone(),
        wire,
        kick,
    };
    let stop = until_let_go(client.clone(), key.clone(), desire.clone());
    let why = holder.hold(&mut lease_rx, stop, shared).await;
    tracing::warn!(reason = why.as_str(), "giving up the VIP");
    // Fail closed: the keep-alive goes on until the kernel confirms the
    // address is gone; only then does anyone else get a chance.
    holder.remove_confirmed(shared).await;
    shared.update(|v| v.set_holder(None));
    // Resign through the session's member; if that fails (its member may be
    // what died), revoke the lease through another one at once.
    let resigned = etcd_step(
        "resign",
        client.resign(Some(ResignOptions::new().with_leader(key))),
    )
    .await;
    drop(tasks);
    let released = match resigned {
        Ok(_) => {
            // Tidy: the lease is of no further use.
            let _ = etcd_step("lease revoke", client.lease_revoke(lease)).await;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, %member, "resign failed; revoking the lease through another member");
            let others: Vec<String> = d
                .endpoints
                .iter()
                .filter(|x| **x != member)
                .cloned()
                .collect();
            match etcd::connect_first(None, &others, d.tls.as_ref()).await {
                Ok((_, mut other)) => etcd_step("lease revoke", other.lease_revoke(lease))
                    .await
                    .map(|_| ()),
                Err(e2) => Err(e2.into()),
            }
            .map_err(|e2| SessionError::Release {
                why,
                resign: Box::new(e),
                revoke: Box::new(e2),
            })
        }
    };
    released
}

/// Resolves with the first reason to let go that etcd or the controller
/// gives: ineligible, or our election key deleted or unwatchable.
async fn until_let_go(
    mut client: Client,
    key: LeaderKey,
    mut desire: watch::Receiver<Desire>,
) -> LetGo {
    let mut events = match client.watch(key.key(), None).await {
        Ok(w) => w,
        Err(_) => return LetGo::KeyWatchEnded,
    };
    loop {
        tokio::select! {
            _ = ineligible(&mut desire) => return LetGo::Ineligible,
            ev = events.message() => match ev {
                Ok(Some(resp)) => {
                    if resp.events().iter().any(|e| e.event_type() == EventType::Delete) {
                        return LetGo::KeyDeleted;
                    }
                }
                Ok(None) | Err(_) => return LetGo::KeyWatchEnded,
            },
        }
    }
}

/// Reports the observed holder into the view until dropped.
async fn report_holder(mut rx: watch::Receiver<Option<Observed>>, shared: &Shared) {
    loop {
        let h = rx.borrow_and_update().as_ref().map(|h| h.node.clone());
        shared.update(|v| v.set_holder(h));
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// When the VIP holder is also the etcd leader, its death costs an etcd
/// election before anyone can take over; so move etcd leadership to another
/// member, now and whenever it comes back.
async fn keep_etcd_leadership_away(local: Vec<String>, tls: Option<etcd::Tls>) {
    // Asks this node's own member: "am I the leader" must be about it.
    let mut client = loop {
        match etcd::connect(&local, tls.as_ref()).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_secs(5)).await,
        }
    };
    loop {
        if let Ok(Ok(st)) = tokio::time::timeout(STEP, client.status()).await {
            let me = st.header().map(|h| h.member_id()).unwrap_or_default();
            if me != 0 && st.leader() == me {
                if let Ok(Ok(ml)) = tokio::time::timeout(STEP, client.member_list()).await {
                    // Any other started voting member; try them in turn (one may be down).
                    for other in ml
                        .members()
                        .iter()
                        .filter(|m| m.id() != me && !m.is_learner() && !m.name().is_empty())
                    {
                        if let Ok(Ok(_)) =
                            tokio::time::timeout(STEP, client.move_leader(other.id())).await
                        {
                            tracing::info!(
                                to = other.name(),
                                "moved etcd leadership away from the VIP holder"
                            );
                            break;
                        }
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
