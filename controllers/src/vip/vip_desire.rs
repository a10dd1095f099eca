//! What the VIP controller wants of one VIP's runner, from the resources:
//! whether it may campaign and why not, its etcd, its link, its check's
//! verdict, its priority, and an operator's forfeit.

use super::runner::{Desire, Handover, Health, MemberLink, Pin, Verdict};
use crate::{ControllerError, Ctx};
use machined_resources::resource::rfc3339;
use machined_resources::types::{
    DhcpSpec, DhcpStatus, EtcdCerts, EtcdSpec, EtcdStatus, HealthState, LinkStatus, VipForfeit,
    VipHealthStatus, VipPin, VipSpec,
};
use std::time::{Duration, SystemTime};

/// The start of the ineligibility reason of a forfeit.
pub const FORFEITED: &str = "forfeited until";

/// The ineligibility reason of a machined that is stopping.
pub const SHUTTING_DOWN: &str = "shutting down";

/// Whether and how a runner may campaign.
pub fn desire(ctx: &Ctx, spec: &VipSpec, stopping: bool) -> Result<Desire, ControllerError> {
    let mut d = Desire::default();
    let etcd_spec = ctx.get::<EtcdSpec>(EtcdSpec::ID)?.map(|s| s.spec);
    let etcd = ctx.get::<EtcdStatus>(EtcdStatus::ID)?.map(|s| s.spec);
    let link = ctx.get::<LinkStatus>(&spec.link)?.map(|s| s.spec);
    // On a DHCP link the node's address is the lease's: no lease, no VIP.
    let no_lease = match ctx.get::<DhcpSpec>(&spec.link)? {
        None => None,
        Some(_) => {
            let st = ctx.get::<DhcpStatus>(&spec.link)?.map(|s| s.spec);
            match st {
                Some(st) if st.address.is_some() => None,
                Some(st) => Some(st.state.to_string()),
                None => Some("starting".to_string()),
            }
        }
    };
    if let Some(l) = &link {
        d.link_index = l.index;
        d.mac = l.hardware_addr.mac();
    }
    if let Some(es) = &etcd_spec {
        d.node = es.name.clone();
        d.node_ip = es.advertise_ip;
        d.tls = ctx
            .get::<EtcdCerts>(EtcdCerts::ID)?
            .filter(|_| es.tls)
            .map(|c| crate::etcd::Tls::client(&c.spec));
        d.endpoints = if es.external_endpoints.is_empty() {
            let local = es.local_client_url();
            d.local_endpoint = Some(local.clone());
            // Every other member too, so a dead local member stalls nothing.
            // (As last listed while etcd cannot list them: a pin looks
            // through every member.)
            let mut all = vec![local];
            all.extend(etcd.iter().flat_map(|e| e.peer_client_urls()));
            all
        } else {
            es.external_endpoints.clone()
        };
    }
    let forfeit = forfeited_until(ctx, spec)?;
    d.reason = if stopping {
        "VIP removed from the config".into()
    } else if let Some(until) = forfeit {
        format!("{FORFEITED} {} (mctl vip forfeit)", rfc3339::format(until))
    } else if etcd_spec.is_none() {
        "not a control plane".into()
    } else if !link.as_ref().is_some_and(|l| l.is_operational()) {
        format!("link {} is not up", spec.link)
    } else if let Some(state) = &no_lease {
        format!("no DHCP lease on {} ({state})", spec.link)
    } else if !etcd.as_ref().is_some_and(|e| e.is_running()) {
        "etcd is not running".into()
    } else {
        String::new()
    };
    d.eligible = d.reason.is_empty();
    // A pin needs the link, nothing of etcd (it is for when etcd cannot
    // decide); it ends when the VIP leaves the config.
    let link_up = link.as_ref().is_some_and(|l| l.is_operational());
    d.pin = match ctx.get::<VipPin>(&spec.ip.to_string())? {
        Some(p) if !stopping && link_up && etcd_spec.is_some() && no_lease.is_none() => Some(Pin {
            by: p.spec.by,
            at: p.spec.at.to_string(),
            seq: p.spec.seq,
        }),
        _ => None,
    };
    d.health = health(ctx, spec)?;
    d.handover = Handover {
        priority: spec.options.priority,
        preempt_delay: Duration::from_millis(spec.options.preempt_delay_ms),
    };
    Ok(d)
}

/// Whether and how a group's runner may campaign: as its lead, with every
/// member's link; not while any member may not (its link down, say, or
/// forfeited); pinned when any member is.
pub fn group_desire(
    ctx: &Ctx,
    specs: &[VipSpec],
    stopping: bool,
) -> Result<Desire, ControllerError> {
    let mut group: Option<Desire> = None;
    for spec in specs {
        let d = desire(ctx, spec, stopping)?;
        let link = MemberLink {
            link_index: d.link_index,
            mac: d.mac,
        };
        let Some(g) = group.as_mut() else {
            group = Some(Desire {
                members: vec![link],
                ..d
            });
            continue;
        };
        g.members.push(link);
        if g.eligible && !d.eligible {
            g.eligible = false;
            g.reason = format!("{} (VIP {} of the group)", d.reason, spec.ip);
        }
        if d.pin.as_ref().map(|p| p.seq) > g.pin.as_ref().map(|p| p.seq) {
            g.pin = d.pin;
        }
    }
    Ok(group.unwrap_or_default())
}

/// When the first forfeit of a VIP of a group that has not ended ends.
pub fn group_forfeited_until(
    ctx: &Ctx,
    specs: &[VipSpec],
) -> Result<Option<SystemTime>, ControllerError> {
    let mut first: Option<SystemTime> = None;
    for spec in specs {
        if let Some(until) = forfeited_until(ctx, spec)? {
            first = Some(first.map_or(until, |f| f.min(until)));
        }
    }
    Ok(first)
}

/// When an operator's forfeit of this VIP ends, if it has not yet.
pub fn forfeited_until(ctx: &Ctx, spec: &VipSpec) -> Result<Option<SystemTime>, ControllerError> {
    let f = ctx.get::<VipForfeit>(&spec.ip.to_string())?.map(|f| f.spec);
    Ok(f.map(|f| f.until.0)
        .filter(|until| *until > SystemTime::now()))
}

/// The check's verdict (none without a check).
fn health(ctx: &Ctx, spec: &VipSpec) -> Result<Health, ControllerError> {
    let Some(check) = &spec.options.health_check else {
        return Ok(Health::default());
    };
    let st = ctx
        .get::<VipHealthStatus>(&spec.ip.to_string())?
        .map(|s| s.spec);
    let fallback_ms = (check.interval_ms + check.timeout_ms).clamp(1_000, 10_000);
    let verdict = match st {
        Some(s) if s.healthy => Verdict::Healthy,
        Some(s) if s.state == HealthState::Failing => Verdict::Failing,
        _ => Verdict::Unknown,
    };
    Ok(Health {
        verdict,
        hold_down: Duration::from_millis(check.hold_down_ms),
        fallback_after: Duration::from_millis(fallback_ms),
    })
}

/// A spec as its election runner sees it: a changed health check or
/// priority is taken without restarting the runner (and so without letting
/// go of the VIP).
pub fn election_part(spec: &VipSpec) -> VipSpec {
    let mut s = spec.clone();
    s.options.health_check = None;
    s.options.priority = 0;
    s.options.preempt_delay_ms = 0;
    s
}
