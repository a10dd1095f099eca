//! The `cluster.etcd` section and the `{crt, key}` CA blocks.

use super::model::*;
use super::values::{check_endpoint, check_host_port, parse_cidr};
use super::walk::{Diag, Obj};
use yaml_serde::Value;

/// Flags machined sets itself; overriding them would break membership.
const RESERVED_ETCD_ARGS: &[&str] = &[
    "name",
    "data-dir",
    "initial-cluster",
    "initial-cluster-state",
    "initial-advertise-peer-urls",
    "advertise-client-urls",
    "listen-peer-urls",
    "listen-client-urls",
];

pub(super) fn etcd(cluster: &mut Obj<'_>, d: &mut Diag) -> EtcdConfig {
    let mut o = cluster.child("etcd", d);
    let mut cfg = EtcdConfig {
        ca: ca(&mut o, "ca", d),
        ..Default::default()
    };
    for (p, s) in o.strings("advertisedSubnets", d) {
        if parse_cidr(s.trim_start_matches('!'), &p, d).is_some() {
            cfg.advertised_subnets.push(s);
        }
    }
    let args_path = o.path("extraArgs");
    let mut args = o.child("extraArgs", d);
    if let Some(Value::Mapping(m)) = args.raw() {
        for (k, v) in m {
            let key = k.as_str().unwrap_or_default().to_string();
            let path = format!("{args_path}.{key}");
            let val = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    d.error(&path, "must be a string");
                    continue;
                }
            };
            if RESERVED_ETCD_ARGS.contains(&key.as_str()) {
                d.error(&path, "is set by machined and cannot be overridden");
                continue;
            }
            cfg.extra_args.insert(key, val);
        }
    }
    args.accept_all();
    args.finish(d);
    for (p, s) in o.strings("peers", d) {
        if check_host_port(&s, &p, d) {
            cfg.peers.push(s);
        }
    }
    for (p, s) in o.strings("externalEndpoints", d) {
        check_endpoint(&s, &p, d);
        cfg.external_endpoints.push(s);
    }
    o.finish(d);
    cfg
}

/// A base64 PEM field of a CA block.
fn pem_field(c: &mut Obj<'_>, name: &'static str, d: &mut Diag) -> Option<String> {
    let path = c.path(name);
    match c.string(name, d) {
        None => {
            d.error(&path, "is required (base64 PEM)");
            None
        }
        Some(s) => match machined_pki::unb64(&s) {
            Ok(pem) if pem.contains("-----BEGIN ") => Some(pem),
            Ok(_) => {
                d.error(&path, "is not base64 of a PEM block");
                None
            }
            Err(e) => {
                d.error(&path, format!("is not valid base64 ({e})"));
                None
            }
        },
    }
}

/// A `{crt, key}` CA block (base64 PEM, as Talos writes it). machined
/// issues certificates from it, so the key matters; Talos writes `key: ""`
/// on workers (they get certificates from trustd): accepted with a warning.
pub(super) fn ca(o: &mut Obj<'_>, key: &'static str, d: &mut Diag) -> Option<CaPem> {
    if !o.has(key) {
        o.accept(&[key]);
        return None;
    }
    let mut c = o.child(key, d);
    let crt = pem_field(&mut c, "crt", d);
    let k = if c.get_str_is_empty("key") {
        d.warn(
            &c.path("key"),
            "is empty: without the CA key machined cannot issue this node's certificates",
        );
        Some(String::new())
    } else {
        pem_field(&mut c, "key", d)
    };
    let path = c.path.clone();
    c.finish(d);
    let pair = CaPem { crt: crt?, key: k? };
    let loaded = match pair.issuer() {
        Some(ck) => ck.validate(),
        None => machined_pki::not_after(&pair.crt).map(|_| ()),
    };
    if let Err(e) = loaded {
        d.error(path, format!("does not load: {e}"));
        return None;
    }
    Some(pair)
}
