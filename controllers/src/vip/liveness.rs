//! What a candidate knows of the holder's liveness from its probes, as a
//! pure state machine (the prober owns the socket and the clock).
//!
//! One wake-up per probe: the replies to a probe are read at the next tick
//! (they come within a millisecond and wait in the socket's queue), so an
//! idle candidate costs one send and one read per interval. A reply proves
//! the holder was alive when the probe it answers was sent, so that send time
//! is what counts, not the time the reply was read. After a probe goes
//! unanswered the candidate probes at [`FAST`] until the holder answers again
//! or has been silent for `dead_after` since the last probe it answered.
//! A tick that finds a reply is never a death, however late the tick ran,
//! and a death needs unanswered probes over at least `dead_after - every`
//! (so a tick that ran late, after a long gap without probes, does not
//! decide alone): a busy machine must not make a live holder dead.

use std::time::Duration;
use tokio::time::Instant;

/// Probe interval once a probe went unanswered.
pub const FAST: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send a probe now; the next tick is this far away.
    Probe(Duration),
    /// No answer to any probe sent in the last `dead_after`.
    Dead,
}

#[derive(Debug, Clone)]
pub struct Liveness {
    every: Duration,
    dead_after: Duration,
    /// Send time of the last answered probe (or when watching began).
    alive_at: Instant,
    /// Send time of the last probe.
    sent_at: Option<Instant>,
    /// Send time of the first probe that went unanswered since `alive_at`.
    unanswered_since: Option<Instant>,
}

impl Liveness {
    pub fn new(every: Duration, dead_after: Duration, now: Instant) -> Self {
        Liveness {
            every,
            dead_after,
            alive_at: now,
            sent_at: None,
            unanswered_since: None,
        }
    }

    /// A tick at `now`; `answered`: a reply from the holder was queued since
    /// the last probe. A `Probe` verdict means the caller sends one now and
    /// calls [`Liveness::sent`].
    pub fn tick(&mut self, now: Instant, answered: bool) -> Verdict {
        let Some(sent) = self.sent_at else {
            return Verdict::Probe(self.every);
        };
        if answered {
            self.alive_at = self.alive_at.max(sent);
            self.unanswered_since = None;
            return Verdict::Probe(self.every);
        }
        let silent_since = *self.unanswered_since.get_or_insert(sent);
        let quiet = now.saturating_duration_since(self.alive_at) > self.dead_after;
        let probed = now.saturating_duration_since(silent_since)
            >= self.dead_after.saturating_sub(self.every);
        if quiet && probed {
            return Verdict::Dead;
        }
        Verdict::Probe(FAST.min(self.every))
    }

    pub fn sent(&mut self, at: Instant) {
        self.sent_at = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: Duration = Duration::from_millis(50);
    const DEAD: Duration = Duration::from_millis(150);

    /// Runs ticks at the given ms offsets with the given answers (a probe is
    /// sent at each `Probe` verdict) and returns the verdicts.
    fn run(ticks: &[(u64, bool)]) -> Vec<Verdict> {
        let t0 = Instant::now();
        let mut l = Liveness::new(EVERY, DEAD, t0);
        ticks
            .iter()
            .map(|&(ms, answered)| {
                let now = t0 + Duration::from_millis(ms);
                let v = l.tick(now, answered);
                if matches!(v, Verdict::Probe(_)) {
                    l.sent(now);
                }
                v
            })
            .collect()
    }

    fn probe(ms: u64) -> Verdict {
        Verdict::Probe(Duration::from_millis(ms))
    }

    #[test]
    fn answered_probes_keep_the_slow_pace() {
        let v = run(&[
            (0, false),
            (50, true),
            (100, true),
            (150, true),
            (400, true),
        ]);
        assert_eq!(v, vec![probe(50); 5]);
    }

    #[test]
    fn an_unanswered_probe_speeds_up_and_death_counts_from_the_last_answered_send() {
        // Last answered probe sent at 50 (its reply read at 100); the probe
        // at 100 goes unanswered: fast probes from 150, dead once 150 ms have
        // passed since 50.
        let v = run(&[
            (0, false),
            (50, true),
            (100, true),
            (150, false),
            (160, false),
            (170, false),
            (190, false),
            (200, false),
            (201, false),
        ]);
        assert_eq!(
            v,
            vec![
                probe(50),
                probe(50),
                probe(50),
                probe(10),
                probe(10),
                probe(10),
                probe(10),
                probe(10),
                Verdict::Dead
            ]
        );
    }

    #[test]
    fn an_answer_during_fast_probing_goes_back_to_the_slow_pace() {
        let v = run(&[
            (0, false),
            (50, true),
            (100, false),
            (110, true),
            (160, true),
        ]);
        assert_eq!(
            v,
            vec![probe(50), probe(50), probe(10), probe(50), probe(50)]
        );
    }

    #[test]
    fn a_late_tick_that_finds_a_reply_is_not_a_death() {
        // The task slept 400 ms (a busy machine): the reply to the probe at
        // 50 waited in the queue; it proves the holder alive.
        let v = run(&[(0, false), (50, true), (450, true), (460, false)]);
        assert_eq!(v, vec![probe(50), probe(50), probe(50), probe(10)]);
        // But a late tick with nothing queued is a death: the probe it
        // answers was sent long ago.
        let v = run(&[(0, false), (50, true), (450, false)]);
        assert_eq!(v, vec![probe(50), probe(50), Verdict::Dead]);
    }

    #[test]
    fn the_first_tick_only_probes() {
        // Nothing was sent yet, so silence proves nothing.
        let t0 = Instant::now();
        let mut l = Liveness::new(EVERY, DEAD, t0);
        assert_eq!(l.tick(t0 + Duration::from_secs(5), false), probe(50));
    }

    #[test]
    fn fast_is_never_slower_than_the_configured_interval() {
        let t0 = Instant::now();
        let mut l = Liveness::new(Duration::from_millis(5), Duration::from_millis(15), t0);
        l.sent(t0);
        assert_eq!(l.tick(t0 + Duration::from_millis(5), false), probe(5));
    }
}
