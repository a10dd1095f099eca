use crate::resource::ResourceSpec;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VipOptions {
    /// etcd lease TTL, whole seconds (etcd's unit). The holder drops the
    /// address before the lease can expire on the server.
    pub lease_ttl_secs: u32,
    pub announce: Announce,
    /// Candidates ARP/NDP-probe the holder this often; 0 disables the
    /// dead-holder fast path (then takeover waits for the lease to expire).
    pub holder_probe_ms: u64,
    /// The holder is dead when neither its node address nor the VIP answered
    /// for this long: its lease is revoked so the next candidate takes over.
    pub holder_dead_after_ms: u64,
    /// Before adding the VIP, the new holder listens this long for anyone
    /// answering for it (ARP probe / DAD-style neighbour solicitation).
    #[serde(default = "default_claim_window_ms")]
    pub claim_window_ms: u64,
}

fn default_claim_window_ms() -> u64 {
    10
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
            holder_probe_ms: 50,
            holder_dead_after_ms: 150,
            claim_window_ms: default_claim_window_ms(),
        }
    }
}

/// A VIP this node competes for (`network/VIPSpec/<link>/<ip>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VipSpec {
    pub ip: IpAddr,
    pub link: String,
    pub options: VipOptions,
}

impl VipSpec {
    pub fn id(link: &str, ip: &IpAddr) -> String {
        format!("{link}/{ip}")
    }
}

impl ResourceSpec for VipSpec {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPSpec";
}

/// Who holds a VIP, as this node sees it (`network/VIPStatus/<ip>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct VipStatus {
    pub ip: String,
    pub link: String,
    /// Node name of the holder; empty when nobody holds it.
    pub holder: String,
    /// This node holds it.
    pub holding: bool,
    /// This node is competing for it.
    pub campaigning: bool,
    /// Why not, when not campaigning.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When this node last became holder or last saw the holder change (RFC 3339).
    #[serde(default)]
    pub since: String,
    /// Holder changes this node has seen.
    pub transitions: u64,
    /// When this node last announced the VIP (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_announce: String,
    /// Announcement frames sent since this node added the VIP.
    #[serde(default)]
    pub announced_frames: u64,
}

impl ResourceSpec for VipStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPStatus";
}
