//! Keeps a lease alive and publishes the send time of every acknowledged
//! keep-alive: what `lifetime::Validity` derives the holder's fence and the
//! address's kernel lifetime from.

use etcd_client::Client;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Lease state published by the keep-alive task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Alive: sent at this instant, acknowledged.
    Acked(Instant),
    /// etcd says the lease is gone.
    Lost,
}

/// Sends keep-alives every `ttl / 6` until the task is dropped, publishing
/// every acknowledgement; `kick` asks for one at once (a new holder whose
/// last acknowledgement is too old to claim on). Reconnects the stream on
/// errors, quickly (an etcd leader election breaks it); the holder's fence
/// covers the gaps.
pub async fn keep_alive(
    mut client: Client,
    lease: i64,
    ttl: Duration,
    granted_at: Instant,
    tx: watch::Sender<LeaseState>,
    kick: Arc<Notify>,
) {
    let period = ttl / 6;
    let retry = period / 5;
    let _ = tx.send(LeaseState::Acked(granted_at));
    loop {
        let (mut keeper, mut stream) = match client.lease_keep_alive(lease).await {
            Ok(ks) => ks,
            Err(e) => {
                tracing::debug!(lease, error = %e, "keep-alive stream failed; retrying");
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        let mut outstanding: VecDeque<Instant> = VecDeque::new();
        let mut next = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {
                    let now = Instant::now();
                    // A request unanswered for a whole period: the stream is
                    // stuck (e.g. forwarded to an etcd leader that died).
                    if outstanding.front().is_some_and(|t| now.duration_since(*t) > period) {
                        tracing::debug!(lease, "keep-alive unanswered; reconnecting");
                        break;
                    }
                    if keeper.keep_alive().await.is_err() {
                        break;
                    }
                    outstanding.push_back(now);
                    next = now + period;
                }
                _ = kick.notified() => next = Instant::now(),
                msg = stream.message() => match msg {
                    Ok(Some(resp)) => {
                        // Answers come in order: this one is for the oldest request.
                        let Some(sent) = outstanding.pop_front() else { continue };
                        if resp.ttl() <= 0 {
                            let _ = tx.send(LeaseState::Lost);
                            return;
                        }
                        let _ = tx.send(LeaseState::Acked(sent));
                    }
                    Ok(None) | Err(_) => break,
                },
            }
        }
        tokio::time::sleep(retry).await;
    }
}
