//! Keeps a lease alive and publishes the send time of every acknowledged
//! keep-alive: what `lifetime::Validity` derives the holder's fence and the
//! address's kernel lifetime from.
//!
//! The stream runs on the line's preferred member. A keep-alive that member
//! has not answered within [`stuck_after`] (it hangs: a stopped process, a
//! stalled disk) moves the stream to the next member at once, well before
//! the address's kernel lifetime runs out, so a hung member costs clients
//! nothing.

use crate::etcd::line::Line;
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

/// How long a keep-alive may go unanswered before the stream moves to
/// another member: half a period, at most 250 ms.
pub fn stuck_after(period: Duration) -> Duration {
    (period / 2).min(Duration::from_millis(250))
}

/// Why a keep-alive stream did not open.
enum Open {
    /// etcd says the lease does not exist.
    Lost,
    Failed(String),
}

fn not_found(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::LeaseKeepAliveError(m) => m.contains("not found"),
        etcd_client::Error::GRpcStatus(s) => s.code() == tonic::Code::NotFound,
        _ => false,
    }
}

/// Sends keep-alives every `ttl / 6` until the task is dropped, publishing
/// every acknowledgement; `kick` asks for one at once (a new holder whose
/// last acknowledgement is too old to claim on). Reconnects on errors,
/// quickly (an etcd leader election breaks the stream), on another member
/// when this one failed or hung; the holder's fence covers the gaps.
pub async fn keep_alive(
    line: Arc<Line>,
    lease: i64,
    ttl: Duration,
    granted_at: Instant,
    tx: watch::Sender<LeaseState>,
    kick: Arc<Notify>,
) {
    let period = ttl / 6;
    let stuck = stuck_after(period);
    let retry = period / 5;
    let _ = tx.send(LeaseState::Acked(granted_at));
    loop {
        let member = line.preferred();
        // Connecting has its own bound (a member that is down); the
        // keep-alive then gets `stuck` to be answered.
        let mut c = match line.client(member).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(lease, member = line.endpoint(member), error = %machined_resources::error::chain(&e), "cannot reach the member; trying another");
                line.avoid(member);
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        // Opening the stream sends a keep-alive and waits for its answer.
        let opened = Instant::now();
        let open = async {
            c.lease_keep_alive(lease).await.map_err(|e| {
                if not_found(&e) {
                    Open::Lost
                } else {
                    Open::Failed(machined_resources::error::chain(&e).to_string())
                }
            })
        };
        let (mut keeper, mut stream) = match tokio::time::timeout(stuck, open).await {
            Ok(Ok(ks)) => ks,
            Ok(Err(Open::Lost)) => {
                let _ = tx.send(LeaseState::Lost);
                return;
            }
            Ok(Err(Open::Failed(e))) => {
                tracing::debug!(lease, member = line.endpoint(member), error = %e, "keep-alive stream failed; trying another member");
                line.avoid(member);
                tokio::time::sleep(retry).await;
                continue;
            }
            Err(_) => {
                tracing::info!(
                    lease,
                    member = line.endpoint(member),
                    "keep-alive unanswered; trying another member"
                );
                line.avoid(member);
                continue;
            }
        };
        let _ = tx.send(LeaseState::Acked(opened));
        let mut outstanding: VecDeque<Instant> = VecDeque::new();
        let mut next = opened + period;
        let healthy = loop {
            let overdue = outstanding.front().map(|t| *t + stuck);
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {
                    let now = Instant::now();
                    if keeper.keep_alive().await.is_err() {
                        break false;
                    }
                    outstanding.push_back(now);
                    next = now + period;
                }
                // The oldest request unanswered too long: this member hangs
                // (or forwards to an etcd leader that died).
                _ = tokio::time::sleep_until(overdue.unwrap_or(next)), if overdue.is_some() => {
                    tracing::info!(lease, member = line.endpoint(member), "keep-alive unanswered; trying another member");
                    break false;
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
                    Ok(None) | Err(_) => break true,
                },
            }
        };
        if !healthy {
            line.avoid(member);
            continue;
        }
        tokio::time::sleep(retry).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_member_is_left_well_inside_the_kernel_lifetime() {
        // TTL 3 s: keep-alives every 500 ms, a member left after 250 ms
        // without an answer; a 1 s kernel lifetime is renewed in time.
        assert_eq!(
            stuck_after(Duration::from_millis(500)),
            Duration::from_millis(250)
        );
        assert_eq!(
            stuck_after(Duration::from_millis(200)),
            Duration::from_millis(100)
        );
        assert_eq!(
            stuck_after(Duration::from_secs(10)),
            Duration::from_millis(250)
        );
    }
}
