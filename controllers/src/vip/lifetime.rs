//! The timing that keeps one holder at a time, whatever happens to machined.
//!
//! A keep-alive that etcd acknowledged extends the lease to (the moment etcd
//! handled it + TTL), which is no earlier than (the moment we *sent* it +
//! TTL): that sum, the lease floor, is the earliest the lease can expire on
//! the server, hence the earliest another node can win.
//!
//! Two layers keep the address from outliving the lease floor:
//! 1. the holder removes it at its fence (floor − margin), and announces it
//!    only before the fence;
//! 2. the kernel removes it by itself: every add or renewal gives it a
//!    lifetime of whole seconds such that (time the kernel applied it +
//!    lifetime + [`KERNEL_EXPIRY_SLACK`]) ≤ floor. Only an acknowledged
//!    keep-alive moves the floor, so a killed, frozen or starved machined
//!    cannot keep the address past it.
//!
//! This kernel checks lifetimes from a work item that runs at most once a
//! second unless an address change reschedules it: an address whose lifetime
//! ends just after a check stays up to ~1 s longer (measured: 0.93–0.98 s
//! past a 1 s lifetime; `hack/measure-addr-expiry`). Hence the slack of
//! 1.25 s, and a lease TTL of at least 3 s: 1 s (the shortest lifetime) +
//! 1.25 s + 0.75 s of room for a keep-alive's round trip
//! (`MIN_LEASE_TTL_SECS`; config validation refuses less).

use std::time::Duration;
use tokio::time::Instant;

/// Longest this kernel keeps an address past its valid lifetime, with room.
pub const KERNEL_EXPIRY_SLACK: Duration = Duration::from_millis(1250);

/// How long before the lease floor the holder must have let go.
pub fn margin(ttl: Duration) -> Duration {
    (ttl / 4).max(Duration::from_millis(500))
}

/// What the newest acknowledged keep-alive allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// The earliest moment the lease can expire on the server.
    pub floor: Instant,
    pub ttl: Duration,
}

impl Validity {
    /// From the send time of an acknowledged keep-alive (or of the grant).
    pub fn from_ack(sent: Instant, ttl: Duration) -> Self {
        Validity {
            floor: sent + ttl,
            ttl,
        }
    }

    /// The holder removes the address by then, and announces only before.
    pub fn fence(&self) -> Instant {
        self.floor - margin(self.ttl)
    }

    /// Whether the address may be announced at `now`.
    pub fn may_announce(&self, now: Instant) -> bool {
        now < self.fence()
    }

    /// The kernel lifetime (whole seconds, at least 1) to set at `now`, or
    /// `None` when no lifetime is short enough.
    pub fn kernel_lifetime(&self, now: Instant) -> Option<u32> {
        if now >= self.fence() {
            return None;
        }
        let room = self
            .floor
            .checked_duration_since(now)?
            .checked_sub(KERNEL_EXPIRY_SLACK)?;
        let secs = room.as_secs();
        (secs >= 1).then(|| u32::try_from(secs).unwrap_or(u32::MAX))
    }

    /// Whether a lifetime the kernel applied no later than `applied_by`
    /// still ends (with the kernel's slack) by the floor. False means the
    /// holder stalled between reading the clock and the kernel: remove.
    pub fn still_safe(&self, applied_by: Instant, lifetime_secs: u32) -> bool {
        applied_by + Duration::from_secs(u64::from(lifetime_secs)) + KERNEL_EXPIRY_SLACK
            <= self.floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use machined_resources::config::MIN_LEASE_TTL_SECS;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn lifetimes_end_before_the_lease_can() {
        let t = Instant::now();
        let v = Validity::from_ack(t, Duration::from_secs(3));
        // (ms after the ack's send time, lifetime)
        let table: &[(u64, Option<u32>)] = &[
            (0, Some(1)),
            (5, Some(1)),
            (700, Some(1)),
            (750, Some(1)), // ends exactly at the floor
            (760, None),    // 3 s - 1.25 s - 0.76 s < 1 s
            (1500, None),
            (2250, None), // the fence
            (4000, None), // past the floor
        ];
        for (at, want) in table {
            let now = t + MS(*at);
            let got = v.kernel_lifetime(now);
            assert_eq!(got, *want, "{at} ms after the ack");
            if let Some(l) = got {
                assert!(v.still_safe(now, l), "{at} ms: the lifetime must be safe");
                assert!(now + Duration::from_secs(u64::from(l)) + KERNEL_EXPIRY_SLACK <= v.floor);
            }
        }
        let long = Validity::from_ack(t, Duration::from_secs(10));
        assert_eq!(long.kernel_lifetime(t), Some(8));
    }

    #[test]
    fn a_stall_before_the_kernel_is_caught() {
        let t = Instant::now();
        let v = Validity::from_ack(t, Duration::from_secs(3));
        let l = v.kernel_lifetime(t).unwrap();
        assert!(v.still_safe(t + MS(100), l));
        assert!(!v.still_safe(t + MS(800), l), "applied 800 ms late");
    }

    #[test]
    fn fence_and_announcements() {
        let t = Instant::now();
        let v = Validity::from_ack(t, Duration::from_secs(3));
        assert_eq!(v.fence(), t + MS(2250));
        assert!(v.may_announce(t + MS(2249)));
        assert!(!v.may_announce(t + MS(2250)));
        assert_eq!(margin(Duration::from_secs(1)), MS(500));
        assert_eq!(margin(Duration::from_secs(10)), MS(2500));
    }

    #[test]
    fn the_minimum_ttl_leaves_room_for_a_renewal() {
        let t = Instant::now();
        let min = Validity::from_ack(t, Duration::from_secs(u64::from(MIN_LEASE_TTL_SECS)));
        assert_eq!(min.kernel_lifetime(t + MS(50)), Some(1));
        let short = Validity::from_ack(t, Duration::from_secs(2));
        assert_eq!(
            short.kernel_lifetime(t),
            None,
            "2 s leaves no safe lifetime"
        );
    }
}
