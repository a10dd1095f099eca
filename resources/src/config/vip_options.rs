//! The `machined` block of a VIP: our own options, with their ranges.

use super::fields::{duration_ms, in_range};
use super::health_check::{health_check, HealthCheck};
use super::walk::{Diag, Obj};
use serde::{Deserialize, Serialize};

/// How often and how long to announce an address after adding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Announce {
    /// Announcements in the burst right after the address is added.
    pub count: u32,
    /// Gap between announcements of the burst.
    pub interval_ms: u64,
    /// Announce again every so often while the address is held; 0: never.
    pub refresh_ms: u64,
}

/// Shortest lease TTL, seconds, with which the holder can renew the VIP's
/// kernel lifetime safely: the kernel's 1 s minimum lifetime, up to 1.25 s
/// more before it removes an expired address, and room for a keep-alive's
/// round trip (see `controllers/src/vip/lifetime.rs`).
pub const MIN_LEASE_TTL_SECS: u32 = 3;

/// Options of one VIP (`vip.machined` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VipOptions {
    /// etcd lease TTL, whole seconds (etcd's unit). The holder drops the
    /// address before the lease can expire on the server.
    pub lease_ttl_secs: u32,
    pub announce: Announce,
    /// Candidates ARP/NDP-probe the holder this often; 0 disables the
    /// dead-holder fast path (then takeover waits for the lease to expire).
    pub holder_probe_ms: u64,
    /// The holder is dead when its node address has not answered for this
    /// long: its lease is revoked so the next candidate takes over.
    pub holder_dead_after_ms: u64,
    /// Candidates also ask for the VIP itself at the holder this often; the
    /// holder's machined answers only with fresh proof from etcd, so a
    /// holder that cannot prove it holds (cut off from etcd, machined dead
    /// or stopped) is deposed once it has not answered for this interval
    /// plus `holder_dead_after_ms`. Each such probe costs the holder one
    /// etcd read. 0: no such probing.
    #[serde(default = "default_proof_probe_ms")]
    pub proof_probe_ms: u64,
    /// How long the holder waits for a proof from etcd before it lets what
    /// asked for it (an ARP request, an announcement) go unanswered. Raise
    /// it where etcd itself is slow (emulated machines); candidates allow
    /// for it before they call a silent holder dead.
    #[serde(default = "default_proof_timeout_ms")]
    pub proof_timeout_ms: u64,
    /// Before adding the VIP, the new holder listens this long for anyone
    /// answering for it (ARP probe / DAD-style neighbour solicitation).
    #[serde(default = "default_claim_window_ms")]
    pub claim_window_ms: u64,
    /// A check of the service behind the VIP that gates candidacy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// This node's preference as holder: a candidate whose priority is
    /// higher than the holder's takes the VIP over (keepalived's model).
    #[serde(default)]
    pub priority: u32,
    /// How long a higher-priority candidate waits, seeing a lower-priority
    /// holder the whole time, before taking the VIP over.
    #[serde(default = "default_preempt_delay_ms")]
    pub preempt_delay_ms: u64,
    /// The VIP group this VIP belongs to (`group:` beside the VIP's
    /// address): the members of a group share one election, one lease, one
    /// liveness watch and one proof, and move together. None: a group of
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

fn default_preempt_delay_ms() -> u64 {
    10_000
}

/// Highest `priority`.
pub const MAX_PRIORITY: u64 = 1000;

fn default_claim_window_ms() -> u64 {
    5
}

fn default_proof_probe_ms() -> u64 {
    500
}

fn default_proof_timeout_ms() -> u64 {
    250
}

impl Default for VipOptions {
    fn default() -> Self {
        VipOptions {
            lease_ttl_secs: MIN_LEASE_TTL_SECS,
            announce: Announce {
                count: 3,
                interval_ms: 100,
                refresh_ms: 10_000,
            },
            holder_probe_ms: 100,
            holder_dead_after_ms: 150,
            proof_probe_ms: default_proof_probe_ms(),
            proof_timeout_ms: default_proof_timeout_ms(),
            claim_window_ms: default_claim_window_ms(),
            health_check: None,
            priority: 0,
            preempt_delay_ms: default_preempt_delay_ms(),
            group: None,
        }
    }
}

/// Whether `g` can name a VIP group: 1-63 lowercase letters, digits and
/// '-', not first or last (it is part of an etcd key every node reads).
pub fn valid_group(g: &str) -> bool {
    !g.is_empty()
        && g.len() <= 63
        && g.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !g.starts_with('-')
        && !g.ends_with('-')
}

