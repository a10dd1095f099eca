use crate::config::VipOptions;
use crate::resource::{ResourceSpec, Timestamp};
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
    /// The VIP group it belongs to (its members move together); empty for
    /// a VIP alone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Node name of the holder; empty when nobody holds it.
    pub holder: String,
    /// This node holds it.
    pub holding: bool,
    /// This node is competing for it.
    pub campaigning: bool,
    /// Why not, when not campaigning.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When this node last became holder or last saw the holder change.
    #[serde(default)]
    pub since: Timestamp,
    /// Holder changes this node has seen.
    pub transitions: u64,
    /// When this node last announced the VIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_announce: Option<Timestamp>,
    /// Announcement frames sent since this node added the VIP.
    #[serde(default)]
    pub announced_frames: u64,
    /// This node's health check of the VIP's service; none without a
    /// check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthState>,
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
    pub state: HealthState,
    pub healthy: bool,
    /// The last result, e.g. `HTTP 200 in 3 ms` or `connection refused`.
    pub last_result: String,
    /// When the last check ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<Timestamp>,
    /// Consecutive successes or failures (by the last result).
    pub streak: u32,
    /// When the state last changed.
    #[serde(default)]
    pub since: Timestamp,
    /// State changes since the check started.
    pub changes: u64,
    /// A holder keeps the VIP this long before handing it over for health.
    pub hold_down_ms: u64,
}

/// What a VIP's health check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// No result yet (just added, or just started).
    #[default]
    Unknown,
    Healthy,
    Failing,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Healthy => "healthy",
            HealthState::Failing => "failing",
        }
    }
}

impl std::fmt::Display for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    pub until: Timestamp,
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
    pub requested: Timestamp,
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
    pub at: Timestamp,
    pub seq: u64,
}

impl ResourceSpec for VipPin {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPPin";
}
