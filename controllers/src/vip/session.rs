//! An election session's first phases: open (a lease, the link, the
//! watches), standby (kept out by a failing check or a move to another
//! node), campaign (until this node leads, probing the holder meanwhile).
//! Holding and letting go are in `session_hold.rs`.

use super::agreement::Suspicion;
use super::deps::Deps;
use super::election_error::SessionError;
use super::election_health as health;
use super::election_move::{self as moving, elsewhere};
use super::elector::Campaign;
use super::group::Group;
use super::keepalive::LeaseState;
use super::observe::Holder as Observed;
use super::probe::Prober;
use super::report::report_holder;
use super::runner::{Desire, Shared};
use super::shared::Tasks;
use etcd_client::LeaderKey;
use machined_resources::types::VipSpec;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tracing::Instrument;

/// Why a node whose check does not pass is not campaigning.
const STANDBY: &str = "health check not passing: not campaigning while another node holds the VIP";
/// Why a node stepped out of the queue.
const MOVING: &str = "the VIP is being moved to another node on request: stepped out of the queue";
/// How long nobody may hold the VIP before a node that stepped out for a
/// move campaigns anyway (the target claims within milliseconds).
const MOVE_FALLBACK: Duration = Duration::from_secs(2);

/// What a session watches, each a channel: a new signal is one field here
/// and one arm in the phase it matters to.
pub struct Signals {
    /// What the controller wants (eligibility, health, handover).
    pub desire: watch::Receiver<Desire>,
    /// The lease's acknowledgements.
    pub lease: watch::Receiver<LeaseState>,
    /// Who holds the VIP.
    pub holder: watch::Receiver<Option<Observed>>,
    /// The last holder other than this node seen in this session.
    pub previous: watch::Receiver<Option<Observed>>,
    /// The node a pending move request names.
    pub moving: watch::Receiver<Option<String>>,
}

/// Why a session ended before holding.
pub enum Ended {
    /// For a reason to start over (the check flipped, a move, ...).
    Done,
    LeaseLost,
    Failed(SessionError),
}

pub struct Session<'a> {
    /// The group's lead (its election, its options, its probes).
    pub spec: &'a VipSpec,
    pub group: &'a Group,
    pub d: Desire,
    pub shared: &'a Arc<Shared>,
    pub deps: &'a Deps,
    pub c: Box<dyn Campaign>,
    pub name: String,
    pub lease: i64,
    pub ttl: Duration,
    /// Asks the keep-alive task for an acknowledgement now.
    pub kick: Arc<Notify>,
    /// This node as its election value names it.
    pub mine: Observed,
    /// Whether the health check lets this node campaign as healthy.
    pub passing: bool,
    /// Out of the queue for a move to another node.
    pub stepped_out: bool,
    pub sig: Signals,
    pub tasks: Tasks,
    /// Reports the observed holder until this node wins.
    pub report: Tasks,
}

async fn lease_lost(rx: &mut watch::Receiver<LeaseState>) {
    let _ = rx.wait_for(|s| *s == LeaseState::Lost).await.map(|_| ());
}

