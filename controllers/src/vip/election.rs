//! One VIP's election, run as a task per VIP. While eligible it holds a
//! lease, campaigns, and (while waiting) probes the holder. Having won, it
//! hands the address to a [`Holder`], which claims, adds, renews and
//! announces it until a reason to let go. Giving up: the address removed and
//! confirmed gone first (the lease still kept alive), then resign, then
//! revoke the lease, each step bounded and sent through any member. etcd is
//! reached through the [`super::elector`] traits.

use super::agreement::Suspicion;
use super::election_error::SessionError;
use super::election_health as health;
use super::election_move::{self as moving, elsewhere};
use super::holder::{Holder, LetGo};
use super::keepalive::LeaseState;
use super::observe::Holder as Observed;
use super::probe::Prober;
use super::report::{note_holder, report_holder};
use super::runner::{Deps, Desire, Shared};
use machined_resources::types::VipSpec;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

/// Why a node whose check does not pass is not campaigning.
const STANDBY: &str = "health check not passing: not campaigning while another node holds the VIP";
/// Why a node stepped out of the queue.
const MOVING: &str = "the VIP is being moved to another node on request: stepped out of the queue";
/// How long nobody may hold the VIP before a node that stepped out for a
/// move campaigns anyway (the target claims within milliseconds).
const MOVE_FALLBACK: Duration = Duration::from_secs(2);

