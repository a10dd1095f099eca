//! How this node's health check gates its election session. A node whose
//! check does not pass stays out of the election while anyone holds the VIP,
//! and campaigns (as an unhealthy fallback) only once it has seen no holder
//! for a while; queued as a fallback, it steps back as soon as another node
//! holds. A holder whose check fails keeps the VIP for the hold-down since
//! it won, then hands it over once another candidate is healthy, and keeps
//! it (saying so) while none is.

use super::elector::Campaign;
use super::observe::Holder as Observed;
use super::runner::{Desire, Shared};
use super::shared::LetGo;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often a failing holder looks for a healthy candidate.
const CANDIDATE_POLL: Duration = Duration::from_millis(300);

/// Resolves when the check's verdict no longer matches `passing`, or the
/// node is no longer eligible.
pub async fn flipped(desire: &mut watch::Receiver<Desire>, passing: bool) {
    let _ = desire
        .wait_for(|d| !d.eligible || d.health.passing() != passing)
        .await;
}

/// Resolves once no holder has been seen for `quiet` in a row.
pub async fn no_holder_for(mut holder: watch::Receiver<Option<Observed>>, quiet: Duration) {
    loop {
        let none = holder.borrow_and_update().is_none();
        if none {
            tokio::select! {
                _ = tokio::time::sleep(quiet) => return,
                r = holder.changed() => if r.is_err() { return std::future::pending().await },
            }
        } else if holder.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Resolves when a node other than this one (`my_lease`) holds the VIP.
pub async fn other_holder(mut holder: watch::Receiver<Option<Observed>>, my_lease: i64) {
    let closed = holder
        .wait_for(|h| h.as_ref().is_some_and(|h| h.lease != my_lease))
        .await
        .is_err();
    if closed {
        std::future::pending::<()>().await;
    }
}

async fn recovered(desire: &mut watch::Receiver<Desire>) {
    if desire.wait_for(|d| !d.health.failing()).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// While holding: resolves with [`LetGo::Unhealthy`] once the check is
/// failing (not merely without a verdict yet),
/// the hold-down since `won_at` has passed and another candidate in election
/// `name` is healthy.
pub async fn handover(
    c: &dyn Campaign,
    name: &str,
    lease: i64,
    mut desire: watch::Receiver<Desire>,
    won_at: Instant,
    shared: &Shared,
) -> LetGo {
    loop {
        if desire.wait_for(|d| d.health.failing()).await.is_err() {
            return std::future::pending().await;
        }
        let until = won_at + desire.borrow().health.hold_down;
        let note = if Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            shared.update(|v| {
                v.health_note = format!(
                    "health check failing; keeping the VIP for the hold-down ({} ms more)",
                    left.as_millis()
                )
            });
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = recovered(&mut desire) => shared.update(|v| v.health_note.clear()),
            }
            continue;
        } else {
            match c.candidates(name).await {
                Ok(all) => match all.iter().find(|h| h.lease != lease && h.healthy) {
                    Some(next) => {
                        tracing::warn!(next = %next.node, "health check failing: handing the VIP to a healthy candidate");
                        shared.update(|v| v.health_note.clear());
                        return LetGo::Unhealthy;
                    }
                    None => "keeping the VIP although its health check fails: no healthy candidate"
                        .to_string(),
                },
                Err(e) => format!(
                    "health check failing; could not list the candidates: {}",
                    machined_resources::error::chain(&e)
                ),
            }
        };
        let changed = shared.view().health_note != note;
        if changed {
            tracing::warn!(%note, "holding with a failing health check");
            shared.update(|v| v.health_note = note);
        }
        tokio::select! {
            _ = tokio::time::sleep(CANDIDATE_POLL) => {}
            _ = recovered(&mut desire) => shared.update(|v| v.health_note.clear()),
        }
    }
}
