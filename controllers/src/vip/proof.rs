//! Fresh proof that this node holds the VIP, asked for before every frame
//! that says so (an answer to a request, an announcement, a defence).
//!
//! The proof is a linearizable read of this node's own election key: it is
//! still there, created at the revision this node's campaign won with, on
//! this node's lease. etcd serves a linearizable read only after its leader
//! has confirmed with a quorum that it still leads (ReadIndex), so no
//! member that was frozen, cut off or deposed can give one from a stale
//! view. The read is sent after whatever it vouches for was heard, so it
//! proves this node held the VIP at some moment after the request
//! arrived: a node that lost the VIP while frozen, partitioned or paused
//! cannot get one, whatever its clock says, and stays silent.

use crate::etcd::line::Line;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;

/// What a confirmation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// The key is there, ours: this node holds the VIP.
    Held,
    /// The key is gone (or another's): this node does not hold the VIP.
    Gone,
    /// No answer in time: say nothing.
    NoAnswer,
}

impl Proof {
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::Held => "held",
            Proof::Gone => "gone",
            Proof::NoAnswer => "no-answer",
        }
    }
}

/// Asks the election service whether this node still holds the VIP.
pub trait Confirm: Send + Sync {
    /// One confirmation, sent when the future is first polled.
    fn confirm(&self) -> BoxFuture<'static, Proof>;

    /// How long a confirmation may take before it counts as none.
    fn within(&self) -> Duration {
        WITHIN
    }
}

/// A member that has not answered a confirmation within this is joined by
/// the next one (a hung member must not silence the holder).
pub const PER_TRY: Duration = Duration::from_millis(50);
/// A confirmation not answered within this is none: what it was for goes
/// unanswered (ARP clients retry within a second). The default of the
/// `proofTimeout` option.
pub const WITHIN: Duration = Duration::from_millis(250);

/// One confirmation, bounded by the confirmer's [`Confirm::within`].
pub async fn fresh(c: &dyn Confirm) -> Proof {
    tokio::time::timeout(c.within(), c.confirm())
        .await
        .unwrap_or(Proof::NoAnswer)
}

/// What the key as read says: `found` is its (create revision, lease).
pub fn judge(found: Option<(i64, i64)>, rev: i64, lease: i64) -> Proof {
    match found {
        Some(f) if f == (rev, lease) => Proof::Held,
        _ => Proof::Gone,
    }
}

/// The confirmation through etcd: the key read linearizably through the
/// session's line (any member; the first to answer).
pub struct EtcdConfirm {
    pub line: Arc<Line>,
    pub key: Vec<u8>,
    /// The key's create revision when the campaign won.
    pub rev: i64,
    pub lease: i64,
    /// `proofTimeout`.
    pub within: Duration,
}

impl Confirm for EtcdConfirm {
    fn within(&self) -> Duration {
        self.within
    }

    fn confirm(&self) -> BoxFuture<'static, Proof> {
        let (line, key, rev, lease) = (self.line.clone(), self.key.clone(), self.rev, self.lease);
        let within = self.within;
        async move {
            let t = tokio::time::Instant::now();
            let read = line
                .call(PER_TRY, within, |mut c| {
                    let key = key.clone();
                    // No options: etcd's default read is linearizable.
                    async move { c.get(key, None).await }
                })
                .await;
            tracing::debug!(
                ms = t.elapsed().as_secs_f64() * 1e3,
                member = line.endpoint(line.preferred()),
                "proof"
            );
            match read {
                Ok(r) => judge(
                    r.kvs().first().map(|kv| (kv.create_revision(), kv.lease())),
                    rev,
                    lease,
                ),
                Err(e) => {
                    tracing::debug!(error = %machined_resources::error::chain(&e), "no proof: etcd did not answer");
                    Proof::NoAnswer
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_key_at_its_revision_on_our_lease_is_proof() {
        let cases = [
            (Some((10, 7)), Proof::Held),
            (None, Proof::Gone),
            (Some((12, 7)), Proof::Gone), // deleted and made again: not ours
            (Some((10, 8)), Proof::Gone),
        ];
        for (found, want) in cases {
            assert_eq!(judge(found, 10, 7), want, "{found:?}");
        }
    }

    struct Slow;
    impl Confirm for Slow {
        fn confirm(&self) -> BoxFuture<'static, Proof> {
            async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Proof::Held
            }
            .boxed()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_confirmation_is_no_proof() {
        assert_eq!(fresh(&Slow).await, Proof::NoAnswer);
    }
}
