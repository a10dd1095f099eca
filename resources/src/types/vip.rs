use crate::config::VipOptions;
use crate::resource::ResourceSpec;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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
    /// This node's health check of the VIP's service: `healthy`,
    /// `failing`, `unknown`; empty without a check.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub health: String,
    /// The check's last result.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub health_result: String,
    /// The last other station heard claiming the VIP while this node held
    /// it, and when (`02:00:0a:05:00:0c at 2026-...`); empty if none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rival: String,
    /// An operator's pin in force on this node (`mctl vip pin --force`):
    /// who, when, and what it is doing; empty without one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pinned: String,
}

impl ResourceSpec for VipStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPStatus";
}

/// This node's health check of a VIP's service
/// (`network/VIPHealthStatus/<ip>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct VipHealthStatus {
    pub ip: String,
    /// What is checked, e.g. `http https://127.0.0.1:6443/readyz`.
    pub check: String,
    /// `unknown` (no result yet), `healthy` or `failing`.
    pub state: String,
    pub healthy: bool,
    /// The last result, e.g. `HTTP 200 in 3 ms` or `connection refused`.
    pub last_result: String,
    /// When the last check ended (RFC 3339).
    #[serde(default)]
    pub last_check: String,
    /// Consecutive successes or failures (by the last result).
    pub streak: u32,
    /// When the state last changed (RFC 3339).
    #[serde(default)]
    pub since: String,
    /// State changes since the check started.
    pub changes: u64,
    /// A holder keeps the VIP this long before handing it over for health.
    pub hold_down_ms: u64,
}

impl VipHealthStatus {
    pub const HEALTHY: &'static str = "healthy";
    pub const FAILING: &'static str = "failing";
    pub const UNKNOWN: &'static str = "unknown";
}

impl ResourceSpec for VipHealthStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPHealthStatus";
}

/// An operator's request that this node stay out of a VIP's election until
/// `until` (`mctl vip forfeit`): a holder hands the VIP over at once
/// (`network/VIPForfeit/<ip>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct VipForfeit {
    pub ip: String,
    /// RFC 3339.
    pub until: String,
}

impl ResourceSpec for VipForfeit {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPForfeit";
}

/// An operator's request, made through this node, that the VIP move to
/// node `to` (`mctl vip move`); `seq` tells a new request from the last
/// one (`network/VIPMove/<ip>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct VipMove {
    pub ip: String,
    /// The node name (as in `VIPStatus.holder`).
    pub to: String,
    pub seq: u64,
    /// RFC 3339.
    pub requested: String,
}

impl ResourceSpec for VipMove {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPMove";
}

/// An operator's break-glass pin of the VIP on this node, made while etcd
/// had no quorum (`mctl vip pin --force`); it ends by itself when etcd
/// answers again, or with `mctl vip unpin` (`network/VIPPin/<ip>`). `seq`
/// tells a new pin from one already run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct VipPin {
    pub ip: String,
    /// Who asked: the client certificate's name and roles.
    pub by: String,
    /// RFC 3339.
    pub at: String,
    pub seq: u64,
}

impl ResourceSpec for VipPin {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPPin";
}