/// Keeps the last holder other than the one on `mine` (this node's lease).
async fn track_previous(
    mut holder: watch::Receiver<Option<Observed>>,
    mine: i64,
    tx: watch::Sender<Option<Observed>>,
) {
    loop {
        let other = holder
            .borrow_and_update()
            .clone()
            .filter(|h| h.lease != mine);
        if other.is_some() {
            tx.send_replace(other);
        }
        if holder.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The session's background tasks (keep-alives, who holds, a pending
/// move, the last other holder) and the signals they feed.
fn watches(
    c: &dyn Campaign,
    (ip, name): (std::net::IpAddr, &str),
    lease: i64,
    ttl: Duration,
    granted_at: Instant,
    kick: &Arc<Notify>,
    desire: watch::Receiver<Desire>,
) -> (Tasks, Signals) {
    let (lease_tx, lease_rx) = watch::channel(LeaseState::Acked(granted_at));
    let (holder_tx, holder_rx) = watch::channel(None);
    let (prev_tx, prev_rx) = watch::channel(None);
    let (move_tx, move_rx) = watch::channel(None);
    let tasks = Tasks(vec![
        tokio::spawn(
            c.keep_alive(lease, ttl, granted_at, lease_tx, kick.clone())
                .in_current_span(),
        ),
        tokio::spawn(c.observe(name.to_string(), holder_tx).in_current_span()),
        tokio::spawn(super::report::keepalives(lease_rx.clone(), ip)),
        tokio::spawn(c.observe_move(ip, move_tx).in_current_span()),
        tokio::spawn(track_previous(holder_rx.clone(), lease, prev_tx)),
    ]);
    let sig = Signals {
        desire,
        lease: lease_rx,
        holder: holder_rx,
        previous: prev_rx,
        moving: move_rx,
    };
    (tasks, sig)
}

impl<'a> Session<'a> {
    /// A lease and the watches; a pending move's first reading. The link's
    /// wire is opened only on winning: a socket that hears everything said
    /// about the VIP would fill up with frames nobody reads while this node
    /// is a candidate, and the claim would have to wade through them.
    pub async fn open(
        group: &'a Group,
        d: Desire,
        desire: watch::Receiver<Desire>,
        deps: &'a Deps,
    ) -> Result<Session<'a>, SessionError> {
        let (spec, shared) = (group.lead(), group.shared());
        let name = super::group::election(spec);
        let c = deps.elector.connect(&d).await?;
        let ttl = Duration::from_secs(u64::from(spec.options.lease_ttl_secs));
        let granted_at = Instant::now();
        let lease = c.grant(spec.options.lease_ttl_secs).await?;
        let mac = d
            .mac
            .ok_or_else(|| SessionError::NoMac(spec.link.clone()))?;
        let kick = Arc::new(Notify::new());
        let (mut tasks, mut sig) =
            watches(&*c, (spec.ip, &name), lease, ttl, granted_at, &kick, desire);
        let report = {
            let (rx, shared, ip) = (sig.holder.clone(), shared.clone(), spec.ip);
            Tasks(vec![tokio::spawn(
                async move { report_holder(rx, &shared, ip).await }.in_current_span(),
            )])
        };
        tasks
            .0
            .extend(super::group_members::tasks(&*c, group, &d.node, lease));
        let passing = d.health.passing();
        let mine = Observed {
            node: d.node.clone(),
            ip: d.node_ip,
            mac: Some(mac),
            healthy: passing,
            priority: d.handover.priority,
            lease,
        };
        // Every other node reads it strictly: a name they would refuse is an
        // error here, not a holder nobody can see.
        Observed::decode(mine.encode().as_bytes(), lease)?;
        // A pending move decides whether to queue at all: its first reading
        // (one etcd read) comes before the campaign.
        let _ = tokio::time::timeout(Duration::from_secs(2), sig.moving.changed()).await;
        let stepped_out = passing && elsewhere(&sig.moving.borrow(), &d.node);
        Ok(Session {
            spec,
            group,
            shared,
            deps,
            c,
            name,
            lease,
            ttl,
            kick,
            mine,
            passing,
            stepped_out,
            sig,
            tasks,
            report,
            d,
        })
    }

    /// Out of the election while anyone holds (the check does not pass) or
    /// a move to another node is under way; in once nobody holds. `Some`:
    /// the session ends instead.
    pub async fn standby(&mut self) -> Option<Ended> {
        if self.passing && !self.stepped_out {
            return None;
        }
        let (why, quiet) = if self.passing {
            (MOVING, MOVE_FALLBACK.max(self.d.health.fallback_after))
        } else {
            (STANDBY, self.d.health.fallback_after)
        };
        self.shared.update(|v| v.standby = why.into());
        let (sig, d) = (&mut self.sig, &self.d);
        let ended = tokio::select! {
            _ = health::no_holder_for(sig.holder.clone(), quiet) => None,
            _ = moving::not_elsewhere(sig.moving.clone(), &d.node), if self.stepped_out => Some(Ended::Done),
            _ = moving::handover_changed(sig.desire.clone(), d.handover.clone()) => Some(Ended::Done),
            _ = health::flipped(&mut sig.desire, self.passing) => Some(Ended::Done),
            _ = lease_lost(&mut sig.lease) => Some(Ended::LeaseLost),
        };
        self.shared.update(|v| v.standby.clear());
        if ended.is_none() {
            tracing::warn!(why, "no holder seen: campaigning anyway");
        }
        ended
    }

    fn prober(&self) -> Prober {
        Prober {
            suspicion: Suspicion {
                vip: self.spec.ip,
                election: self.name.clone(),
                suspects: super::group::suspects(self.spec),
                me: self.d.node.clone(),
                my_lease: self.lease,
            },
            link_index: self.d.link_index,
            mac: self.mine.mac.unwrap_or_default(),
            every: Duration::from_millis(self.spec.options.holder_probe_ms),
            dead_after: Duration::from_millis(self.spec.options.holder_dead_after_ms),
            proof_every: Duration::from_millis(self.spec.options.proof_probe_ms),
            proof_timeout: Duration::from_millis(self.spec.options.proof_timeout_ms),
        }
    }

    /// Campaigns until this node leads (its key) or a reason to start over.
    pub async fn campaign(&mut self) -> Result<LeaderKey, Ended> {
        // Only healthy candidates probe the holder (and count towards
        // deposing it).
        let probing = if self.passing {
            self.c.probe(self.prober(), self.sig.holder.clone())
        } else {
            Box::pin(std::future::pending())
        };
        let (c, sig, d) = (&*self.c, &mut self.sig, &self.d);
        let value = self.mine.encode();
        let mut desire = sig.desire.clone();
        tokio::select! {
            r = c.campaign(&self.name, &value, self.lease) => r.map_err(Ended::Failed),
            // Ineligible, or the check's verdict changed: out (and back in
            // with the right value).
            _ = health::flipped(&mut desire, self.passing) => Err(Ended::Done),
            _ = health::other_holder(sig.holder.clone(), self.lease), if !self.passing => Err(Ended::Done),
            _ = moving::handover_changed(sig.desire.clone(), d.handover.clone()) => Err(Ended::Done),
            // A move to another node: out of its way.
            _ = moving::requested_elsewhere(sig.moving.clone(), &d.node), if !self.stepped_out => Err(Ended::Done),
            _ = moving::preempt(c, self.spec.ip, d, sig.holder.clone(), sig.moving.clone()), if self.passing => {
                unreachable!("preempting runs until dropped")
            }
            _ = lease_lost(&mut sig.lease) => Err(Ended::LeaseLost),
            _ = probing => unreachable!("the prober runs until dropped"),
        }
    }

    /// Ends a session that never held: the lease is of no further use.
    pub async fn leave(self, ended: Ended) -> Result<(), SessionError> {
        let _ = self.c.revoke(self.lease).await;
        match ended {
            Ended::Done => Ok(()),
            Ended::LeaseLost => Err(SessionError::LeaseLost),
            Ended::Failed(e) => Err(e),
        }
    }
}
