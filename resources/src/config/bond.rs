//! Bonds: `kind: BondConfig` (`links`, `bondMode`, ...) and the legacy
//! `interfaces[].bond` (`interfaces`, `mode`, ...), Talos's names for the
//! kernel's bonding options. Unknown options warn; a bad value is an error
//! naming the field.

use super::model::BondSettings;
use super::values::check_link_name;
use super::walk::{Diag, Obj};

/// The bonding modes, as the kernel and Talos name them.
pub const MODES: &[&str] = &[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
];
pub const HASH_POLICIES: &[&str] = &["layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4"];
pub const LACP_RATES: &[&str] = &["slow", "fast"];
pub const FAIL_OVER_MACS: &[&str] = &["none", "active", "follow"];

fn choice(o: &mut Obj<'_>, key: &'static str, allowed: &[&str], d: &mut Diag) -> Option<String> {
    let v = o.string(key, d)?;
    if allowed.contains(&v.as_str()) {
        Some(v)
    } else {
        d.error(
            o.path(key),
            format!("{v:?} is not one of {}", allowed.join(", ")),
        );
        None
    }
}

fn ms(o: &mut Obj<'_>, key: &'static str, d: &mut Diag) -> Option<u32> {
    o.uint(key, u64::from(u32::MAX), d)
        .and_then(|v| u32::try_from(v).ok())
}

/// Reads the bond settings of `o`; `links_key` and `mode_key` are
/// `links`/`bondMode` in a `BondConfig`, `interfaces`/`mode` in the legacy
/// form.
pub fn settings(
    o: &mut Obj<'_>,
    links_key: &'static str,
    mode_key: &'static str,
    d: &mut Diag,
) -> Option<BondSettings> {
    let mut links = Vec::new();
    for (p, n) in o.strings(links_key, d) {
        check_link_name(&n, &p, d);
        if links.contains(&n) {
            d.error(&p, format!("link {n} is listed twice"));
        }
        links.push(n);
    }
    if links.is_empty() {
        d.error(o.path(links_key), "is required (the bond's member links)");
    }
    let mode = choice(o, mode_key, MODES, d);
    if mode.is_none() && !o.has(mode_key) {
        d.error(
            o.path(mode_key),
            format!("is required ({})", MODES.join(", ")),
        );
    }
    let primary = o.string("primary", d);
    if let Some(p) = &primary {
        if !links.contains(p) {
            d.error(
                o.path("primary"),
                format!("{p} is not one of the bond's links"),
            );
        }
    }
    let s = BondSettings {
        links,
        mode: mode.unwrap_or_default(),
        miimon: ms(o, "miimon", d),
        updelay: ms(o, "updelay", d),
        downdelay: ms(o, "downdelay", d),
        use_carrier: o.bool("useCarrier", d),
        xmit_hash_policy: choice(o, "xmitHashPolicy", HASH_POLICIES, d),
        lacp_rate: choice(o, "lacpRate", LACP_RATES, d),
        fail_over_mac: choice(o, "failOverMac", FAIL_OVER_MACS, d),
        primary,
        ad_actor_sys_prio: o
            .uint("adActorSysPrio", u64::from(u16::MAX), d)
            .and_then(|v| u16::try_from(v).ok()),
        resend_igmp: o
            .uint("resendIGMP", 255, d)
            .and_then(|v| u32::try_from(v).ok()),
        packets_per_slave: o
            .uint("packetsPerSlave", 65535, d)
            .and_then(|v| u32::try_from(v).ok()),
        min_links: ms(o, "minLinks", d),
    };
    (!s.mode.is_empty() && !s.links.is_empty()).then_some(s)
}

/// The kernel's number for `value` (its index in `names`: the lists above
/// are in the kernel's order).
pub fn code(names: &[&str], value: &str) -> Option<u8> {
    names
        .iter()
        .position(|n| *n == value)
        .and_then(|i| u8::try_from(i).ok())
}
