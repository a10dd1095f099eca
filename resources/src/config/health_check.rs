//! `vip.machined.healthCheck`: an optional check of the service behind a VIP
//! (TCP connect or HTTP(S) GET) that gates this node's candidacy.

use super::fields::{duration_ms, in_range};
use super::walk::{Diag, Obj};
use crate::endpoint::{Endpoint, Host};
use serde::{Deserialize, Serialize};

/// Longest URL or endpoint accepted.
pub const MAX_TARGET_BYTES: usize = 2048;
/// Largest inline CA bundle accepted.
pub const MAX_CA_BYTES: usize = 64 * 1024;

/// What is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Probe {
    /// A TCP connection to `host:port` opens.
    Tcp { endpoint: String },
    /// An HTTP(S) GET answers with the expected status (any 2xx by default).
    Http {
        url: String,
        #[serde(default)]
        insecure_skip_verify: bool,
        /// PEM certificates to verify the server with (else the system's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected_status: Option<u16>,
    },
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Tcp { endpoint } => write!(f, "tcp {endpoint}"),
            Probe::Http { url, .. } => write!(f, "http {url}"),
        }
    }
}

/// The check and its hysteresis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub probe: Probe,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive failures that make a healthy node failing.
    pub fall: u32,
    /// Consecutive successes that make a failing node healthy again.
    pub rise: u32,
    /// A holder keeps the VIP at least this long before handing it over
    /// because its check fails: VIP moves for health are at most one per
    /// hold-down.
    pub hold_down_ms: u64,
}

pub const DEFAULT_INTERVAL_MS: u64 = 1000;
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_FALL: u32 = 3;
pub const DEFAULT_RISE: u32 = 3;
pub const DEFAULT_HOLD_DOWN_MS: u64 = 10_000;

/// Reads `healthCheck` under a VIP's `machined` block.
pub(super) fn health_check(o: &mut Obj<'_>, d: &mut Diag) -> Option<HealthCheck> {
    if !o.has("healthCheck") {
        o.accept(&["healthCheck"]);
        return None;
    }
    let path = o.path("healthCheck");
    let mut h = o.child("healthCheck", d);
    let probe = match (h.has("tcp"), h.has("http")) {
        (true, true) => {
            d.error(&path, "set one of tcp and http, not both");
            h.accept(&["tcp", "http"]);
            None
        }
        (false, false) => {
            d.error(
                &path,
                "needs tcp: {endpoint: HOST:PORT} or http: {url: URL}",
            );
            None
        }
        (true, false) => tcp(&mut h, d),
        (false, true) => http(&mut h, d),
    };
    let mut check = HealthCheck {
        probe: probe.clone().unwrap_or(Probe::Tcp {
            endpoint: String::new(),
        }),
        interval_ms: DEFAULT_INTERVAL_MS,
        timeout_ms: DEFAULT_TIMEOUT_MS,
        fall: DEFAULT_FALL,
        rise: DEFAULT_RISE,
        hold_down_ms: DEFAULT_HOLD_DOWN_MS,
    };
    if let Some(ms) = duration_ms(&mut h, "interval", d) {
        if in_range(h.path("interval"), ms, 100, 3_600_000, "ms", d) {
            check.interval_ms = ms;
        }
    }
    let timeout = duration_ms(&mut h, "timeout", d);
    if let Some(ms) = timeout {
        if in_range(h.path("timeout"), ms, 10, 60_000, "ms", d) {
            check.timeout_ms = ms;
        }
    }
    if timeout.is_none() {
        check.timeout_ms = check.timeout_ms.min(check.interval_ms);
    } else if check.timeout_ms > check.interval_ms {
        d.error(h.path("timeout"), "must not be longer than the interval");
    }
    for (key, slot) in [("fall", &mut check.fall), ("rise", &mut check.rise)] {
        if let Some(n) = h.uint(key, 100, d) {
            if in_range(h.path(key), n, 1, 100, "", d) {
                *slot = n as u32;
            }
        }
    }
    if let Some(ms) = duration_ms(&mut h, "holdDown", d) {
        if in_range(h.path("holdDown"), ms, 0, 3_600_000, "ms", d) {
            check.hold_down_ms = ms;
        }
    }
    h.finish(d);
    probe.map(|_| check)
}

