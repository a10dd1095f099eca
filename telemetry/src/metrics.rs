//! Prometheus metrics (the official `prometheus-client` crate), one set
//! per process. Counters move where things happen; the holder and
//! campaigning gauges follow `VIPStatus`; keep-alive ages are worked out
//! at scrape time from the last acknowledgement.

use crate::events::Kind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Vip {
    vip: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VipReason {
    vip: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VipFrame {
    vip: String,
    /// `garp` or `na`.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Controller {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventKind {
    kind: String,
}

pub struct Metrics {
    registry: Registry,
    holder: Family<Vip, Gauge>,
    campaigning: Family<Vip, Gauge>,
    healthy: Family<Vip, Gauge>,
    holder_changes: Family<Vip, Counter>,
    acquired: Family<Vip, Counter>,
    released: Family<VipReason, Counter>,
    frames: Family<VipFrame, Counter>,
    fences: Family<Vip, Counter>,
    revokes: Family<Vip, Counter>,
    claim_delays: Family<Vip, Counter>,
    keepalive_age: Family<Vip, Gauge<f64, AtomicU64>>,
    etcd_has_leader: Gauge,
    etcd_leader_changes: Counter,
    reconcile_errors: Family<Controller, Counter>,
    events: Family<EventKind, Counter>,
    answering: crate::answering::Answering,
    sinks: crate::sinks::Sinks,
    acks: Mutex<HashMap<String, Instant>>,
}

fn vip(ip: &str) -> Vip {
    Vip {
        vip: ip.to_string(),
    }
}

impl Metrics {
    fn new(build: &Build) -> Self {
        let mut r = Registry::with_prefix("machined");
        let m = Metrics {
            registry: Registry::default(),
            holder: Family::default(),
            campaigning: Family::default(),
            healthy: Family::default(),
            holder_changes: Family::default(),
            acquired: Family::default(),
            released: Family::default(),
            frames: Family::default(),
            fences: Family::default(),
            revokes: Family::default(),
            claim_delays: Family::default(),
            keepalive_age: Family::default(),
            etcd_has_leader: Gauge::default(),
            etcd_leader_changes: Counter::default(),
            reconcile_errors: Family::default(),
            events: Family::default(),
            answering: Default::default(),
            sinks: Default::default(),
            acks: Mutex::new(HashMap::new()),
        };
        r.register(
            "build",
            "machined's version",
            Info::new(vec![
                ("version".to_string(), build.version.to_string()),
                ("commit".to_string(), build.commit.to_string()),
                ("date".to_string(), build.date.to_string()),
            ]),
        );
        r.register(
            "vip_holder",
            "1 while this node has the VIP on its link",
            m.holder.clone(),
        );
        r.register(
            "vip_campaigning",
            "1 while this node is a candidate for the VIP",
            m.campaigning.clone(),
        );
        r.register(
            "vip_health_check_healthy",
            "1 while the VIP's health check passes on this node (VIPs with a check)",
            m.healthy.clone(),
        );
        r.register(
            "vip_holder_changes",
            "Changes of the VIP holder this node observed",
            m.holder_changes.clone(),
        );
        r.register(
            "vip_acquired",
            "Times this node put the VIP on its link",
            m.acquired.clone(),
        );
        r.register(
            "vip_released",
            "Times this node let the VIP go, by reason",
            m.released.clone(),
        );
        r.register(
            "vip_announcements",
            "Announcement frames sent (garp: gratuitous ARP, na: unsolicited neighbour advertisement)",
            m.frames.clone(),
        );
        r.register(
            "vip_fences",
            "Times the holder's fence removed the VIP (no acknowledged keep-alive in time)",
            m.fences.clone(),
        );
        r.register(
            "vip_revokes",
            "Dead holders' leases this node revoked",
            m.revokes.clone(),
        );
        r.register(
            "vip_claim_delays",
            "Claims delayed because someone still answered for the VIP",
            m.claim_delays.clone(),
        );
        r.register(
            "vip_keepalive_age_seconds",
            "Seconds since the election lease's last acknowledged keep-alive",
            m.keepalive_age.clone(),
        );
        r.register(
            "etcd_has_leader",
            "1 while this node's etcd member sees a leader",
            m.etcd_has_leader.clone(),
        );
        r.register(
            "etcd_leader_changes",
            "Changes of the etcd leader this node observed",
            m.etcd_leader_changes.clone(),
        );
        r.register(
            "controller_reconcile_errors",
            "Failed reconciles, by controller",
            m.reconcile_errors.clone(),
        );
        r.register("events", "Events recorded, by kind", m.events.clone());
        m.answering.register(&mut r);
        m.sinks.register(&mut r);
        Metrics { registry: r, ..m }
    }

    pub fn event(&self, kind: Kind) {
        self.events
            .get_or_create(&EventKind {
                kind: kind.as_str().to_string(),
            })
            .inc();
    }

    /// What `VIPStatus` says of this node: holding, campaigning.
    pub fn vip_state(&self, ip: &str, holding: bool, campaigning: bool) {
        self.holder.get_or_create(&vip(ip)).set(i64::from(holding));
        self.campaigning
            .get_or_create(&vip(ip))
            .set(i64::from(campaigning));
    }

    /// The check's verdict (`None`: no check, the series goes).
    pub fn vip_health(&self, ip: &str, healthy: Option<bool>) {
        match healthy {
            Some(h) => {
                self.healthy.get_or_create(&vip(ip)).set(i64::from(h));
            }
            None => {
                self.healthy.remove(&vip(ip));
            }
        }
    }

    /// A VIP no longer configured: its gauges go (counters stay).
    pub fn vip_gone(&self, ip: &str) {
        let v = vip(ip);
        self.holder.remove(&v);
        self.campaigning.remove(&v);
        self.healthy.remove(&v);
        self.keepalive_age.remove(&v);
        self.lock_acks().remove(ip);
    }

    pub fn holder_changed(&self, ip: &str) {
        self.holder_changes.get_or_create(&vip(ip)).inc();
    }

    pub fn acquired(&self, ip: &str) {
        self.acquired.get_or_create(&vip(ip)).inc();
    }

    pub fn released(&self, ip: &str, reason: &str) {
        self.released
            .get_or_create(&VipReason {
                vip: ip.to_string(),
                reason: reason.to_string(),
            })
            .inc();
        if reason == "fenced" {
            self.fences.get_or_create(&vip(ip)).inc();
        }
    }

    pub fn announced(&self, ip: &str, ipv6: bool, frames: u64) {
        self.frames
            .get_or_create(&VipFrame {
                vip: ip.to_string(),
                kind: if ipv6 { "na" } else { "garp" }.to_string(),
            })
            .inc_by(frames);
    }

    pub fn revoked(&self, ip: &str) {
        self.revokes.get_or_create(&vip(ip)).inc();
    }

    pub fn claim_delayed(&self, ip: &str) {
        self.claim_delays.get_or_create(&vip(ip)).inc();
    }

    /// A confirmation asked of etcd before speaking for `ip` came back.
    pub fn proof(&self, ip: &str, result: &str) {
        self.answering.proof(ip, result);
    }

    pub fn arp_answered(&self, ip: &str, n: u64) {
        self.answering.answered(ip, n);
    }

    pub fn arp_unanswered(&self, ip: &str, n: u64) {
        self.answering.unanswered(ip, n);
    }

    pub fn rival(&self, ip: &str) {
        self.answering.rival(ip);
    }

    /// `n` lines went to log or event destination `d`.
    pub fn sink_sent(&self, d: &str, n: u64) {
        self.sinks.sent(d, n);
    }

    /// `n` lines never reached destination `d`.
    pub fn sink_dropped(&self, d: &str, n: u64) {
        self.sinks.dropped(d, n);
    }

    /// A runner of kind `runner` stopped unexpectedly and starts again.
    pub fn runner_restarted(&self, runner: &str) {
        self.answering.restarted(runner);
    }

    fn lock_acks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The election lease of `ip` was kept alive at `at`.
    pub fn keepalive_acked(&self, ip: &str, at: Instant) {
        self.lock_acks().insert(ip.to_string(), at);
    }

    /// This node holds no election lease for `ip` any more.
    pub fn keepalive_stopped(&self, ip: &str) {
        self.lock_acks().remove(ip);
        self.keepalive_age.remove(&vip(ip));
    }

    pub fn etcd_leader(&self, has_leader: bool, changed: bool) {
        self.etcd_has_leader.set(i64::from(has_leader));
        if changed {
            self.etcd_leader_changes.inc();
        }
    }

    pub fn reconcile_failed(&self, controller: &str) {
        self.reconcile_errors
            .get_or_create(&Controller {
                controller: controller.to_string(),
            })
            .inc();
    }

    /// The exposition text (OpenMetrics), ages worked out now.
    pub fn render(&self) -> String {
        let now = Instant::now();
        for (ip, at) in self.lock_acks().iter() {
            self.keepalive_age
                .get_or_create(&vip(ip))
                .set(now.saturating_duration_since(*at).as_secs_f64());
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// What binary this is, for `machined_build_info`.
#[derive(Debug, Clone, Copy)]
pub struct Build {
    pub version: &'static str,
    pub commit: &'static str,
    pub date: &'static str,
}

static BUILD: OnceLock<Build> = OnceLock::new();

/// Names the binary (its commit and date) before the metrics are first
/// used; unset, they say `unknown`.
pub fn set_build(b: Build) {
    let _ = BUILD.set(b);
}

/// What [`set_build`] named (else `unknown`).
pub fn build() -> Build {
    BUILD.get().copied().unwrap_or(Build {
        version: env!("CARGO_PKG_VERSION"),
        commit: "unknown",
        date: "unknown",
    })
}

/// This process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics::new(&build()))
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_conventional_names() {
        let m = Metrics::new(&Build {
            version: "9.9.9",
            commit: "abc",
            date: "2026-12-06",
        });
        m.vip_state("10.5.0.50", true, true);
        m.acquired("10.5.0.50");
        m.released("10.5.0.50", "fenced");
        m.announced("10.5.0.50", false, 3);
        m.announced("fd00::50", true, 2);
        m.keepalive_acked("10.5.0.50", Instant::now());
        m.etcd_leader(true, true);
        m.reconcile_failed("network.VIPController");
        m.event(Kind::VipAcquired);
        m.proof("10.5.0.50", "held");
        m.arp_answered("10.5.0.50", 2);
        m.arp_unanswered("10.5.0.50", 1);
        m.rival("10.5.0.50");
        let text = m.render();
        for want in [
            "machined_build_info{version=\"9.9.9\",commit=\"abc\",date=\"2026-12-06\"} 1",
            "machined_vip_holder{vip=\"10.5.0.50\"} 1",
            "machined_vip_campaigning{vip=\"10.5.0.50\"} 1",
            "machined_vip_acquired_total{vip=\"10.5.0.50\"} 1",
            "machined_vip_released_total{vip=\"10.5.0.50\",reason=\"fenced\"} 1",
            "machined_vip_fences_total{vip=\"10.5.0.50\"} 1",
            "machined_vip_announcements_total{vip=\"10.5.0.50\",kind=\"garp\"} 3",
            "machined_vip_announcements_total{vip=\"fd00::50\",kind=\"na\"} 2",
            "machined_etcd_has_leader 1",
            "machined_etcd_leader_changes_total 1",
            "machined_controller_reconcile_errors_total{controller=\"network.VIPController\"} 1",
            "machined_events_total{kind=\"vip-acquired\"} 1",
            "machined_vip_proofs_total{vip=\"10.5.0.50\",result=\"held\"} 1",
            "machined_vip_requests_answered_total{vip=\"10.5.0.50\"} 2",
            "machined_vip_requests_unanswered_total{vip=\"10.5.0.50\"} 1",
            "machined_vip_rivals_total{vip=\"10.5.0.50\"} 1",
            "# TYPE machined_vip_keepalive_age_seconds gauge",
            "# EOF",
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        m.vip_gone("10.5.0.50");
        let text = m.render();
        assert!(!text.contains("machined_vip_holder{"), "{text}");
        assert!(text.contains("machined_vip_acquired_total{vip=\"10.5.0.50\"} 1"));
    }
}
