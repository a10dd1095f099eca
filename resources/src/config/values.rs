//! Readers of single values (addresses, CIDRs, names, endpoints): each
//! records an error naming the field's path and the reason.

use super::model::RouteConfig;
use super::walk::{Diag, Obj};
use crate::endpoint::{Endpoint, EndpointError};
use ipnet::IpNet;
use std::net::IpAddr;
use yaml_serde::Value;

/// An IP address.
pub fn parse_ip(s: &str, path: &str, d: &mut Diag) -> Option<IpAddr> {
    match s.trim().parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            d.error(path, format!("{s:?} is not an IP address"));
            None
        }
    }
}

/// `10.0.0.1/24`; a bare IP means a host address (/32 or /128), as in Talos.
pub fn parse_cidr(s: &str, path: &str, d: &mut Diag) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(IpNet::from(ip));
    }
    d.error(
        path,
        format!("{s:?} is not a valid CIDR (expected e.g. 10.5.0.11/24)"),
    );
    None
}

/// A kernel link name.
pub fn check_link_name(n: &str, path: &str, d: &mut Diag) {
    let ok = !n.is_empty() && n.len() < 16 && !n.contains(['/', ' ', ':']) && n != "." && n != "..";
    if !ok {
        d.error(
            path,
            format!("{n:?} is not a valid link name (1-15 characters, no '/', ':' or spaces)"),
        );
    }
}

/// A DNS hostname (labels of letters, digits and '-').
pub fn check_hostname(h: &str, path: &str, d: &mut Diag) {
    if !valid_hostname(h) {
        d.error(path, format!("{h:?} is not a valid hostname"));
    }
}

/// Whether `h` is a DNS name: labels of 1-63 letters, digits and '-' (not
/// first or last), 253 characters at most.
pub fn valid_hostname(h: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    h.len() <= 253 && h.split('.').all(label_ok)
}

/// An `https://HOST[:PORT]` (or `http://`) endpoint.
pub fn check_endpoint(e: &str, path: &str, d: &mut Diag) {
    if !(e.starts_with("https://") || e.starts_with("http://")) {
        d.error(path, format!("{e:?} must be a URL starting with https://"));
        return;
    }
    if let Err(err) = Endpoint::parse(e) {
        d.error(path, endpoint_error(e, err));
    }
}

/// A `HOST` or `HOST:PORT` (no scheme).
pub fn check_host_port(e: &str, path: &str, d: &mut Diag) -> bool {
    match Endpoint::parse(e) {
        Ok(ep) if ep.scheme.is_none() => true,
        Ok(_) => {
            d.error(
                path,
                format!("{e:?} is not a host or host:port (no scheme)"),
            );
            false
        }
        Err(err) => {
            d.error(path, endpoint_error(e, err));
            false
        }
    }
}

fn endpoint_error(e: &str, err: EndpointError) -> String {
    format!("{e:?} {err}")
}

/// One static route: Talos's legacy shape names the destination `network`,
/// the `LinkConfig` shape `destination`. Unset numbers default to 0.
pub fn route(
    v: &Value,
    path: &str,
    destination_key: &'static str,
    d: &mut Diag,
) -> Option<RouteConfig> {
    let mut o = Obj::new(Some(v), path, d);
    let destination = o
        .string(destination_key, d)
        .and_then(|s| parse_cidr(&s, &o.path(destination_key), d).map(|n| n.trunc()));
    let gateway = o
        .string("gateway", d)
        .and_then(|s| parse_ip(&s, &o.path("gateway"), d));
    let source = o
        .string("source", d)
        .and_then(|s| parse_ip(&s, &o.path("source"), d));
    let metric = o
        .uint("metric", u64::from(u32::MAX), d)
        .and_then(|m| u32::try_from(m).ok())
        .unwrap_or(0);
    o.finish(d);
    let r = RouteConfig {
        destination,
        gateway,
        source,
        metric,
    };
    let family = r.destination_or_default().addr().is_ipv4();
    if r.destination.is_none() && r.gateway.is_none() {
        d.error(path, format!("needs a {destination_key} or a gateway"));
        return None;
    }
    for (key, ip) in [("gateway", r.gateway), ("source", r.source)] {
        let Some(ip) = ip else { continue };
        if ip.is_ipv4() != family {
            d.error(
                format!("{path}.{key}"),
                format!("{ip} is not of the destination's address family"),
            );
            return None;
        }
        if ip.is_unspecified() || ip.is_multicast() {
            d.error(format!("{path}.{key}"), format!("{ip} cannot be a {key}"));
            return None;
        }
    }
    Some(r)
}
