//! What a held lease becomes in the state: its routes (`RouteSpec`) and the
//! link's `DHCPStatus`.

use super::lease::Lease;
use super::runner::Snapshot;
use ipnet::{IpNet, Ipv4Net};
use machined_resources::resource::Timestamp;
use machined_resources::types::{ConfigLayer, DhcpStatus, RouteSpec};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, UNIX_EPOCH};

/// A lease's moment (unix ms); none for an infinite lease's (`u64::MAX`).
fn time(ms: u64) -> Option<Timestamp> {
    (ms != u64::MAX).then(|| Timestamp(UNIX_EPOCH + Duration::from_millis(ms)))
}

/// The routes a lease brings: its classless routes when it has any (RFC
/// 3442: then the router option is ignored), else a default route through
/// its first router; each from the lease's address.
pub fn routes(link: &str, l: &Lease, metric: u32) -> Vec<RouteSpec> {
    let src = Some(IpAddr::V4(l.address));
    let route = |dest: Ipv4Net, gw: Ipv4Addr| RouteSpec {
        link: link.to_string(),
        destination: IpNet::V4(dest),
        gateway: (!gw.is_unspecified()).then_some(IpAddr::V4(gw)),
        source: src,
        metric,
        layer: ConfigLayer::Operator,
    };
    if !l.routes.is_empty() {
        return l.routes.iter().map(|(d, g)| route(*d, *g)).collect();
    }
    l.routers
        .first()
        .map(|gw| route(Ipv4Net::default(), *gw))
        .into_iter()
        .collect()
}

pub fn status(link: &str, s: &Snapshot) -> DhcpStatus {
    let mut st = DhcpStatus {
        link: link.to_string(),
        state: s.state,
        last_error: s.last_error.clone(),
        ..Default::default()
    };
    if let Some(l) = &s.lease {
        st.address = Some(l.cidr());
        st.server = Some(l.server);
        st.routers = l.routers.clone();
        st.dns = l.dns.clone();
        st.hostname = l.hostname.clone().unwrap_or_default();
        st.mtu = l.mtu;
        st.lease_secs = l.lease_secs;
        st.acquired = time(l.acquired_ms);
        st.renew_at = time(l.renew_ms());
        st.rebind_at = time(l.rebind_ms());
        st.expires_at = time(l.expires_ms());
    }
    st
}
