//! The `machined` block of a VIP: our own options, with their ranges.

use super::walk::{Diag, Obj};
use serde_yaml::Value;

/// `500ms`, `2s`, `1m`, or a bare number of milliseconds.
fn duration_ms(o: &mut Obj<'_>, key: &'static str, d: &mut Diag) -> Option<u64> {
    let path = o.path(key);
    let v = o.get(key)?;
    let parsed = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
                (n, 1)
            } else if let Some(n) = s.strip_suffix('s') {
                (n, 1000)
            } else if let Some(n) = s.strip_suffix('m') {
                (n, 60_000)
            } else {
                (s, 1)
            };
            num.trim()
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(mult))
        }
        _ => None,
    };
    if parsed.is_none() {
        d.error(path, "must be a duration such as 500ms, 2s or 1m");
    }
    parsed
}

fn in_range(path: String, v: u64, lo: u64, hi: u64, unit: &str, d: &mut Diag) -> bool {
    let ok = (lo..=hi).contains(&v);
    if !ok {
        d.error(
            path,
            format!("{v}{unit} is out of range ({lo}{unit} to {hi}{unit})"),
        );
    }
    ok
}

/// The `machined` block of a VIP: lease, announcements, holder probing.
pub(super) fn vip_options(v: &mut Obj<'_>, d: &mut Diag) -> crate::types::VipOptions {
    let mut opts = crate::types::VipOptions::default();
    if !v.has("machined") {
        v.accept(&["machined"]);
        return opts;
    }
    let mut o = v.child("machined", d);
    if let Some(ms) = duration_ms(&mut o, "leaseTTL", d) {
        let p = o.path("leaseTTL");
        if ms % 1000 != 0 {
            d.error(&p, "must be whole seconds (etcd leases count in seconds)");
        } else if ms / 1000 < u64::from(crate::types::MIN_LEASE_TTL_SECS) {
            d.error(
                &p,
                format!(
                    "must be at least {}s: the VIP's kernel lifetime (1s at least, plus up to 1.25s before the kernel removes it) must end before the lease can",
                    crate::types::MIN_LEASE_TTL_SECS
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
    if opts.holder_probe_ms > 0 && opts.holder_dead_after_ms < 3 * opts.holder_probe_ms {
        d.error(
            o.path("holderDeadAfter"),
            "must be at least 3 holder probe intervals",
        );
    }
    if let Some(ms) = duration_ms(&mut o, "claimWindow", d) {
        if in_range(o.path("claimWindow"), ms, 5, 5000, "ms", d) {
            opts.claim_window_ms = ms;
        }
    }
    o.finish(d);
    opts
}
