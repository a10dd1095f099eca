//! Planned moves in an election session. A move request (see [`move_key`])
//! naming another node keeps this node out of the queue, so the holder's
//! release goes to the target; the holder releases once only the target
//! is queued; the target withdraws the request once it holds. A candidate
//! whose priority is higher than the holder's asks for the VIP itself after
//! seeing that holder for the preempt delay.
//!
//! [`move_key`]: super::move_key

use super::elector::Campaign;
use super::observe::Holder as Observed;
use super::runner::{Desire, Handover};
use super::shared::LetGo;
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a move request lasts (its own etcd lease).
pub const MOVE_TTL_SECS: u32 = 10;
/// How long a holder waits for the other candidates to leave the queue
/// (and the target to be in it).
const QUEUE_CLEARS_WITHIN: Duration = Duration::from_secs(2);
const QUEUE_POLL: Duration = Duration::from_millis(20);

/// Whether a pending request names a node other than `me`.
pub fn elsewhere(m: &Option<String>, me: &str) -> bool {
    m.as_deref().is_some_and(|t| t != me)
}

/// Resolves when a move request names a node other than `me`.
pub async fn requested_elsewhere(mut rx: watch::Receiver<Option<String>>, me: &str) {
    if rx.wait_for(|m| elsewhere(m, me)).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves when no move request names a node other than `me`.
pub async fn not_elsewhere(mut rx: watch::Receiver<Option<String>>, me: &str) {
    if rx.wait_for(|m| !elsewhere(m, me)).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// While holding: withdraws a request that named this node (it is done),
/// and resolves with [`LetGo::Moved`] once a request names another node
/// that is queued, and nobody else is (or [`QUEUE_CLEARS_WITHIN`] passed
/// with the target queued). A target that never queues (not a candidate,
/// dead) gets nothing: the holder keeps the VIP and the request ends with
/// its lease.
pub async fn move_away(
    c: &dyn Campaign,
    name: &str,
    vip: IpAddr,
    mut rx: watch::Receiver<Option<String>>,
    me: &str,
    lease: i64,
) -> LetGo {
    let mut withdrawn = false;
    loop {
        let seen = rx
            .wait_for(|m| m.as_deref().is_some_and(|t| t != me || !withdrawn))
            .await
            .map(|m| m.clone());
        let target = match seen {
            Ok(Some(t)) if t == me => {
                withdrawn = true;
                if let Err(e) = c.clear_move(vip, &t).await {
                    tracing::warn!(error = %machined_resources::error::chain(&e), "withdrawing the move request failed (it ends with its lease)");
                }
                continue;
            }
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(_) => return std::future::pending().await,
        };
        tracing::info!(to = %target, "a move was requested; waiting for the other candidates to step out");
        let until = Instant::now() + QUEUE_CLEARS_WITHIN;
        let mut target_queued = false;
        while Instant::now() < until {
            if let Ok(all) = c.candidates(name).await {
                target_queued = all.iter().any(|h| h.node == target);
                if target_queued && all.iter().all(|h| h.lease == lease || h.node == target) {
                    return LetGo::Moved;
                }
            }
            tokio::time::sleep(QUEUE_POLL).await;
        }
        if target_queued {
            return LetGo::Moved;
        }
        tracing::warn!(to = %target, "the move target is not a candidate; keeping the VIP");
        // This request is spent; wait for another.
        if rx
            .wait_for(|m| m.as_deref() != Some(target.as_str()))
            .await
            .is_err()
        {
            return std::future::pending().await;
        }
    }
}

/// While campaigning: when this node's priority beats the holder's and
/// has the whole preempt delay, asks for the VIP. Runs until dropped.
pub async fn preempt(
    c: &dyn Campaign,
    vip: IpAddr,
    d: &Desire,
    mut holder: watch::Receiver<Option<Observed>>,
    moves: watch::Receiver<Option<String>>,
) {
    let (mine, delay) = (d.handover.priority, d.handover.preempt_delay);
    if mine == 0 {
        return std::future::pending().await;
    }
    let lower = |h: &Option<Observed>| {
        h.as_ref()
            .is_some_and(|h| h.node != d.node && h.priority < mine)
    };
    loop {
        if holder.wait_for(lower).await.is_err() {
            return std::future::pending().await;
        }
        let seen = holder.borrow().as_ref().map(|h| h.lease);
        // The same lower-priority holder for the whole delay.
        let changed = async {
            let _ = holder
                .wait_for(|h| h.as_ref().map(|h| h.lease) != seen)
                .await;
        };
        tokio::select! {
            _ = changed => continue,
            _ = tokio::time::sleep(delay) => {}
        }
        if moves.borrow().is_none() {
            tracing::info!(
                priority = mine,
                "taking the VIP over from a lower-priority holder"
            );
            if let Err(e) = c.request_move(vip, &d.node, MOVE_TTL_SECS).await {
                tracing::warn!(error = %machined_resources::error::chain(&e), "asking for the VIP failed");
            }
        }
        // Give the request its time before looking again.
        tokio::time::sleep(Duration::from_secs(u64::from(MOVE_TTL_SECS))).await;
    }
}

/// Resolves when the node's priority or preempt delay changes: a candidate
/// then campaigns again with a value that says so (a holder keeps the VIP).
pub async fn handover_changed(mut desire: watch::Receiver<Desire>, now: Handover) {
    if desire.wait_for(|d| d.handover != now).await.is_err() {
        std::future::pending::<()>().await;
    }
}