/// Runs until the desire channel closes.
pub async fn run(
    spec: VipSpec,
    mut desire: watch::Receiver<Desire>,
    shared: Arc<Shared>,
    deps: Deps,
) {
    loop {
        // Not a candidate (forfeited, say) but etcd is there: still watch
        // who holds, so VIPStatus names the holder on every node.
        let watching = desire.clone();
        let waited = tokio::select! {
            r = desire.wait_for(|d| d.eligible) => r.map(|d| d.clone()),
            _ = observe_only(&spec, watching, &shared, &deps) => continue,
        };
        let Ok(d) = waited else { return };
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
    let c = deps.elector.connect(d).await?;
    let ttl = Duration::from_secs(u64::from(spec.options.lease_ttl_secs));
    let granted_at = Instant::now();
    let lease = c.grant(spec.options.lease_ttl_secs).await?;
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
    let (move_tx, mut move_rx) = watch::channel::<Option<String>>(None);
    let mut tasks = Tasks(vec![
        tokio::spawn(
            c.keep_alive(lease, ttl, granted_at, lease_tx, kick.clone())
                .in_current_span(),
        ),
        tokio::spawn(c.observe(name.clone(), holder_tx).in_current_span()),
        tokio::spawn(super::report::keepalives(lease_rx.clone(), spec.ip)),
        tokio::spawn(c.observe_move(spec.ip, move_tx).in_current_span()),
    ]);
    let passing = d.health.passing();
    let mine = Observed {
        node: d.node.clone(),
        ip: d.node_ip,
        mac: Some(mac),
        healthy: passing,
        priority: d.handover.priority,
        lease,
    };
    let value = mine.encode();
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
    let report = report_holder(holder_rx.clone(), shared, spec.ip);
    tokio::pin!(report);
    // A pending move decides whether to queue at all: its first reading
    // (one etcd read) comes before the campaign.
    let _ = tokio::time::timeout(Duration::from_secs(2), move_rx.changed()).await;
    let stepped_out = passing && elsewhere(&move_rx.borrow(), &d.node);
    let handover_rx = desire.clone();
    if !passing || stepped_out {
        // Out of the election while anyone holds (or a move to another
        // node is under way); in once nobody does.
        let (why, quiet) = if passing {
            (MOVING, MOVE_FALLBACK.max(d.health.fallback_after))
        } else {
            (STANDBY, d.health.fallback_after)
        };
        shared.update(|v| v.standby = why.into());
        let ended = tokio::select! {
            _ = health::no_holder_for(holder_rx.clone(), quiet) => None,
            _ = moving::not_elsewhere(move_rx.clone(), &d.node), if stepped_out => Some(Ok(())),
            _ = moving::handover_changed(handover_rx.clone(), d.handover.clone()) => Some(Ok(())),
            _ = health::flipped(desire, passing) => Some(Ok(())),
            _ = lease_lost(&mut lease_rx) => Some(Err(SessionError::LeaseLost)),
            _ = &mut report => unreachable!("reporting runs until dropped"),
        };
        shared.update(|v| v.standby.clear());
        if let Some(r) = ended {
            let _ = c.revoke(lease).await;
            return r;
        }
        tracing::warn!(why, "no holder seen: campaigning anyway");
    }
    // Only healthy candidates probe the holder (and count towards deposing it).
    let probing = if passing {
        c.probe(prober, holder_rx.clone())
    } else {
        Box::pin(std::future::pending())
    };
    let key = tokio::select! {
        r = c.campaign(&name, &value, lease) => r?,
        // Ineligible, or the check's verdict changed: out (and back in with
        // the right value).
        _ = health::flipped(desire, passing) => {
            let _ = c.revoke(lease).await;
            return Ok(());
        }
        _ = health::other_holder(holder_rx.clone(), lease), if !passing => {
            let _ = c.revoke(lease).await;
            return Ok(());
        }
        _ = moving::handover_changed(handover_rx, d.handover.clone()) => {
            let _ = c.revoke(lease).await;
            return Ok(());
        }
        // A move to another node: out of its way.
        _ = moving::requested_elsewhere(move_rx.clone(), &d.node), if !stepped_out => {
            let _ = c.revoke(lease).await;
            return Ok(());
        }
        _ = moving::preempt(&*c, spec.ip, d, holder_rx.clone(), move_rx.clone()), if passing => {
            unreachable!("preempting runs until dropped")
        }
        _ = lease_lost(&mut lease_rx) => return Err(SessionError::LeaseLost),
        _ = probing => unreachable!("the prober runs until dropped"),
        _ = &mut report => unreachable!("reporting runs until dropped"),
    };
    let won_at = Instant::now();
    tracing::info!(node = %d.node, healthy = passing, "won the VIP election");
    note_holder(shared, spec.ip, Some(d.node.clone()));
    if let Some(t) = c.keep_leadership_away(d) {
        tasks.0.push(tokio::spawn(t.in_current_span()));
    }
    let (wire_tx, wire_rx) = watch::channel(wire);
    let holder = Holder {
        link: d.link_index,
        ip: spec.ip,
        ttl,
        announce: spec.options.announce,
        claim_window: Duration::from_millis(spec.options.claim_window_ms),
        addrs: deps.addrs.clone(),
        wire: wire_rx,
        kick,
    };
    // The first reason to let go: ineligible, our election key deleted or
    // unwatchable, a failing check with a healthy candidate, a move.
    let mut eligible = desire.clone();
    let stop = async {
        tokio::select! {
            _ = ineligible(&mut eligible) => LetGo::Ineligible,
            why = c.key_gone(&key) => why,
            why = health::handover(&*c, &name, lease, desire.clone(), won_at, shared) => why,
            why = moving::move_away(&*c, &name, spec.ip, move_rx.clone(), &d.node, lease) => why,
            _ = super::election_mac::follow(&*c, &key, &*deps.wires, (d.link_index, spec.ip), desire.clone(), wire_tx, mine) => {
                unreachable!("following the MAC runs until dropped")
            }
        }
    };
    let why = holder.hold(&mut lease_rx, stop, shared).await;
    tracing::warn!(reason = why.as_str(), "giving up the VIP");
    // Fail closed: the keep-alive goes on until the kernel confirms the
    // address is gone; only then does anyone else get a chance.
    let was_leading = shared.view().leading;
    holder.remove_confirmed(shared).await;
    if was_leading {
        super::report::released(spec.ip, why, &desire.borrow().reason);
    }
    shared.update(|v| v.set_holder(None));
    // Resign through the session's member; if that fails (its member may be
    // what died), revoke the lease through another one at once.
    let resigned = c.resign(key).await;
    drop(tasks);
    match resigned {
        Ok(()) => {
            // Tidy: the lease is of no further use.
            let _ = c.revoke(lease).await;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, member = c.member(), "resign failed; revoking the lease through another member");
            c.revoke_elsewhere(d, lease)
                .await
                .map_err(|e2| SessionError::Release {
                    why,
                    resign: Box::new(e),
                    revoke: Box::new(e2),
                })
        }
    }
}

/// Observes election `spec.ip` through any member and reports the holder,
/// while this node is not a candidate; runs until dropped (or, without an
/// etcd to ask, does nothing).
async fn observe_only(
    spec: &machined_resources::types::VipSpec,
    desire: watch::Receiver<Desire>,
    shared: &Shared,
    deps: &Deps,
) {
    use tracing::Instrument;
    loop {
        let d = desire.borrow().clone();
        if d.endpoints.is_empty() {
            return std::future::pending().await;
        }
        if let Ok(c) = deps.elector.connect(&d).await {
            let (tx, rx) = watch::channel(None);
            let task = tokio::spawn(
                c.observe(super::election_name(&spec.ip), tx)
                    .in_current_span(),
            );
            struct Abort(tokio::task::JoinHandle<()>);
            impl Drop for Abort {
                fn drop(&mut self) {
                    self.0.abort();
                }
            }
            let _task = Abort(task);
            report_holder(rx, shared, spec.ip).await;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
