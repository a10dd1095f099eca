//! A DHCPv4 lease: what an ACK granted, its times, and its copy on disk
//! (re-requested after a restart, INIT-REBOOT).

use super::wire::Reply;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// An infinite lease (RFC 2131: 0xffffffff).
pub const INFINITE: u32 = u32::MAX;
/// A lease file larger than this is not one of ours.
const MAX_FILE: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub server: Ipv4Addr,
    pub server_mac: [u8; 6],
    #[serde(default)]
    pub routers: Vec<Ipv4Addr>,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub mtu: Option<u16>,
    #[serde(default)]
    pub routes: Vec<(Ipv4Net, Ipv4Addr)>,
    pub lease_secs: u32,
    pub t1_secs: u32,
    pub t2_secs: u32,
    /// When the request that got this lease was sent (unix ms): the lease
    /// runs from then, not from the answer (RFC 2131 §4.4.1).
    pub acquired_ms: u64,
}

impl Lease {
    /// The lease an ACK grants for a request sent at `sent_ms`; `None` when
    /// it has no address, server or lease time.
    pub fn from_ack(r: &Reply, sent_ms: u64) -> Option<Lease> {
        let lease_secs = r.lease_secs.filter(|s| *s > 0)?;
        let server = r.server_id?;
        if r.yiaddr.is_unspecified() || r.yiaddr.is_broadcast() || r.yiaddr.is_multicast() {
            return None;
        }
        let prefix = match r.netmask {
            Some(m) => ipnet::ipv4_mask_to_prefix(m).ok()?,
            None => 24,
        };
        let t1 = match lease_secs {
            INFINITE => INFINITE,
            l => r.t1_secs.filter(|t| *t < l).unwrap_or(l / 2),
        };
        let t2 = match lease_secs {
            INFINITE => INFINITE,
            l => r
                .t2_secs
                .filter(|t| *t < l && *t >= t1)
                .unwrap_or((u64::from(l) * 7 / 8) as u32)
                .max(t1),
        };
        Some(Lease {
            address: r.yiaddr,
            prefix,
            server,
            server_mac: r.from_mac,
            routers: r.routers.clone(),
            dns: r.dns.clone(),
            hostname: r.hostname.clone(),
            domain: r.domain.clone(),
            mtu: r.mtu,
            routes: r.routes.clone(),
            lease_secs,
            t1_secs: t1,
            t2_secs: t2,
            acquired_ms: sent_ms,
        })
    }

    fn at(&self, secs: u32) -> u64 {
        if secs == INFINITE {
            return u64::MAX;
        }
        self.acquired_ms.saturating_add(u64::from(secs) * 1000)
    }

    pub fn renew_ms(&self) -> u64 {
        self.at(self.t1_secs)
    }

    pub fn rebind_ms(&self) -> u64 {
        self.at(self.t2_secs)
    }

    pub fn expires_ms(&self) -> u64 {
        self.at(self.lease_secs)
    }

    pub fn cidr(&self) -> Ipv4Net {
        Ipv4Net::new(self.address, self.prefix).unwrap_or_else(|_| Ipv4Net::from(self.address))
    }
}

/// The wall clock in unix ms (leases and their kernel lifetimes count in it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where a link's lease is kept.
pub fn path(state_dir: &Path, link: &str) -> PathBuf {
    state_dir.join("dhcp").join(format!("{link}.json"))
}

/// The saved lease, if any and readable.
pub fn load(file: &Path) -> Option<Lease> {
    let meta = std::fs::metadata(file).ok()?;
    if meta.len() > MAX_FILE {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    serde_json::from_str(&text).ok()
}

/// Saves it (written to a temporary file, then renamed).
pub fn save(file: &Path, lease: &Lease) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(lease).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, file)
}

/// Forgets it (a NAK, a release).
pub fn forget(file: &Path) {
    let _ = std::fs::remove_file(file);
}