fn tcp(h: &mut Obj<'_>, d: &mut Diag) -> Option<Probe> {
    let mut t = h.child("tcp", d);
    let path = t.path("endpoint");
    let endpoint = t.string("endpoint", d);
    t.finish(d);
    let Some(endpoint) = endpoint else {
        d.error(path, "is required (HOST:PORT)");
        return None;
    };
    match check_endpoint(&endpoint) {
        Ok(()) => Some(Probe::Tcp { endpoint }),
        Err(why) => {
            d.error(path, why);
            None
        }
    }
}

fn http(h: &mut Obj<'_>, d: &mut Diag) -> Option<Probe> {
    let mut t = h.child("http", d);
    let url_path = t.path("url");
    let url = t.string("url", d);
    let insecure = t.bool("insecureSkipVerify", d).unwrap_or(false);
    let ca_path = t.path("ca");
    let ca = t.string("ca", d);
    let status_path = t.path("expectedStatus");
    let status = t.uint("expectedStatus", 599, d);
    t.finish(d);
    let mut ok = true;
    let Some(url) = url else {
        d.error(
            url_path,
            "is required (http://HOST[:PORT]/PATH or https://...)",
        );
        return None;
    };
    let https = match check_url(&url) {
        Ok(https) => https,
        Err(why) => {
            d.error(&url_path, why);
            ok = false;
            false
        }
    };
    if let Some(ca) = &ca {
        if let Err(why) = check_ca(ca) {
            d.error(&ca_path, why);
            ok = false;
        } else if insecure {
            d.error(&ca_path, "set either ca or insecureSkipVerify, not both");
            ok = false;
        } else if !https {
            d.error(&ca_path, "is only used with an https URL");
            ok = false;
        }
    }
    if let Some(s) = status {
        if !(100..=599).contains(&s) {
            d.error(
                &status_path,
                format!("{s} is not an HTTP status (100 to 599)"),
            );
            ok = false;
        }
    }
    ok.then_some(Probe::Http {
        url,
        insecure_skip_verify: insecure,
        ca,
        expected_status: status.map(|s| s as u16),
    })
}

/// `HOST:PORT` with a port from 1 to 65535; IPv6 in brackets (read by
/// [`crate::endpoint`], as every endpoint is).
pub fn check_endpoint(s: &str) -> Result<(), String> {
    if s.len() > MAX_TARGET_BYTES {
        return Err(format!("is longer than {MAX_TARGET_BYTES} bytes"));
    }
    let e = Endpoint::parse(s).map_err(|e| format!("{s:?} {e}"))?;
    if e.scheme.is_some() || e.port.is_none() || s.contains('/') {
        return Err(format!("{s:?} is not HOST:PORT"));
    }
    check_name(&e.host).map_err(|why| format!("{s:?}: {why}"))
}

/// A DNS name's labels: each 1 to 63 characters.
fn check_name(h: &Host) -> Result<(), String> {
    let Host::Name(n) = h else { return Ok(()) };
    if n.split('.').all(|l| !l.is_empty() && l.len() <= 63) {
        Ok(())
    } else {
        Err(format!(
            "host {n:?} is not an address or a DNS name (IPv6 in brackets)"
        ))
    }
}

/// An http or https URL with a host; `Ok(true)` for https.
pub fn check_url(s: &str) -> Result<bool, String> {
    if s.len() > MAX_TARGET_BYTES {
        return Err(format!("is longer than {MAX_TARGET_BYTES} bytes"));
    }
    let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("{s:?} does not start with http:// or https://"));
    };
    if s.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(format!("{s:?} holds spaces or control characters"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("{s:?}: credentials in the URL are not supported"));
    }
    let e = Endpoint::parse(authority).map_err(|e| format!("URL {s:?} {e}"))?;
    check_name(&e.host).map_err(|why| format!("URL {s:?}: {why}"))?;
    Ok(https)
}

fn check_ca(ca: &str) -> Result<(), String> {
    if ca.len() > MAX_CA_BYTES {
        return Err(format!("is longer than {MAX_CA_BYTES} bytes"));
    }
    if !ca.contains("-----BEGIN CERTIFICATE-----") {
        return Err("must hold PEM certificates (-----BEGIN CERTIFICATE-----)".into());
    }
    machined_pki::pem_to_der(ca)
        .map(|_| ())
        .map_err(|e| format!("is not a readable PEM certificate: {e}"))
}
