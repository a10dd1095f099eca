//! Keeps a lease alive and tells, for fencing, the latest moment the lease
//! is certainly still alive on the server.
//!
//! A keep-alive acknowledged by etcd extends the lease to (time etcd handled
//! it + TTL), which is later than (time we *sent* it + TTL). So the send
//! time of the newest acknowledged keep-alive, plus the TTL, is a lower
//! bound of the server's expiry; the holder lets go a margin before it.

use etcd_client::Client;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Lease state published by the keep-alive task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Alive: sent at this instant, acknowledged.
    Acked(Instant),
    /// etcd says the lease is gone.
    Lost,
}

/// How long before the certain expiry the holder must have let go.
pub fn margin(ttl: Duration) -> Duration {
    (ttl / 4).max(Duration::from_millis(500))
}

/// The moment the holder must drop the address by.
pub fn fence_deadline(acked_at: Instant, ttl: Duration) -> Instant {
    acked_at + ttl - margin(ttl)
}

/// Sends keep-alives every `ttl / 6` until the task is dropped, publishing
/// every acknowledgement. Reconnects the stream on errors; the holder's
/// fence deadline covers the gaps.
pub async fn keep_alive(
    mut client: Client,
    lease: i64,
    ttl: Duration,
    granted_at: Instant,
    tx: watch::Sender<LeaseState>,
) {
    let period = ttl / 6;
    let _ = tx.send(LeaseState::Acked(granted_at));
    loop {
        let (mut keeper, mut stream) = match client.lease_keep_alive(lease).await {
            Ok(ks) => ks,
            Err(e) => {
                tracing::debug!(lease, error = %e, "keep-alive stream failed; retrying");
                tokio::time::sleep(period).await;
                continue;
            }
        };
        let mut outstanding: VecDeque<Instant> = VecDeque::new();
        let mut next = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {
                    let now = Instant::now();
                    if keeper.keep_alive().await.is_err() {
                        break;
                    }
                    outstanding.push_back(now);
                    next = now + period;
                }
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
        tokio::time::sleep(period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_is_well_before_expiry() {
        let t = Instant::now();
        assert_eq!(
            fence_deadline(t, Duration::from_secs(2)),
            t + Duration::from_millis(1500)
        );
        assert_eq!(
            fence_deadline(t, Duration::from_secs(10)),
            t + Duration::from_millis(7500)
        );
        assert!(margin(Duration::from_secs(1)) >= Duration::from_millis(500));
    }
}
