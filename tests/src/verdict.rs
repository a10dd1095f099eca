//! The client's verdict on a stretch of time: from the ARP watch's rounds
//! and the election's holders over time, how many requests two MACs
//! answered, how many answers and gratuitous ARPs came from a node that was
//! not the holder etcd named, and how long answers took.

use crate::arpwatch::{Mac, Record, Round};
use crate::election::Leaders;
use std::time::{Duration, Instant};

/// A frame from the holder that etcd deposed a moment earlier may still be
/// on its way: proof asked and given just before the revoke committed. The
/// watch's own delay is in the same range. Later than this it is stale.
pub const IN_FLIGHT: Duration = Duration::from_millis(25);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub requests: usize,
    pub answered: usize,
    /// Requests answered by two MACs or more.
    pub double: usize,
    /// Answers from a MAC etcd named as the holder at no moment between
    /// the request and the answer: it answered what it was never entitled
    /// to.
    pub stale_replies: usize,
    /// Answers to a request made while their sender held the VIP, that
    /// arrived after it had lost it (proven, then held up: a VM frozen
    /// between its proof and its send, or with the answer still in its
    /// card's queue, delivers it at the thaw).
    pub late_replies: usize,
    /// Gratuitous ARP from a MAC etcd did not name as the holder then.
    pub stale_garps: usize,
    /// Request to first answer, for every answered request.
    pub latencies: Vec<Duration>,
    /// The first few stale frames, said plainly (who, when against the
    /// holder changes around it).
    pub stale_examples: Vec<String>,
    /// Answers and gratuitous ARPs from a pinned node while its pin stood
    /// (`mctl vip pin --force`: it speaks without etcd's naming it); never
    /// stale.
    pub pinned: usize,
    /// Of those, the ones after etcd was seen deciding again (its first
    /// holder change after the members returned).
    pub pinned_after_return: usize,
}

/// A break-glass pin as the client's verdict allows for it: frames from
/// `mac` between `from` (the pin asked for) and `to` (its end seen) are the
/// pin's, not stale; `returned`: when etcd's members came back.
#[derive(Debug, Clone, Copy)]
pub struct PinWindow {
    pub mac: Mac,
    pub from: Instant,
    pub to: Instant,
    pub returned: Instant,
}

impl PinWindow {
    fn covers(&self, m: &Mac, at: Instant) -> bool {
        *m == self.mac && at >= self.from && at <= self.to
    }

    /// When etcd was first seen deciding after the members returned.
    fn decided(&self, leaders: &Leaders) -> Option<Instant> {
        leaders
            .iter()
            .map(|(t, _)| *t)
            .find(|t| *t >= self.returned)
    }
}

/// Whether `m` was the holder at some moment in `[at - IN_FLIGHT, at]`
/// (unknown before the first record counts as yes).
fn held(leaders: &Leaders, m: &Mac, at: Instant) -> bool {
    held_during(leaders, m, at.checked_sub(IN_FLIGHT).unwrap_or(at), at)
}

/// Whether `m` was the holder at some moment in `[from, at]`.
fn held_during(leaders: &Leaders, m: &Mac, from: Instant, at: Instant) -> bool {
    let Some(first) = leaders.first() else {
        return true;
    };
    if first.0 > at {
        return true;
    }
    // The holder as of `from`, and every change until `at`.
    let before = leaders.iter().rev().find(|(t, _)| *t <= from);
    before
        .into_iter()
        .chain(leaders.iter().filter(|(t, _)| *t > from && *t <= at))
        .any(|(_, l)| l.as_ref() == Some(m))
}

pub fn judge(rec: &Record, leaders: &Leaders) -> Verdict {
    judge_pinned(rec, leaders, None)
}

/// Two stations answered this request: double ownership, as a client
/// sees it.
pub fn answered_by_two(r: &Round) -> bool {
    let mut macs: Vec<&Mac> = r.answers.iter().map(|(m, _)| m).collect();
    macs.sort();
    macs.dedup();
    macs.len() >= 2
}

/// [`judge`], allowing for a pin.
pub fn judge_pinned(rec: &Record, leaders: &Leaders, pin: Option<PinWindow>) -> Verdict {
    let decided = pin.and_then(|p| p.decided(leaders));
    let pinned = |m: &Mac, t: Instant, v: &mut Verdict| {
        if !pin.is_some_and(|p| p.covers(m, t)) {
            return false;
        }
        v.pinned += 1;
        if decided.is_some_and(|d| t >= d) {
            v.pinned_after_return += 1;
        }
        true
    };
    let mut v = Verdict {
        requests: rec.rounds.len(),
        ..Default::default()
    };
    for r in &rec.rounds {
        if answered_by_two(r) {
            v.double += 1;
        }
        if let Some(first) = r.answers.iter().map(|(_, t)| *t).min() {
            v.answered += 1;
            v.latencies.push(first.saturating_duration_since(r.sent));
        }
        for (m, t) in r.answers.iter() {
            if pinned(m, *t, &mut v) || held(leaders, m, *t) {
                continue;
            }
            let asked = r.sent.checked_sub(IN_FLIGHT).unwrap_or(r.sent);
            if held_during(leaders, m, asked, *t) {
                v.late_replies += 1;
                continue;
            }
            v.stale_replies += 1;
            let age = t.saturating_duration_since(r.sent).as_millis();
            note(
                &mut v.stale_examples,
                &format!("answer ({age} ms after its request)"),
                m,
                *t,
                leaders,
            );
        }
    }
    for (m, t) in rec.announcements.iter() {
        if pinned(m, *t, &mut v) || held(leaders, m, *t) {
            continue;
        }
        v.stale_garps += 1;
        note(&mut v.stale_examples, "gratuitous ARP", m, *t, leaders);
    }
    v
}