/// The `machined` block of a VIP: lease, announcements, holder probing.
pub(super) fn vip_options(v: &mut Obj<'_>, d: &mut Diag) -> VipOptions {
    let mut opts = VipOptions::default();
    if let Some(g) = v.string("group", d) {
        if valid_group(&g) {
            opts.group = Some(g);
        } else {
            d.error(
                v.path("group"),
                format!(
                    "{} is not a valid VIP group name (1-63 lowercase letters, digits and '-', not first or last)",
                    if g.len() <= 63 { format!("{g:?}") } else { format!("a name of {} bytes", g.len()) }
                ),
            );
        }
    }
    if !v.has("machined") {
        v.accept(&["machined"]);
        return opts;
    }
    let mut o = v.child("machined", d).own();
    if let Some(ms) = duration_ms(&mut o, "leaseTTL", d) {
        let p = o.path("leaseTTL");
        if ms % 1000 != 0 {
            d.error(&p, "must be whole seconds (etcd leases count in seconds)");
        } else if ms / 1000 < u64::from(MIN_LEASE_TTL_SECS) {
            d.error(
                &p,
                format!(
                    "must be at least {}s: the VIP's kernel lifetime (1s at least, plus up to 1.25s before the kernel removes it) must end before the lease can",
                    MIN_LEASE_TTL_SECS
                ),
            );
        } else if in_range(p, ms / 1000, 1, 600, "s", d) {
            opts.lease_ttl_secs = (ms / 1000) as u32;
        }
    }
    if let Some(n) = o.uint("announceCount", 100, d) {
        if in_range(o.path("announceCount"), n, 1, 100, "", d) {
            opts.announce.count = n as u32;
        }
    }
    if let Some(ms) = duration_ms(&mut o, "announceInterval", d) {
        if in_range(o.path("announceInterval"), ms, 10, 10_000, "ms", d) {
            opts.announce.interval_ms = ms;
        }
    }
    if let Some(ms) = duration_ms(&mut o, "refreshInterval", d) {
        if ms == 0 || in_range(o.path("refreshInterval"), ms, 1000, 3_600_000, "ms", d) {
            opts.announce.refresh_ms = ms;
        }
    }
    if let Some(ms) = duration_ms(&mut o, "holderProbeInterval", d) {
        if ms == 0 || in_range(o.path("holderProbeInterval"), ms, 10, 5000, "ms", d) {
            opts.holder_probe_ms = ms;
        }
    }
    if let Some(ms) = duration_ms(&mut o, "holderDeadAfter", d) {
        if in_range(o.path("holderDeadAfter"), ms, 30, 60_000, "ms", d) {
            opts.holder_dead_after_ms = ms;
        }
    }
    if let Some(ms) = duration_ms(&mut o, "proofProbeInterval", d) {
        if ms == 0 || in_range(o.path("proofProbeInterval"), ms, 50, 60_000, "ms", d) {
            opts.proof_probe_ms = ms;
        }
    }
    if let Some(ms) = duration_ms(&mut o, "proofTimeout", d) {
        if in_range(o.path("proofTimeout"), ms, 50, 2000, "ms", d) {
            opts.proof_timeout_ms = ms;
        }
    }
    // After a missed answer candidates probe every 10 ms; half an interval
    // of those is what stands between one lost reply and a suspicion.
    if opts.holder_probe_ms > 0 && 2 * opts.holder_dead_after_ms < 3 * opts.holder_probe_ms {
        d.error(
            o.path("holderDeadAfter"),
            "must be at least 1.5 holder probe intervals",
        );
    }
    if let Some(ms) = duration_ms(&mut o, "claimWindow", d) {
        if in_range(o.path("claimWindow"), ms, 5, 5000, "ms", d) {
            opts.claim_window_ms = ms;
        }
    }
    opts.health_check = health_check(&mut o, d);
    if let Some(n) = o.uint("priority", MAX_PRIORITY, d) {
        opts.priority = n as u32;
    }
    if let Some(ms) = duration_ms(&mut o, "preemptDelay", d) {
        if in_range(o.path("preemptDelay"), ms, 1000, 3_600_000, "ms", d) {
            opts.preempt_delay_ms = ms;
        }
    }
    o.finish(d);
    opts
}
