//! One VIP's election, run as a task per VIP. While eligible it holds a
//! lease, campaigns, and (while waiting) probes the holder. Having won it
//! asks the controller to put the address up, and keeps it until the lease
//! cannot be renewed in time (fence), its key is deleted, or it is no longer
//! eligible. Giving up: address removed first (by the controller, which
//! then signals `released`), then resign, then revoke the lease, each step
//! bounded.

use super::keepalive::{self, fence_deadline, LeaseState};
use super::observe::{self, Holder};
use super::probe::Prober;
use crate::etcd::client as etcd;
use crate::net::packet::Mac;
use crate::Waker;
use etcd_client::{Client, EventType, LeaderKey, ResignOptions};
use machined_resources::types::VipSpec;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// What the controller wants of a runner.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desire {
    pub eligible: bool,
    pub reason: String,
    pub endpoints: Vec<String>,
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
    pub leading: bool,
    /// The last holder seen (kept while the holder is unknown), to count
    /// transitions once per real change.
    pub last_holder: Option<String>,
    /// The runner gave up and waits for the address to be removed.
    pub release_pending: bool,
    pub holder: Option<String>,
    pub since: SystemTime,
    pub transitions: u64,
    pub error: String,
}

impl Default for View {
    fn default() -> Self {
        View {
            leading: false,
            last_holder: None,
            release_pending: false,
            holder: None,
            since: SystemTime::now(),
            transitions: 0,
            error: String::new(),
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
    /// Signalled by the controller once the address is off the link.
    pub released: Notify,
    pub waker: Waker,
}

impl Shared {
    pub fn new(waker: Waker) -> Arc<Self> {
        Arc::new(Shared {
            view: Mutex::new(View::default()),
            released: Notify::new(),
            waker,
        })
    }

    pub fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut View)) {
        f(&mut self.view());
        self.waker.wake();
    }
}

const STEP: Duration = Duration::from_secs(1);