fn mac_text(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Describes a stale frame: who sent it, and the holder changes within a
/// second of it, in ms relative to it.
fn note(out: &mut Vec<String>, what: &str, m: &Mac, at: Instant, leaders: &Leaders) {
    if out.len() >= 5 {
        return;
    }
    let around: Vec<String> = leaders
        .iter()
        .filter(|(t, _)| (*t).max(at).duration_since((*t).min(at)) < Duration::from_secs(1))
        .map(|(t, l)| {
            let ms = if *t >= at {
                t.duration_since(at).as_secs_f64() * 1e3
            } else {
                -(at.duration_since(*t).as_secs_f64() * 1e3)
            };
            format!(
                "{ms:+.1} ms: {}",
                l.as_ref().map_or("none".into(), mac_text)
            )
        })
        .collect();
    out.push(format!(
        "{what} from {} (holder changes: {})",
        mac_text(m),
        around.join(", ")
    ));
}

/// The `q` quantile (0..=1) of `d`, if any.
pub fn quantile(d: &[Duration], q: f64) -> Option<Duration> {
    let mut s = d.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * q).round() as usize;
    s.get(i).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arpwatch::Round;

    const A: Mac = [2, 0, 0, 0, 0, 1];
    const B: Mac = [2, 0, 0, 0, 0, 2];

    #[test]
    fn doubles_stale_answers_and_latency_are_counted_from_outside() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        // A holds until 100 ms, nobody until 150, then B.
        let leaders: Leaders = vec![(t, Some(A)), (t + ms(100), None), (t + ms(150), Some(B))];
        let round = |sent: u64, answers: &[(Mac, u64)]| Round {
            sent: t + ms(sent),
            answers: answers.iter().map(|(m, at)| (*m, t + ms(*at))).collect(),
        };
        let rec = Record {
            rounds: vec![
                round(10, &[(A, 12)]),
                round(90, &[(A, 110)]), // 10 ms after the revoke: in flight
                round(160, &[(B, 162), (A, 170)]), // A answers 70 ms late: double and stale
                round(200, &[]),
                round(210, &[(B, 213)]),
                round(95, &[(A, 5200)]), // asked while A held, delivered 5 s later: late
            ],
            announcements: vec![(B, t + ms(152)), (A, t + ms(300))],
        };
        let v = judge(&rec, &leaders);
        assert_eq!(v.requests, 6);
        assert_eq!(v.answered, 5);
        assert_eq!(v.double, 1);
        assert_eq!(v.stale_replies, 1);
        assert_eq!(v.late_replies, 1);
        assert_eq!(v.stale_garps, 1);
        assert_eq!(v.latencies, vec![ms(2), ms(20), ms(2), ms(3), ms(5105)]);
        assert_eq!(quantile(&v.latencies, 0.5), Some(ms(3)));
        assert_eq!(quantile(&v.latencies, 1.0), Some(ms(5105)));
    }

    #[test]
    fn a_pins_frames_are_its_own_and_those_after_etcd_decided_are_counted() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        // A held until 100 ms; nobody (no quorum); pinned on B from 200 to
        // 900 ms; the members back at 600, etcd names A at 700.
        let leaders: Leaders = vec![(t, Some(A)), (t + ms(100), None), (t + ms(700), Some(A))];
        let pin = PinWindow {
            mac: B,
            from: t + ms(200),
            to: t + ms(900),
            returned: t + ms(600),
        };
        let round = |sent: u64, answers: &[(Mac, u64)]| Round {
            sent: t + ms(sent),
            answers: answers.iter().map(|(m, at)| (*m, t + ms(*at))).collect(),
        };
        let rec = Record {
            rounds: vec![
                round(300, &[(B, 302)]),
                round(710, &[(B, 720)]), // the pin, after etcd decided
                round(950, &[(B, 951)]), // after the pin's end: stale
            ],
            announcements: vec![(B, t + ms(250))],
        };
        let v = judge_pinned(&rec, &leaders, Some(pin));
        assert_eq!((v.pinned, v.pinned_after_return), (3, 1));
        assert_eq!(v.answered, 3);
        assert_eq!((v.stale_replies, v.stale_garps), (1, 0));
        let plain = judge(&rec, &leaders);
        assert_eq!(
            (plain.pinned, plain.stale_replies, plain.stale_garps),
            (0, 3, 1)
        );
    }
}
