//! The failover benchmark's figures per scenario, as a table or JSON.

use crate::scenario::Scenario;
use crate::trial::{Moves, Outcome};
use crate::verdict::quantile;
use serde_json::{json, Value};
use std::time::Duration;

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// (min, median, max)
pub fn stats(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Some((v[0], median, v[v.len() - 1]))
}

pub fn fmt3(s: Option<(f64, f64, f64)>) -> String {
    s.map_or("-".into(), |(a, b, c)| format!("{a:.0} / {b:.0} / {c:.0}"))
}

/// (min, median, max) as JSON; null when there is nothing.
pub fn j3(s: Option<(f64, f64, f64)>) -> Value {
    s.map_or(
        Value::Null,
        |(a, b, c)| json!({"min": a, "median": b, "max": c}),
    )
}

/// One scenario's trials.
pub struct Row<'a> {
    pub scenario: Scenario,
    pub trials: Vec<&'a Outcome>,
}

impl Row<'_> {
    fn gaps(&self) -> Option<(f64, f64, f64)> {
        stats(self.trials.iter().map(|r| ms(r.gap)).collect())
    }

    fn sum(&self, f: impl Fn(&Outcome) -> usize) -> usize {
        self.trials.iter().map(|r| f(r)).sum()
    }

    /// Every answered request's latency, all trials together.
    fn latency(&self, q: f64) -> Option<f64> {
        let all: Vec<Duration> = self
            .trials
            .iter()
            .flat_map(|r| r.verdict.latencies.iter().copied())
            .collect();
        quantile(&all, q).map(|d| (d.as_secs_f64() * 100_000.0).round() / 100.0)
    }

    fn overlap(&self) -> f64 {
        self.trials
            .iter()
            .map(|r| ms(r.kernel_overlap))
            .fold(0.0, f64::max)
    }

    pub fn json(&self) -> Value {
        let lead: Vec<&&Outcome> = self
            .trials
            .iter()
            .filter(|r| r.holder_was_etcd_leader)
            .collect();
        json!({
            "scenario": self.scenario.name(),
            "trials": self.trials.len(),
            "gap_ms": j3(self.gaps()),
            "probes_lost": self.sum(|r| r.lost),
            "arp_requests": self.sum(|r| r.verdict.requests),
            "arp_requests_answered_by_two_macs": self.sum(|r| r.verdict.double),
            "stale_replies": self.sum(|r| r.verdict.stale_replies),
            "late_replies": self.sum(|r| r.verdict.late_replies),
            "stale_garps": self.sum(|r| r.verdict.stale_garps),
            "pinned_frames": self.sum(|r| r.verdict.pinned),
            "pinned_frames_after_etcd_decided": self.sum(|r| r.verdict.pinned_after_return),
            "arp_reply_ms": {"median": self.latency(0.5), "p99": self.latency(0.99)},
            "kernel_overlap_ms_max": self.overlap(),
            "holder_was_etcd_leader": lead.len(),
            "gap_ms_when_holder_was_etcd_leader": j3(stats(lead.iter().map(|r| ms(r.gap)).collect())),
            "released_after_ms": j3(self.quorum(|q| q.released)),
            "pinned_answers_after_ms": j3(self.quorum(|q| q.pinned)),
            "pin_ended_after_return_ms": j3(self.quorum(|q| q.pin_ended)),
            "moved_after_ms": j3(stats(self.trials.iter().filter_map(|r| r.moved_after.map(ms)).collect())),
            "back_after_return_ms": j3(self.quorum(|q| q.back)),
            "flood": self.trials.iter().filter_map(|r| r.flood).map(|f| json!({
                "sent": f.sent, "secs": f.secs, "proofs": f.proofs, "answered": f.answered})).collect::<Vec<_>>(),
        })
    }

    /// One of the quorum trials' times, over the trials (min, median, max).
    fn quorum(
        &self,
        f: impl Fn(&crate::trial_quorum::QuorumTimes) -> Duration,
    ) -> Option<(f64, f64, f64)> {
        stats(
            self.trials
                .iter()
                .filter_map(|x| x.quorum.as_ref().map(|q| ms(f(q))))
                .collect(),
        )
    }

    fn notes(&self) -> String {
        let mut notes = Vec::new();
        let lead: Vec<f64> = self
            .trials
            .iter()
            .filter(|x| x.holder_was_etcd_leader)
            .map(|x| ms(x.gap))
            .collect();
        if !lead.is_empty() {
            notes.push(format!(
                "holder was etcd leader in {}: gap {}",
                lead.len(),
                fmt3(stats(lead))
            ));
        }
        let moved = self
            .trials
            .iter()
            .filter(|x| x.new_holder.is_some_and(|n| n != x.old_holder))
            .count();
        if self.scenario.moves() != Moves::Yes || moved != self.trials.len() {
            notes.push(format!("VIP moved in {moved} of {}", self.trials.len()));
        }
        let moved_after = stats(
            self.trials
                .iter()
                .filter_map(|x| x.moved_after.map(ms))
                .collect(),
        );
        if matches!(
            self.scenario,
            Scenario::Unhealthy | Scenario::Cutoff | Scenario::Mute
        ) {
            notes.push(format!(
                "another node answered {} ms after the fault",
                fmt3(moved_after)
            ));
        }
        if self.scenario == Scenario::Quorum {
            notes.push(format!(
                "{} frames from the pinned node while pinned, {} of them after etcd decided again",
                self.sum(|x| x.verdict.pinned),
                self.sum(|x| x.verdict.pinned_after_return),
            ));
            notes.push(format!(
                "released after {} ms; pinned VIP answered {} ms after `vip pin`; \
                 members back: pin ended after {} ms, VIP answered by the election's holder after {} ms",
                fmt3(self.quorum(|q| q.released)),
                fmt3(self.quorum(|q| q.pinned)),
                fmt3(self.quorum(|q| q.pin_ended)),
                fmt3(self.quorum(|q| q.back)),
            ));
        }
        let late = self.sum(|x| x.verdict.late_replies);
        if late > 0 {
            notes.push(format!(
                "{late} late answers (asked while it held, delivered after)"
            ));
        }
        for f in self.trials.iter().filter_map(|x| x.flood) {
            notes.push(format!(
                "flood {:.0}/s: holder asked {:.0} proofs/s, answered {:.0}/s",
                f.sent as f64 / f.secs,
                f.proofs / f.secs,
                f.answered / f.secs
            ));
        }
        notes.join("; ")
    }
}

pub const HEADER: &str = "scenario             trials   gap ms min / med / max   lost   2 MACs  stale r/g  kernels ms  ARP ms med/p99  notes";

pub fn line(r: &Row) -> String {
    let lat = match (r.latency(0.5), r.latency(0.99)) {
        (Some(a), Some(b)) => format!("{a:.1} / {b:.1}"),
        _ => "-".into(),
    };
    format!(
        "{:<20} {:>6}  {:>23}  {:>5}  {:>6}  {:>9}  {:>10.1}  {:>14}  {}",
        r.scenario.name(),
        r.trials.len(),
        fmt3(r.gaps()),
        r.sum(|x| x.lost),
        r.sum(|x| x.verdict.double),
        format!(
            "{} / {}",
            r.sum(|x| x.verdict.stale_replies),
            r.sum(|x| x.verdict.stale_garps)
        ),
        r.overlap(),
        lat,
        r.notes()
    )
}