/// Runs until the desire channel closes.
pub async fn run(spec: VipSpec, mut desire: watch::Receiver<Desire>, shared: Arc<Shared>) {
    loop {
        let d = match desire.wait_for(|d| d.eligible).await {
            Ok(d) => d.clone(),
            Err(_) => return,
        };
        match session(&spec, &d, &mut desire, &shared).await {
            Ok(()) => shared.update(|v| v.error.clear()),
            Err(e) => {
                tracing::warn!(vip = %spec.ip, error = %e, "VIP election session ended");
                shared.update(|v| v.error = e.clone());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {STEP:?}")),
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
) -> Result<(), String> {
    let name = super::election_name(&spec.ip);
    let mut client = etcd::connect_streaming(&d.endpoints, d.tls.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    let ttl = Duration::from_secs(u64::from(spec.options.lease_ttl_secs));
    let granted_at = Instant::now();
    let lease = bounded(
        "lease grant",
        client.lease_grant(i64::from(spec.options.lease_ttl_secs), None),
    )
    .await?
    .id();
    let (lease_tx, mut lease_rx) = watch::channel(LeaseState::Acked(granted_at));
    let (holder_tx, holder_rx) = watch::channel::<Option<Holder>>(None);
    let mut tasks = Tasks(vec![
        tokio::spawn(keepalive::keep_alive(
            client.clone(),
            lease,
            ttl,
            granted_at,
            lease_tx,
        )),
        tokio::spawn(observe::observe(client.clone(), name.clone(), holder_tx)),
    ]);
    let value = serde_json::json!({ "node": d.node, "ip": d.node_ip }).to_string();

    // Campaign, while reporting and probing the holder.
    let prober = d.mac.map(|mac| Prober {
        me: d.node.clone(),
        vip: spec.ip,
        link_index: d.link_index,
        mac,
        every: Duration::from_millis(spec.options.holder_probe_ms),
        dead_after: Duration::from_millis(spec.options.holder_dead_after_ms),
    });
    let probe_client = client.clone();
    let probing = async {
        match prober {
            Some(p) => p.run(probe_client, holder_rx.clone()).await,
            None => std::future::pending().await,
        }
    };
    let report = report_holder(holder_rx.clone(), shared);
    let campaign = client.campaign(name.as_str(), value.as_str(), lease);
    let won = tokio::select! {
        r = campaign => r.map_err(|e| format!("campaign: {e}"))?,
        _ = ineligible(desire) => {
            let _ = bounded("lease revoke", client.lease_revoke(lease)).await;
            return Ok(());
        }
        _ = lease_lost(&mut lease_rx) => return Err("lease lost while campaigning".into()),
        _ = probing => unreachable!("the prober runs until dropped"),
        _ = report => unreachable!("reporting runs until dropped"),
    };
    let Some(key) = won.leader().cloned() else {
        return Err("campaign returned no leader key".into());
    };
    tracing::info!(vip = %spec.ip, node = %d.node, "won the VIP election");
    shared.update(|v| {
        v.leading = true;
        v.set_holder(Some(d.node.clone()));
    });
    tasks
        .0
        .push(tokio::spawn(keep_etcd_leadership_away(client.clone())));

    let why = hold(&mut client, &key, ttl, &mut lease_rx, desire).await;
    tracing::warn!(vip = %spec.ip, reason = why, "giving up the VIP");
    release(shared).await;
    let r1 = bounded(
        "resign",
        client.resign(Some(ResignOptions::new().with_leader(key))),
    )
    .await;
    let mut r2 = bounded("lease revoke", client.lease_revoke(lease))
        .await
        .map(|_| ());
    drop(tasks);
    if let (Err(e1), Err(e2)) = (&r1, &r2) {
        // The session's connection may be what failed: one more try on a
        // fresh one, so the next node need not wait for the lease to expire.
        tracing::warn!(vip = %spec.ip, resign = %e1, revoke = %e2, "release failed; retrying the revoke");
        if let Ok(mut fresh) = etcd::connect_streaming(&d.endpoints, d.tls.as_ref()).await {
            r2 = bounded("lease revoke (retry)", fresh.lease_revoke(lease))
                .await
                .map(|_| ());
        }
    }
    match (r1, r2) {
        (Ok(_), _) | (_, Ok(_)) => Ok(()),
        (Err(e), _) => Err(format!("{why}; {e}")),
    }
}

/// Holds until a reason to let go; returns it.
async fn hold(
    client: &mut Client,
    key: &LeaderKey,
    ttl: Duration,
    lease_rx: &mut watch::Receiver<LeaseState>,
    desire: &mut watch::Receiver<Desire>,
) -> &'static str {
    let mut events = match client.watch(key.key(), None).await {
        Ok(w) => w,
        Err(_) => return "cannot watch the election key",
    };
    loop {
        let deadline = match *lease_rx.borrow() {
            LeaseState::Acked(at) => fence_deadline(at, ttl),
            LeaseState::Lost => return "lease lost",
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return "lease not renewed in time (fence)",
            r = lease_rx.changed() => if r.is_err() { return "lease keeper stopped" },
            _ = ineligible(desire) => return "no longer eligible",
            ev = events.message() => match ev {
                Ok(Some(resp)) => {
                    if resp.events().iter().any(|e| e.event_type() == EventType::Delete) {
                        return "election key deleted";
                    }
                }
                Ok(None) | Err(_) => return "watch on the election key ended",
            },
        }
    }
}

/// Asks the controller to remove the address and waits (bounded) until it has.
async fn release(shared: &Shared) {
    shared.update(|v| {
        v.leading = false;
        v.release_pending = true;
        v.set_holder(None);
    });
    if tokio::time::timeout(Duration::from_secs(2), shared.released.notified())
        .await
        .is_err()
    {
        tracing::error!("address removal not confirmed in time; resigning anyway");
    }
}

/// Reports the observed holder into the view until dropped.
async fn report_holder(mut rx: watch::Receiver<Option<Holder>>, shared: &Shared) {
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
async fn keep_etcd_leadership_away(mut client: Client) {
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
